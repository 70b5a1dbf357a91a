"""``fusecli metrics``: score fused images with the standard fusion metrics."""

from __future__ import annotations

import click

from .pending import not_implemented


@click.command("metrics", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args) -> None:
    """Score fused images (EN, SD, SF, AG, MI, VIF, Qabf, SSIM, MEF-SSIM…) with presets that
    reproduce the public toolboxes' numbers. Not implemented yet."""
    not_implemented("metrics")
