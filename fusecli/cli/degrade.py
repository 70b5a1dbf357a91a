"""``fusecli degrade``: build degraded training/test pairs with text prompts."""

from __future__ import annotations

import click

from .pending import not_implemented


@click.command("degrade", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args) -> None:
    """Make realistic degraded inputs (rain, haze, snow, noise, blur, low light, JPEG,
    IR stripes…) with a prompt saying what to fix (MMAIF's pipeline). Not implemented yet."""
    not_implemented("degrade")
