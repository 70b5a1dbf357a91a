"""Progress display: a rich bar on a terminal, silence in pipes, logs and with ``-q``."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

stderr_console = Console(stderr=True)


class RateColumn(ProgressColumn):
    """Items per second (or seconds per item when slow)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-- it/s", style="progress.data.speed")
        text = f"{speed:.2f} it/s" if speed >= 1 else f"{1 / speed:.2f} s/it"
        return Text(text, style="progress.data.speed")


def progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, description: str, *, quiet: bool = False, status: bool = False) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, status=None)``; shows items, rate and ETA only on an interactive terminal.

    ``status``: add a column with a free text (e.g. the current loss) set by ``advance``.
    """
    if not progress_enabled(quiet) or total <= 0:
        yield lambda n=1, status=None: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ) + ((TextColumn("{task.fields[status]}"),) if status else ())
    with Progress(*columns, console=stderr_console) as progress:
        task = progress.add_task(description, total=total, status="")

        def advance(n: int = 1, status: str | None = None) -> None:
            progress.update(task, advance=n, **({"status": status} if status is not None else {}))

        yield advance


@contextmanager
def working(description: str, *, quiet: bool = False) -> Iterator[None]:
    """A spinner with the elapsed time while one long job runs (a deep 24 MP focus stack takes
    10 s, a network on a large image minutes); on an interactive terminal only, gone when done."""
    if not progress_enabled(quiet):
        yield
        return
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn(), console=stderr_console, transient=True) as progress:
        progress.add_task(description, total=None)
        yield
