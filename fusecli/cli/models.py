"""``fusecli models``: list the model zoo, or show one model's config and provenance."""

from __future__ import annotations

import json

import click


def _size(num_bytes: int | None) -> str:
    if num_bytes is None:
        return "-"
    return f"{num_bytes / 1e6:.1f} MB" if num_bytes >= 1e5 else f"{num_bytes / 1e3:.0f} kB"


def _params(count: int | None) -> str:
    if count is None:
        return "-"
    return f"{count / 1e6:.2f} M" if count >= 1e5 else f"{count / 1e3:.1f} k"


@click.group("models", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """List the fusion models and training-free methods, or show one (`models show NAME`).

    The listing gives each name's kind, tasks, parameter count, weights file size and
    whether its weights are present.
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.markup import escape
    from rich.table import Table

    from fusecli.cli.tables import print_table
    from fusecli.models.weights import CATALOG, describe

    rows = [describe(CATALOG.get(name)) for name in CATALOG]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="fusecli models")
    for column in ("name", "kind", "tasks", "params", "size", "weights", "description"):
        table.add_column(column, no_wrap=column != "description")
    for row in rows:
        if row["kind"] == "training-free":
            present = "built in"
        else:
            present = "[green]present[/]" if row["weights"] else "[red]missing[/]"
        table.add_row(
            escape(row["name"]), row["kind"], ", ".join(row["tasks"]) or "-", _params(row["parameters"]), _size(row["size_bytes"]), present, escape(row["description"])
        )
    print_table(table)


@command.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print the config and provenance of NAME (a zoo name or a weights file)."""
    from pathlib import Path

    from fusecli.models.base import config_to_dict
    from fusecli.models.weights import CATALOG, build_entry, describe, read_metadata, weights_path

    if Path(name).is_file():
        meta = read_metadata(name)
        info: dict = {"weights": name, **meta}
    else:
        entry = CATALOG.get(name)
        info = describe(entry)
        path = weights_path(entry)
        if path is not None:
            info.update(read_metadata(path))
        elif entry.arch is not None:
            info["arch"] = entry.arch
            info["config"] = config_to_dict(build_entry(entry.name).config)
            info["provenance"] = "no weights shipped: this is the untrained default config"
    vocabulary = info.get("config", {}).get("text", {}).get("vocabulary") if isinstance(info.get("config"), dict) else None
    if vocabulary:
        info["config"]["text"]["vocabulary"] = f"<{len(vocabulary)} words>"
    click.echo(json.dumps(info, indent=2, default=str))


@command.command("export")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--half", is_flag=True, help="Store float16 tensors (half the size; loaded back as float32).")
@click.option("--overwrite", is_flag=True, help="Replace TARGET if it exists.")
def export(source: str, target: str, half: bool, overwrite: bool) -> None:
    """Copy a training checkpoint SOURCE to a weights file TARGET (config + provenance kept).

    Put it in weights/ (or $FUSECLI_WEIGHTS) as NAME.safetensors to make it the zoo's NAME.
    """
    from fusecli.models.weights import export_weights

    path = export_weights(source, target, half=half, overwrite=overwrite)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
