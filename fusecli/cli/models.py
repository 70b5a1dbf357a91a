"""``fusecli models``: list the model zoo and show a model's config and provenance."""

from __future__ import annotations

import click

from .pending import not_implemented


@click.command("models", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args) -> None:
    """List the fusion models and methods (task, parameters, weights present) or show one.
    Not implemented yet."""
    not_implemented("models")
