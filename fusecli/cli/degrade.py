"""``fusecli degrade``: build degraded training/test pairs with text prompts."""

from __future__ import annotations

from pathlib import Path

import click

from fusecli.cli.batching import run_batch_cli
from fusecli.cli.options import Settings, jobs_option, overwrite_option, pass_settings, seed_option, shard_option


def _int_list(ctx, param, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        counts = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter("expected numbers such as 1,2,3") from None
    if not counts or any(c not in (1, 2, 3) for c in counts):
        raise click.BadParameter("each count must be 1, 2 or 3")
    return counts


def _name_list(ctx, param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    from fusecli.degrade import DEGRADATIONS

    names = tuple(DEGRADATIONS.canonical(v.strip()) for v in value.split(",") if v.strip())
    if not names:
        raise click.BadParameter("give at least one name")
    return names


def _aspect_list(ctx, param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    from fusecli.degrade.pipeline import ASPECTS

    aspects = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [a for a in aspects if a not in ASPECTS]
    if bad:
        raise click.BadParameter(f"unknown aspect ratio {', '.join(bad)}; choose from {', '.join(ASPECTS)}")
    return aspects


@click.command("degrade")
@click.argument("image", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--task", type=click.Choice(["vif", "mef", "mff"]), help="Dataset mode: the fusion task.")
@click.option("--ir", type=click.Path(exists=True, file_okay=False, path_type=Path), help="VIF: folder of infrared frames.")
@click.option("--vis", type=click.Path(exists=True, file_okay=False, path_type=Path), help="VIF: folder of visible frames (matched by name).")
@click.option("--stacks", type=click.Path(exists=True, file_okay=False, path_type=Path), help="MEF/MFF: one sub-folder or multi-page TIFF per scene.")
@click.option("--a", "folder_a", type=click.Path(exists=True, file_okay=False, path_type=Path), help="MEF/MFF pairs: first folder (e.g. near focus).")
@click.option("--b", "folder_b", type=click.Path(exists=True, file_okay=False, path_type=Path), help="MEF/MFF pairs: second folder, matched by name.")
@click.option("-o", "--out", "--output", "output", type=click.Path(path_type=Path), help="Output folder (dataset) or image (single).")
@click.option("--n", "counts", callback=_int_list, default="1,2,3", show_default=True, help="Degradations per sample, drawn from these counts.")
@click.option("--per-image", type=click.IntRange(1), default=1, show_default=True, help="Samples made from each clean input.")
@click.option("--ops", callback=_name_list, help="Single image: the degradations to apply. Dataset: the pool to draw from.")
@click.option("--level", type=click.Choice(["heavy", "mild"]), help="Force a level (default: heavy for one degradation, mild for 2-3).")
@click.option("--aspects", callback=_aspect_list, help="Crop to aspect ratios drawn from e.g. 1:1,3:4,4:3,16:9,9:16.")
@click.option("--size", type=click.IntRange(16), help="Resize crops so the long side has this many pixels.")
@click.option("--gt", "gt_method", help="Also write a fused ground truth of the clean frames with this training-free method of the task (VIF: energy-vif or pyramid-vif; MEF: exposure-fusion; MFF: focus-fusion).")
@click.option("--preview", type=click.Path(dir_okay=False, path_type=Path), help="Write a labelled sheet of every degradation (heavy and mild) on IMAGE.")
@click.option("--dry-run", is_flag=True, help="Dataset mode: list what would be made, write nothing.")
@seed_option
@jobs_option
@overwrite_option
@shard_option
@pass_settings
def command(settings: Settings, image, task, ir, vis, stacks, folder_a, folder_b, output, counts, per_image, ops, level, aspects, size, gt_method, preview, dry_run, seed, jobs, overwrite, shard) -> None:
    """Make realistic degraded inputs with a prompt saying what to fix (MMAIF's pipeline).

    Eleven degradations with Table 2's heavy and mild ranges: low_exposure, gaussian_blur,
    motion_blur, gaussian_noise, rain, haze, snow, jpeg, low_contrast, downsample, ir_stripes.

    \b
    Single image:   fusecli degrade photo.jpg --ops rain,gaussian_noise --level mild -o rainy.png
    Preview sheet:  fusecli degrade photo.jpg --preview sheet.png
    VIF dataset:    fusecli degrade --task vif --ir ir/ --vis vis/ --out data/ --n 1,2,3 --per-image 4 -j 2
    MEF dataset:    fusecli degrade --task mef --stacks brackets/ --out data/ --size 512 --aspects 1:1,16:9
    MFF pairs:      fusecli degrade --task mff --a near/ --b far/ --out data/ --gt focus-fusion

    Datasets resume: rerun the same command and finished samples are kept.
    """
    if image is not None:
        if task:
            raise click.UsageError("give either IMAGE (single image / preview) or --task (dataset), not both")
        if shard:
            raise click.UsageError("--shard splits a dataset's sources (--task with folders); this is one image")
        if preview:
            _preview(settings, image, preview, seed, overwrite)
        if output or not preview:
            if not output:
                raise click.UsageError("single-image mode needs -o OUT (or --preview SHEET)")
            _single(settings, image, output, ops, counts, level, seed, overwrite)
        return
    if preview:
        raise click.UsageError("--preview needs an IMAGE to show the degradations on")
    if not task:
        raise click.UsageError("give an IMAGE, or --task vif|mef|mff with input folders and --out")
    if not output:
        raise click.UsageError("dataset mode needs --out FOLDER")
    if shard and overwrite:
        raise click.UsageError("--overwrite removes the whole dataset, other shards' samples too: clear the folder once, then start the shards")
    _dataset(settings, task, ir, vis, stacks, folder_a, folder_b, output, counts, per_image, ops, level, aspects, size, gt_method, seed, jobs, overwrite, dry_run, shard)


def _preview(settings: Settings, image: Path, sheet: Path, seed: int, overwrite: bool) -> None:
    from fusecli.degrade.preview import contact_sheet
    from fusecli.imaging import read_image, write_image

    picture, _ = read_image(image)
    write_image(sheet, contact_sheet(picture, seed), bit_depth=8, overwrite=overwrite, inputs=[image])
    if not settings.quiet:
        click.echo(f"wrote {sheet}", err=True)


def _single(settings, image, output, ops, counts, level, seed, overwrite) -> None:
    import numpy as np

    from fusecli.degrade.pipeline import degrade_image
    from fusecli.imaging import read_image, write_image

    picture, meta = read_image(image)
    degraded, applied, prompt = degrade_image(
        picture, np.random.default_rng(seed), ops=ops, counts=counts or (1, 2, 3), level=level
    )
    write_image(output, degraded, meta=meta, overwrite=overwrite, inputs=[image])
    click.echo(prompt)
    if not settings.quiet:
        summary = "; ".join(f"{op.name} {op.params}" for op in applied)
        click.echo(f"wrote {output} ({applied[0].level}: {summary})", err=True)


def _dataset(settings, task, ir, vis, stacks, folder_a, folder_b, output, counts, per_image, ops, level, aspects, size, gt_method, seed, jobs, overwrite, dry_run, shard) -> None:
    from fusecli.degrade.dataset import DatasetConfig, collect_sources, plan_dataset, write_manifest, write_source_samples
    from fusecli.degrade.pipeline import available_ops

    if ops:
        unusable = [o for o in ops if o not in available_ops(task)]
        if unusable:
            raise click.UsageError(f"{', '.join(unusable)} cannot be used for --task {task}")
    if gt_method:
        from fusecli.catalog import CATALOG, entries
        from fusecli.methods import get_method

        get_method(gt_method)  # a training-free method (a clear error otherwise)
        entry = CATALOG.get(gt_method)
        gt_method = entry.name
        if task not in entry.tasks:
            fitting = ", ".join(e.name for e in entries("training-free") if task in e.tasks)
            raise click.UsageError(f"--gt {gt_method} does not fit --task {task} (for {task}: {fitting})")
    from fusecli.batch import select_shard

    sources, warnings = collect_sources(task, ir=ir, vis=vis, stacks=stacks, a=folder_a, b=folder_b)
    sources = select_shard(sources, shard)  # by source name: its samples stay together
    for line in warnings:
        click.secho(f"warning: {line}", err=True, fg="yellow")
    config = DatasetConfig(
        task=task, n=counts or (1, 2, 3), per_image=per_image, seed=seed, aspects=aspects, size=size, ops=ops, level=level,
        gt=gt_method,
    )
    if dry_run:
        for source in sources:
            click.echo(f"{source.name}: {per_image} sample(s) from {', '.join(str(p) for p in source.paths)}")
        return
    plan = plan_dataset(config, output, sources, overwrite=overwrite)
    code = run_batch_cli(
        settings, plan.items, write_source_samples, jobs=jobs, overwrite=False, description=f"degrade {task}"
    )
    manifest, count = write_manifest(output)
    if not settings.quiet:
        click.echo(f"{count} samples in {manifest}", err=True)
    raise SystemExit(code)
