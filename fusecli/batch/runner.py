"""Running many independent items (images, pairs, stacks) with resume and failure isolation.

A batch never stops for one bad item: each failure is recorded with its message and the rest
still run. Items whose outputs already exist are skipped unless ``overwrite``, which makes an
interrupted batch resumable (outputs are written atomically, so a file that exists is whole).
``jobs > 1`` uses worker processes; ``work`` must then be picklable (a module-level function
or a ``functools.partial`` of one).
"""

from __future__ import annotations

import logging
import multiprocessing
import traceback
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
    OpenCV/torch thread pools are running can deadlock the child."""
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("forkserver"))


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

    with process_pool(jobs) as pool:
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
    return report
