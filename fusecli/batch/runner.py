"""Running many independent items (images, pairs, stacks) with resume and failure isolation.

A batch never stops for one bad item: each failure is recorded with its message and the rest
still run. Items whose outputs already exist are skipped unless ``overwrite``, which makes an
interrupted batch resumable (outputs are written atomically, so a file that exists is whole).
``jobs > 1`` uses worker processes; ``work`` must then be picklable (a module-level function
or a ``functools.partial`` of one).
"""

from __future__ import annotations

import glob
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import zlib
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generic, Iterable, Sequence, TypeVar

from fusecli.errors import FusecliError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class BatchItem(Generic[T]):
    """One unit of work: a display name, its payload and the files it will produce."""

    name: str
    payload: T
    outputs: tuple[Path, ...] = ()

    def done(self) -> bool:
        return bool(self.outputs) and all(p.exists() for p in self.outputs)


@dataclass
class BatchReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def process_pool(jobs: int) -> ProcessPoolExecutor:
    """Worker processes started by a fork server, not plain ``fork``: forking a process whose
    OpenCV/torch thread pools are running can deadlock the child. Each worker ends itself when
    the process that made the pool is gone (:func:`_end_with`), however that process ended."""
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_end_with, initargs=(os.getpid(),))


WATCH_SECONDS = 0.5  # how often a worker checks that the batch's process is alive


def _end_with(owner: int) -> None:
    """In a worker: exit as soon as process ``owner`` (the batch's) is gone. Its parent is the fork
    server, not ``owner``, so the parent-death signal alone (Linux) does not cover a killed owner;
    a daemon thread polls ``owner`` as well."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the fork server's end ends us
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # the pid now belongs to another user's process: ours is gone
                os._exit(1)

    threading.Thread(target=watch, name="fusecli-owner-watch", daemon=True).start()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Interrupted: drop the queued items and end the workers now, rather than wait for their items.
    (``ProcessPoolExecutor`` keeps its processes in ``_processes``; it has no public way to end them.)"""
    pool.shutdown(wait=False, cancel_futures=True)
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.join(timeout=5)


def remove_stale_temporaries(items: Sequence["BatchItem"]) -> int:
    """Remove the temporary files an interrupted run left beside the items' outputs (atomic writes
    name them ``.NAME.*.tmp``, :func:`fusecli.imaging.write_bytes_atomic`); returns how many."""
    removed = 0
    for item in items:
        for output in item.outputs:
            if output.parent.is_dir():
                for stale in output.parent.glob(f".{glob.escape(output.name)}.*.tmp"):
                    try:
                        stale.unlink()
                        removed += 1
                    except OSError:
                        pass
    return removed


def shard_of(name: str, count: int) -> int:
    """The shard (1..``count``) that item ``name`` belongs to: ``crc32(name as UTF-8) mod count + 1``.
    Stable by name alone (not by order, folder listing, machine or ``--jobs``), so N machines each
    running one shard together do exactly what one machine does, and each shard resumes alone."""
    return zlib.crc32(name.encode("utf-8")) % count + 1


def select_shard(items: Sequence[T], shard: tuple[int, int] | None, name: Callable[[T], str] = lambda item: item.name) -> list[T]:
    """The ``items`` of shard ``(k, n)`` (all of them for None); ``name``: an item's name."""
    if shard is None:
        return list(items)
    k, n = shard
    if not 1 <= k <= n:
        raise ValueError(f"shard {k}/{n}: expected 1 <= K <= N")
    return [item for item in items if shard_of(name(item), n) == k]


def _run_one(work: Callable[[T], object], payload: T) -> tuple[bool, str]:
    try:
        work(payload)
        return True, ""
    except FusecliError as exc:
        return False, str(exc)
    except Exception as exc:  # one broken item must not stop the batch
        log.debug("item failed:\n%s", traceback.format_exc())
        return False, f"{type(exc).__name__}: {exc}"


def run_batch(
    items: Sequence[BatchItem[T]],
    work: Callable[[T], object],
    *,
    jobs: int = 1,
    overwrite: bool = False,
    on_progress: Callable[[str, bool], None] | None = None,
) -> BatchReport:
    """Run ``work(item.payload)`` for each item; returns what was done, skipped, failed.

    ``on_progress(name, ok)`` is called once per finished or skipped item (for progress bars).
    """
    report = BatchReport()
    if remove_stale_temporaries(items):
        log.info("removed temporary files an interrupted run left")
    todo: list[BatchItem[T]] = []
    for item in items:
        if not overwrite and item.done():
            report.skipped.append(item.name)
            if on_progress:
                on_progress(item.name, True)
        else:
            todo.append(item)

    def record(item: BatchItem[T], ok: bool, message: str) -> None:
        if ok:
            report.done.append(item.name)
        else:
            report.failed.append((item.name, message))
        if on_progress:
            on_progress(item.name, ok)

    if jobs <= 1 or len(todo) <= 1:
        for item in todo:
            record(item, *_run_one(work, item.payload))
        return report

    pool = process_pool(jobs)
    try:
        pending: dict[Future, BatchItem[T]] = {}
        queue: Iterable[BatchItem[T]] = iter(todo)
        # Keep a bounded number of items in flight so Ctrl-C stops promptly.
        for item in queue:
            pending[pool.submit(_run_one, work, item.payload)] = item
            if len(pending) >= 2 * jobs:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                item = pending.pop(future)
                try:
                    record(item, *future.result())
                except Exception as exc:  # a worker died (e.g. out of memory)
                    record(item, False, f"worker failed: {exc}")
                nxt = next(queue, None)  # type: ignore[call-overload]
                if nxt is not None:
                    pending[pool.submit(_run_one, work, nxt.payload)] = nxt
    except BaseException:  # interrupted (Ctrl-C, SIGTERM) or failed: no worker left behind
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return report
