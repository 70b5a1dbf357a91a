"""``fusecli train``: train a model of the zoo from a TOML config."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fusecli.cli.options import Settings


@click.command("train")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value (dotted keys, TOML values), e.g. --set steps=500 --set optim.lr=1e-3.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run folder (default: the config's 'out').")
@click.option("--resume", is_flag=True, help="Continue the run in the run folder from its last checkpoint, exactly.")
@click.option("--device", help="cpu, cuda, mps or auto (default: the config's).")
@click.option("--plot", "plot_run", type=click.Path(exists=True, path_type=Path),
              help="Draw RUN/log.jsonl's loss and validation curves to RUN/curves.png and exit.")
@click.pass_obj
def command(settings: Settings, config: Path | None, overrides: tuple[str, ...], out: Path | None, resume: bool,
            device: str | None, plot_run: Path | None) -> None:
    """Train a fusion model (MoE-Fusion, all-in-one MoE-DiT, autoencoder) on folders of real images.

    \b
    CONFIG is a TOML file (examples/train/*.toml); run folder gets log.jsonl, config.json,
    checkpoints/{last,best}.safetensors (usable with `fusecli fuse --model PATH`).
    Data parallel: torchrun --nproc_per_node 2 -m fusecli train CONFIG
    """
    if plot_run is not None:
        from fusecli.train.plot import plot_run as draw

        click.echo(f"wrote {draw(plot_run)}")
        return
    if config is None:
        raise click.UsageError("give a CONFIG.toml (or --plot RUN)")
    from fusecli.train import load_config, train

    extra = list(overrides) + ([f"out={json.dumps(str(out.resolve()))}"] if out else [])
    extra += [f"device={json.dumps(device)}"] if device else []
    cfg = load_config(config, extra)
    from fusecli.cli.progress import progress_bar  # rich: imported when needed (start-up time)

    with progress_bar(cfg.steps, f"training {cfg.name}", quiet=settings.quiet, status=True) as advance:
        shown = 0  # a resumed run starts the bar at its checkpoint's step

        def on_step(step: int, loss: float) -> None:
            nonlocal shown
            advance(step - shown, status=f"loss {loss:.4f}")
            shown = step

        result = train(cfg, resume=resume, on_step=on_step)
    best = f", best validation {cfg.validation.metric} {result.best:.4f}" if result.best is not None else ""
    click.echo(f"trained {cfg.name} to step {result.step} in {result.seconds:.0f} s (last loss {result.loss:.4f}{best})")
    click.echo(f"weights: {result.run / 'checkpoints' / 'best.safetensors'}  (log: {result.run / 'log.jsonl'})")
