"""``fusecli fuse``: fuse IR+visible pairs, exposure brackets or focus stacks, one or thousands."""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import NamedTuple

import click

from fusecli.cli.batching import run_batch_cli
from fusecli.cli.progress import working
from fusecli.cli.options import (
    Settings, bit_depth_option, device_option, ext_option, greedy_command, ir_range_option, ir_warp_option, jobs_option, output_option,
    overwrite_option, pass_settings, quality_option, seed_option, shard_option,
)


class FuseJob(NamedTuple):
    """One batch item's work (picklable, for worker processes)."""

    inputs: tuple
    output: Path
    routing: Path | None = None
    boxes: Path | None = None
    prompt_file: Path | None = None  # this scene's prompt (--prompts DIR); None: the batch's --prompt


def _fuse_item(payload: FuseJob, *, settings, bit_depth, quality, overwrite) -> None:
    """One batch item (module level so worker processes can run it)."""
    from fusecli.fusion import fuse_files

    if payload.prompt_file is not None:  # read here: a bad file fails its item, not the batch
        from fusecli.restore.prompts import read_prompt_file

        settings = dataclasses.replace(settings, prompt=read_prompt_file(payload.prompt_file) or settings.prompt)
    fuse_files(payload.inputs, payload.output, settings, bit_depth=bit_depth, quality=quality, overwrite=overwrite, boxes=payload.boxes, routing_map=payload.routing)


def _scene_prompts(items: list, folder: Path) -> tuple[list, list[str]]:
    """``items`` with each scene's prompt from ``folder/NAME.txt`` (what ``fusecli degrade``
    writes under ``prompts/``), and warning lines for the scenes that have none."""
    with_prompts, missing = [], []
    for item in items:
        path = folder / f"{item.name}.txt"
        if not path.is_file():
            missing.append(item.name)
        with_prompts.append(dataclasses.replace(item, payload=item.payload._replace(prompt_file=path if path.is_file() else None)))
    warnings = [f"no prompt file in {folder} for {len(missing)} scene(s), fused with --prompt or none: {', '.join(missing[:10])}"] if missing else []
    return with_prompts, warnings


def _batch_items(ir, vis, stacks, sources, output: Path, ext: str | None, routing_map: Path | None):
    """(items, warning lines) for a VIF folder pair, a stacks folder or folders of frames matched by name."""
    from fusecli.batch import BatchItem
    from fusecli.imaging import output_suffix
    from fusecli.batch.pairs import list_stacks, match_by_stem

    items, warnings = [], []
    if stacks is not None:
        for stack in list_stacks(stacks, warnings):
            suffix = ext or ("tif" if stack.is_multipage else output_suffix(stack.frames[0]).lstrip("."))
            out = output / f"{stack.name}.{suffix}"
            routing = routing_map / f"{stack.name}.png" if routing_map else None
            items.append(BatchItem(stack.name, FuseJob(stack.frames, out, routing), (out,)))
    else:
        matched = match_by_stem(*(sources or (ir, vis)))
        warnings = ["unmatched: " + line for line in matched.describe_unmatched()]
        for stem, paths in matched.items:
            out = output / f"{stem}.{ext or output_suffix(paths[-1]).lstrip('.')}"  # VIF: the visible frame's format
            routing = routing_map / f"{stem}.png" if routing_map else None
            items.append(BatchItem(stem, FuseJob(paths, out, routing), (out,)))
    return items, warnings


@click.command("fuse", cls=greedy_command("--sources"))
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@output_option("Output image (one item) or output folder (batch).")
@click.option("--task", type=click.Choice(["vif", "mef", "mff"], case_sensitive=False), help="Fusion task. Default: inferred from the model and the inputs (and said).")
@click.option("--ir", type=click.Path(exists=True, path_type=Path), help="Infrared image, or folder of infrared images (VIF).")
@click.option("--vis", type=click.Path(exists=True, path_type=Path), help="Visible image, or folder of visible images (VIF, matched by file stem).")
@click.option("--stacks", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Folder of stacks: one sub-folder or multi-page TIFF per scene (MEF/MFF).")
@click.option("--sources", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Two or more folders of frames matched by name, one scene per name: --sources near/ far/ (MFF), --sources under/ over/ (MEF).")
@click.option("-m", "--model", help="Zoo name (see `fusecli models`) or a .safetensors file. Default: the best shipped model for the task.")
@click.option("--prompt", help='Instruction for language-guided models, e.g. "remove the rain, fix the noise".')
@click.option("--prompts", "prompt_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Batch: one prompt per scene, from DIR/NAME.txt (e.g. the prompts/ folder of `fusecli degrade`); scenes without one use --prompt.")
@click.option("--steps", type=click.IntRange(1, 1000), default=8, show_default=True, help="Sampling steps (flow models).")
@click.option("--sampler", type=click.Choice(["ode", "sde"]), default="sde", show_default=True, help="Flow sampler: deterministic ODE or stochastic SDE.")
@click.option("--gamma", type=click.FloatRange(0), default=0.5, show_default=True, help="SDE stochasticity (0 = ODE).")
@seed_option
@device_option
@click.option("--boxes", type=click.Path(exists=True, path_type=Path), help="Foreground boxes (YOLO txt / VOC xml / COCO json, file or folder) for MoE-Fusion.")
@click.option("--routing-map", type=click.Path(path_type=Path), help="Also save which source dominates where (a file; a folder in batch mode).")
@click.option("--align", is_flag=True, help="Align hand-held stacks first (MEF: median-threshold bitmaps; MFF: affine ECC).")
@click.option("--deghost", is_flag=True, help="MEF with exposure-fusion: leave each shot out where something moved (people, leaves, waves) against the best-exposed shot.")
@click.option("--deghost-reference", type=click.IntRange(min=1), metavar="N",
              help="Deghost against the N-th input shot instead (in the order given; a stack folder: name order): where things moved, they are shown as in that shot. Implies --deghost.")
@click.option("--resize", is_flag=True, help="Resample inputs of other sizes to the first one's size instead of failing.")
@click.option("--tile", type=click.IntRange(64), default=1024, show_default=True, help="Tile size for large images (bounded memory).")
@click.option("--overlap", type=click.IntRange(0), default=64, show_default=True, help="Tile overlap in pixels (blended seamlessly).")
@ext_option("Output extension in batch mode (png, jpg, tif, webp). Default: the inputs'.")
@click.option("--dry-run", is_flag=True, help="List what a batch would do, and do nothing.")
@ir_range_option
@ir_warp_option
@click.option("--save-ir-warp", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="With --ir-warp auto and one pair: also write the estimated warp to FILE, to check it and to reuse it for the rig's other pairs (--ir-warp FILE).")
@bit_depth_option
@quality_option
@overwrite_option
@jobs_option
@shard_option
@pass_settings
def command(settings: Settings, inputs, output, task, ir, vis, stacks, sources, model, prompt, prompt_dir, steps, sampler, gamma, seed, device, boxes, routing_map, align, deghost, deghost_reference, resize, tile, overlap, ext, dry_run, ir_range, ir_warp, save_ir_warp, bit_depth, quality, overwrite, jobs, shard) -> None:
    """Fuse several images of one scene into one: VIF, MEF or MFF.

    \b
    One item:
      fusecli fuse under.jpg normal.jpg over.jpg -o fused.jpg          (exposure bracket)
      fusecli fuse shots/*.jpg --align --deghost -o fused.jpg           (hand-held, things moving)
      fusecli fuse --ir ir.png --vis vis.jpg -o fused.png               (infrared + visible)
      fusecli fuse --ir ir.tif --vis vis.jpg --ir-warp rig.txt -o f.png (a rig not pixel-aligned)
      fusecli fuse --ir ir.tif --vis vis.jpg --ir-warp auto --save-ir-warp rig.txt -o f.png
      fusecli fuse near.jpg far.jpg --task mff -o sharp.jpg             (focus stack)
    Folders (resumable; finished outputs are skipped):
      fusecli fuse --task vif --ir ir/ --vis vis/ -o fused/ --jobs 2
      fusecli fuse --task mef --stacks brackets/ -o fused/
      fusecli fuse --task mff --sources near/ far/ -o fused/            (frames matched by name)
    """
    from fusecli.errors import InputMismatchError
    from fusecli.fusion import FuseSettings, fuse_files

    output = Path(output)
    fuse_settings = FuseSettings(
        task=task.lower() if task else None, model=model, prompt=prompt, steps=steps, sampler=sampler, gamma=gamma,
        seed=seed, device=device, tile=tile, overlap=overlap, align=align, resize=resize, ir_range=ir_range,
        deghost=deghost, deghost_reference=None if deghost_reference is None else deghost_reference - 1, ir_warp=ir_warp,
    )
    depth = int(bit_depth) if bit_depth else None
    batch = stacks is not None or bool(sources) or (ir is not None and ir.is_dir())
    if save_ir_warp is not None:
        _check_save_ir_warp(save_ir_warp, ir_warp, batch, overwrite, [p for p in (*inputs, ir, vis, output) if p is not None])
    if batch:
        if inputs:
            raise InputMismatchError("give either INPUTS or folders (--ir/--vis, --stacks or --sources), not both")
        from fusecli.batch import select_shard

        items = select_shard(_folder_items(fuse_settings, ir, vis, stacks, sources, output, ext, routing_map, boxes, prompt_dir), shard)
        fuse_settings.workers = max(1, (os.cpu_count() or 1) // jobs)  # the cores shared by the jobs' tiles
        work = functools.partial(_fuse_item, settings=fuse_settings, bit_depth=depth, quality=quality, overwrite=overwrite)
        raise SystemExit(run_batch_cli(settings, items, work, jobs=jobs, overwrite=overwrite, description="fuse", dry_run=dry_run))

    if shard is not None:
        raise click.UsageError("--shard splits a folder batch (--ir/--vis folders, --stacks or --sources); this is one item")
    if prompt_dir is not None:
        raise click.UsageError("--prompts DIR is for folders (--ir/--vis folders, --stacks or --sources); give one item's prompt with --prompt")
    paths = list(inputs)
    if ir is not None or vis is not None:
        if ir is None or vis is None or paths:
            raise InputMismatchError("give both --ir and --vis (files), and no other inputs")
        paths, fuse_settings.task = [ir, vis], fuse_settings.task or "vif"
    elif len(paths) == 1 and paths[0].is_dir():
        from fusecli.batch.pairs import list_images

        paths = list_images(paths[0])
    if not paths:
        raise click.UsageError("nothing to fuse: give image files, --ir/--vis, or --stacks")
    if output.is_dir():
        raise InputMismatchError(f"{output} is a folder; give an output file for a single item")
    with working(f"fusing {len(paths)} images", quiet=settings.quiet):
        result = fuse_files(paths, output, fuse_settings, bit_depth=depth, quality=quality, overwrite=overwrite, boxes=boxes, routing_map=routing_map)
    if save_ir_warp is not None:
        from fusecli.geometry.warp_estimation import write_warp

        write_warp(save_ir_warp, result.ir_warp)
    if not settings.quiet:
        for line in result.notes:
            click.echo(line, err=True)
        click.echo(f"wrote {output} ({result.task}, {result.model})", err=True)
        if save_ir_warp is not None:
            click.echo(f"wrote {save_ir_warp} (the estimated warp; reuse it with --ir-warp {save_ir_warp})", err=True)


def _check_save_ir_warp(path: Path, ir_warp, batch: bool, overwrite: bool, inputs: list) -> None:
    """``--save-ir-warp`` is for one pair fused with ``--ir-warp auto``; its file is checked before any work."""
    from fusecli.imaging import check_not_input, check_output_free

    if ir_warp != "auto":
        raise click.UsageError("--save-ir-warp FILE saves the warp --ir-warp auto estimates; add --ir-warp auto")
    if batch:
        raise click.UsageError("--save-ir-warp is for one pair: estimate on one good pair, then fuse the folder with --ir-warp FILE")
    check_output_free(path, overwrite)
    check_not_input(path, inputs)


def _folder_items(fuse_settings, ir, vis, stacks, sources, output: Path, ext, routing_map, boxes, prompt_dir) -> list:
    """The batch items of ``--ir/--vis`` folders, ``--stacks`` or ``--sources`` folders, with their
    boxes and prompts; unmatched names and scenes without a prompt are reported."""
    from fusecli.errors import InputMismatchError

    given = [name for name, value in (("--ir/--vis", ir or vis), ("--stacks", stacks), ("--sources", sources)) if value]
    if len(given) > 1:
        raise InputMismatchError(f"give one kind of batch input, not {' and '.join(given)}")
    if sources and len(sources) < 2:
        raise InputMismatchError("--sources needs two or more folders, matched by file name")
    if ir is not None and (vis is None or not vis.is_dir()):
        raise InputMismatchError("--ir is a folder, so --vis must be a folder too")
    if ir is not None:
        fuse_settings.task = fuse_settings.task or "vif"
    items, warnings = _batch_items(ir, vis, stacks, sources, output, ext, routing_map)
    for line in warnings:
        click.secho(line, err=True, fg="yellow")
    if boxes is not None:
        items = [dataclasses.replace(i, payload=i.payload._replace(boxes=boxes)) for i in items]
    if prompt_dir is not None:
        items, missing = _scene_prompts(items, prompt_dir)
        for line in missing:
            click.secho(line, err=True, fg="yellow")
    return items
