"""``fusecli train``: train a model of the zoo from a TOML config."""

from __future__ import annotations

import click

from .pending import not_implemented


@click.command("train", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args) -> None:
    """Train a fusion model (MoE-Fusion, all-in-one MoE-DiT) on folders of real images
    from a TOML config, with validation, checkpoints and exact resume. Not implemented yet."""
    not_implemented("train")
