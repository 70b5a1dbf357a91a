"""``fusecli fuse``: fuse IR+visible pairs, exposure brackets or focus stacks."""

from __future__ import annotations

import click

from .pending import not_implemented


@click.command("fuse", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args) -> None:
    """Fuse several images of one scene into one (VIF, MEF, MFF), single items or whole
    folders, with a learned model or a training-free method. Not implemented yet."""
    not_implemented("fuse")
