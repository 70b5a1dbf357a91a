"""``fusecli colorize``: put the colour of a source image back into a gray fused image."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from fusecli.cli.batching import run_batch_cli
from fusecli.cli.options import Settings, bit_depth_option, ext_option, jobs_option, output_option, overwrite_option, pass_settings, quality_option


def _colorize_pair(paths: tuple[Path, Path, Path], *, resize: bool, denoise: bool, bit_depth: int | None, quality: int | None, overwrite: bool) -> None:
    from fusecli.imaging.color import colorize_file

    fused, color, out = paths
    colorize_file(fused, color, out, resize=resize, denoise=denoise, bit_depth=bit_depth, quality=quality, overwrite=overwrite)


@click.command("colorize")
@click.argument("fused", type=click.Path(exists=True, path_type=Path))
@click.argument("color_source", type=click.Path(exists=True, path_type=Path))
@output_option("Output image, or output folder when FUSED is a folder.")
@click.option("--resize", is_flag=True, help="Resample the colour source to the fused image's size instead of failing.")
@click.option("--denoise", is_flag=True, help="Smooth the colour source's colour noise along the fused image's edges (a noisy visible image).")
@ext_option("Output extension in folder mode (png, jpg, tif, webp). Default: the fused file's.")
@bit_depth_option
@quality_option
@overwrite_option
@jobs_option
@pass_settings
def command(settings: Settings, fused, color_source, output, resize, denoise, ext, bit_depth, quality, overwrite, jobs) -> None:
    """Restore colour: FUSED luminance + COLOR_SOURCE chroma (YCbCr, BT.601).

    The colour source (e.g. the visible image of a VIF pair) is converted to YCbCr, its Y
    is replaced by the fused image, and the result converted back to RGB (MoE-Fusion's
    colour restoration). Give two files, or two folders matched by file name.

    \b
    Examples:
      fusecli colorize fused_gray.png visible.jpg -o fused_color.png
      fusecli colorize fused/ visible/ -o fused_color/ --jobs 2
    """
    from fusecli.errors import InputMismatchError
    from fusecli.imaging import output_suffix

    depth = int(bit_depth) if bit_depth else None
    output = Path(output)
    if fused.is_dir() != color_source.is_dir():
        raise InputMismatchError("FUSED and COLOR_SOURCE must both be files or both be folders")
    if not fused.is_dir():
        if output.is_dir():
            output = output / (fused.stem + output_suffix(fused))
        _colorize_pair((fused, color_source, output), resize=resize, denoise=denoise, bit_depth=depth, quality=quality, overwrite=overwrite)
        if not settings.quiet:
            click.echo(f"wrote {output}", err=True)
        return

    from fusecli.batch import BatchItem
    from fusecli.batch.pairs import match_by_stem

    matched = match_by_stem(fused, color_source)
    for line in matched.describe_unmatched():
        click.secho(f"warning: {line}", err=True, fg="yellow")
    suffix = f".{ext}" if ext else None
    items = []
    for stem, (fused_path, color_path) in matched.items:
        out = output / (stem + (suffix or output_suffix(fused_path)))
        items.append(BatchItem(stem, (fused_path, color_path, out), (out,)))
    work = functools.partial(_colorize_pair, resize=resize, denoise=denoise, bit_depth=depth, quality=quality, overwrite=overwrite)
    code = run_batch_cli(settings, items, work, jobs=jobs, overwrite=overwrite, description="colorize")
    raise SystemExit(code)
