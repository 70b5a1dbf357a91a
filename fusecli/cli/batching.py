"""Running a batch from the CLI: progress bar, one line per failure, summary, exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import click

from fusecli.cli.options import Settings

if TYPE_CHECKING:
    from fusecli.batch import BatchItem


def run_batch_cli(
    settings: Settings,
    items: Sequence[BatchItem],
    work: Callable,
    *,
    jobs: int,
    overwrite: bool,
    description: str,
    dry_run: bool = False,
) -> int:
    """Run ``items`` with a progress bar and print a summary; returns the exit code."""
    from fusecli.batch import run_batch  # imported here: single-item commands start faster without
    from fusecli.cli.progress import progress_bar  # multiprocessing and rich
    if dry_run:
        for item in items:
            state = "skip (done)" if item.done() and not overwrite else "run"
            click.echo(f"{state:12s} {item.name} -> {', '.join(str(p) for p in item.outputs)}")
        return 0
    with progress_bar(len(items), description, quiet=settings.quiet) as advance:
        report = run_batch(items, work, jobs=jobs, overwrite=overwrite, on_progress=lambda n, ok: advance())
    for name, message in report.failed:
        click.secho(f"failed: {name}: {message}", err=True, fg="red")
    if not settings.quiet:
        parts = [f"{len(report.done)} done"]
        if report.skipped:
            parts.append(f"{len(report.skipped)} already done (skipped; --overwrite to redo)")
        if report.failed:
            parts.append(f"{len(report.failed)} failed")
        click.echo(f"{description}: " + ", ".join(parts), err=True)
    return report.exit_code
