"""Option decorators shared by the subcommands, so every command spells them the same way."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import click

from fusecli.imaging.infrared import IR_RANGES

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


def quality_option(f: F) -> F:
    return click.option(
        "--quality",
        type=click.IntRange(1, 100),
        default=None,
        help="JPEG / WebP output quality. Default: JPEG 95 (4:4:4 chroma), WebP lossless.",
    )(f)


def ir_range_option(f: F) -> F:
    return click.option(
        "--ir-range",
        type=click.Choice(IR_RANGES),
        default="auto",
        show_default=True,
        help="VIF infrared frames: auto stretches raw 16-bit camera counts (a gray 16-bit frame whose 0.1..99.9th "
        "percentiles span under a quarter of the scale) to those percentiles, as the camera's gain control would; "
        "stored keeps them.",
    )(f)


def _read_ir_warp(ctx: click.Context, param: click.Parameter, value: str | None):
    """``--ir-warp FILE|auto`` -> :class:`fusecli.geometry.registration.IrWarp`, or ``"auto"`` (a bad
    file: one usage error, before any work)."""
    if value is None:
        return None
    from fusecli.errors import FusecliError
    from fusecli.geometry.registration import AUTO, read_warp

    if value == AUTO:
        return AUTO
    try:
        return read_warp(value)
    except FusecliError as exc:
        raise click.BadParameter(str(exc)) from None


def ir_warp_option(f: F) -> F:
    return click.option(
        "--ir-warp",
        callback=_read_ir_warp,
        metavar="FILE|auto",
        help="VIF from your own camera rig: warp each infrared frame onto its visible frame and keep the part both "
        "see. FILE: a 3x3 homography (or 2x3 affine) from infrared to visible pixels, or rows of "
        "'x_ir y_ir x_vis y_vis' point pairs (3+). auto: estimate it from each pair's edges (scale, roll, shift; "
        "a pair whose edges do not match is refused).",
    )(f)


def _extension(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--ext``: an image extension fusecli writes, without the dot (checked before any work)."""
    if value is None:
        return None
    from fusecli.imaging import IMAGE_EXTENSIONS

    ext = value.lower().lstrip(".")
    if "." + ext not in IMAGE_EXTENSIONS:
        raise click.BadParameter(f"{value!r} is not an image extension; use one of {', '.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)}")
    return ext


def ext_option(help_text: str) -> Callable[[F], F]:
    return click.option("--ext", default=None, callback=_extension, help=help_text)


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """``--shard K/N`` -> ``(K, N)``, 1 <= K <= N."""
    if value is None:
        return None
    k, sep, n = value.partition("/")
    try:
        shard = (int(k), int(n))
    except ValueError:
        shard = None
    if not sep or shard is None or not 1 <= shard[0] <= shard[1]:
        raise click.BadParameter(f"expected K/N with 1 <= K <= N (e.g. 2/8), got {value!r}")
    return shard


def shard_option(f: F) -> F:
    return click.option(
        "--shard",
        metavar="K/N",
        callback=_shard,
        help="Folders: do only shard K of N (items by name: crc32(name) mod N + 1), to split a batch over N machines "
        "or a job array; the N shards together do what one unsharded run does, and each resumes alone.",
    )(f)


class GreedyOptionsCommand(click.Command):
    """Lets options such as ``--sources A B C`` take several values, as users type them.

    Values after such an option (until the next option) are rewritten to repeated options
    before click parses them.
    """

    greedy: tuple[str, ...] = ()

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            out.append(arg)
            i += 1
            if arg in self.greedy:
                first = True
                while i < len(args) and (first or not args[i].startswith("-")):
                    if not first:
                        out.append(arg)
                    out.append(args[i])
                    i += 1
                    first = False
        return super().parse_args(ctx, out)


def greedy_command(*options: str) -> type[click.Command]:
    """A command class whose ``options`` each take every value up to the next option."""
    return type("GreedyOptionsCommand", (GreedyOptionsCommand,), {"greedy": options})
