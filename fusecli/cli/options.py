"""Option decorators shared by the subcommands, so every command spells them the same way."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import click

F = Callable


@dataclass
class Settings:
    """Global flags from the ``fusecli`` group, available as ``ctx.obj``."""

    verbose: bool = False
    quiet: bool = False


pass_settings = click.make_pass_decorator(Settings, ensure=True)


def _positive_jobs(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value < 0:
        raise click.BadParameter("must be 0 (all cores) or a positive number")
    return value or (os.cpu_count() or 1)


def device_option(f: F) -> F:
    return click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda", "mps"], case_sensitive=False),
        default="auto",
        show_default=True,
        help="Where models run; auto picks CUDA, then MPS, then CPU.",
    )(f)


def seed_option(f: F) -> F:
    return click.option("--seed", type=int, default=0, show_default=True, help="Random seed; same seed, same bytes.")(f)


def overwrite_option(f: F) -> F:
    return click.option(
        "--overwrite",
        is_flag=True,
        help="Replace existing outputs (input files are never replaced). Without it, finished outputs are kept and skipped.",
    )(f)


def jobs_option(f: F) -> F:
    return click.option(
        "-j",
        "--jobs",
        type=int,
        default=1,
        show_default=True,
        callback=_positive_jobs,
        help="Parallel worker processes for folders; 0 uses every core.",
    )(f)


def output_option(help_text: str, required: bool = True) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        return click.option(
            "-o",
            "--output",
            "--out",
            "output",
            type=click.Path(dir_okay=True, file_okay=True),
            required=required,
            help=help_text,
        )(f)

    return decorate


def bit_depth_option(f: F) -> F:
    return click.option(
        "--bit-depth",
        type=click.Choice(["8", "16", "32"]),
        default=None,
        help="Output bit depth (32 = float TIFF). Default: follow the input.",
    )(f)
