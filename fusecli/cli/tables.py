"""Printing rich tables: at the terminal's width on a terminal, at their natural width in pipes.

Why: rich assumes 80 columns when stdout is not a terminal, and squeezes a wide table into
ellipses ("91.8…", "training-fr…") in exactly the files and logs people keep.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

PIPE_WIDTH = 400  # wide enough for any table fusecli prints; rows are not padded to it


def print_table(table: Table, min_width: int | None = None) -> None:
    """Print ``table`` to stdout; ``min_width``: at least this wide even on a narrow terminal."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(PIPE_WIDTH, min_width or 0))
    elif min_width:
        console = Console(width=max(console.width, min_width))
    console.print(table)
