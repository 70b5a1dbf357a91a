"""``fusecli metrics``: score fused images with the standard fusion metrics."""

from __future__ import annotations

import math
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from fusecli.cli.options import Settings, greedy_command, ir_range_option, ir_warp_option, jobs_option, overwrite_option, pass_settings, shard_option
from fusecli.cli.tables import print_table


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"


def _explain(name: str) -> None:
    from fusecli.metrics.conventions import get_preset

    preset = get_preset(name)
    table = Table(title=f"preset {preset.name}: {preset.title}")
    table.add_column("what")
    table.add_column(f"{preset.name}")
    if preset.name != "standard":
        table.add_column("standard (fusecli default)")
    for what, this, standard in preset.differences:
        table.add_row(escape(what), escape(this), *([escape(standard)] if preset.name != "standard" else []))
    for metric, why in preset.unreproduced:
        table.add_row(escape(metric), escape(f"not reproduced (scored NaN): {why}"), "")
    print_table(table)


def _list_metrics() -> None:
    from fusecli.metrics.table import METRICS

    table = Table(title="metrics")
    for col in ("name", "better", "needs", "what"):
        table.add_column(col)
    for name, spec in METRICS.items():
        needs = f"{spec.needs} + weights" if spec.learned else spec.needs
        table.add_row(spec.name, "higher" if spec.higher_better else "lower", needs, escape(spec.summary))
    print_table(table)


def _parse_weights(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, Path]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"expected NAME=PATH, got {value!r}", ctx, param)
        out[name.strip()] = Path(path)
    return out


@click.command("metrics", cls=greedy_command("--sources", "--compare"))
@click.argument("images", nargs=-1, type=click.Path(exists=True, path_type=Path), metavar="[FUSED [SOURCE]...]")
@click.option("--fused", type=click.Path(exists=True, path_type=Path), help="Fused image, or folder of fused images.")
@click.option("--sources", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Source images (2+), or folders matched by name, or one folder of stacks (MEF): --sources A B [C …].")
@click.option("--reference", type=click.Path(exists=True, path_type=Path), help="Ground-truth image or folder (PSNR-ref, SSIM-ref, MS-SSIM-ref, MAE).")
@click.option("--metrics", "metric_names", help="Comma-separated metrics (default: the task's standard set). See --list.")
@click.option("--task", type=click.Choice(["vif", "mef", "mff"]), help="Pick the task's standard metric set.")
@click.option("--preset", default="standard", show_default=True, help="Conventions: standard, cddfuse, vifb, mefb, tang.")
@click.option("--per-channel", is_flag=True, help="Score colour images per RGB channel and average (like VIFB).")
@click.option("--boxes", type=click.Path(exists=True, path_type=Path), help="Box labels (YOLO .txt / VOC .xml per image, or COCO .json) for local metrics.")
@click.option("--region", type=click.Choice(["fg", "bg", "both"]), default="both", show_default=True, help="With --boxes: score the foreground, background or both.")
@click.option("--compare", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Score several methods' output folders on the same sources: --compare DIR1 DIR2 …")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the scores as CSV.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the scores as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="With --compare: draw a bar chart per metric (PNG).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one self-contained HTML page: each scene's sources and outputs side by side with their scores, a "
                   "before/after slider, the sortable score table with the best per column marked, and a chart per metric.")
@click.option("--explain", metavar="PRESET", help="Show how a preset's conventions differ from the standard, then exit.")
@click.option("--list", "list_metrics", is_flag=True, help="List the available metrics, then exit.")
@click.option("--weights", "weight_files", multiple=True, metavar="NAME=PATH", callback=_parse_weights,
              help="Pretrained weights of a learned metric (MUSIQ, CLIP-IQA), e.g. --weights MUSIQ=musiq_koniq.pth; "
                   "default: looked up by file name in $FUSECLI_METRIC_WEIGHTS (~/.cache/fusecli/metrics).")
@ir_range_option
@ir_warp_option
@jobs_option
@overwrite_option
@shard_option
@pass_settings
def command(settings: Settings, images, fused, sources, reference, metric_names, task, preset, per_channel, boxes, region,
            compare, csv_path, json_path, plot, report, explain, list_metrics, weight_files, ir_range, ir_warp, jobs, overwrite, shard) -> None:
    """Score fused images with the standard fusion metrics.

    \b
    One image:    fusecli metrics fused.png ir.png vis.png     (the fused image first)
                  fusecli metrics --fused fused.png --sources ir.png vis.png
    Folders:      fusecli metrics --fused out/ --sources ir/ vis/ --json scores.json -j 2
    MEF stacks:   fusecli metrics --fused out/ --sources brackets/ --task mef
    Compare:      fusecli metrics --compare ours/ theirs/ --sources ir/ vis/ --plot chart.png --report report.html
    Reproduce:    fusecli metrics ... --preset cddfuse      (see --explain cddfuse)
    Local:        fusecli metrics ... --boxes labels/ --region both
    Learned:      fusecli metrics --fused out/ --metrics MUSIQ,CLIP-IQA --weights MUSIQ=musiq.pth --weights CLIP-IQA=RN50.pt

    Defaults are the documented definitions: MI in bits, SSIM with an 11×11 Gaussian and
    L = 255, PSNR with peak 255, on 0..255 BT.601 luminance.
    """
    if explain:
        _explain(explain)
        return
    if list_metrics:
        _list_metrics()
        return
    from dataclasses import replace

    from fusecli.metrics.conventions import get_preset
    from fusecli.metrics.report import check_report_paths
    from fusecli.metrics.score import prepare_learned_metrics
    from fusecli.metrics.table import METRICS, default_metrics

    convention = get_preset(preset)
    if per_channel:
        convention = replace(convention, per_channel=True)
    if images:
        if fused or sources or compare:
            raise click.UsageError("give the images either as arguments (FUSED SOURCE …) or with --fused / --sources / --compare, not both")
        fused, sources = images[0], images[1:]
    if plot and not compare:
        raise click.UsageError("--plot draws a comparison: use it with --compare")
    targets = list(compare) if compare else ([fused] if fused else [])
    if not targets:
        raise click.UsageError("give --fused (file or folder) or --compare DIR1 DIR2 …")
    if compare and fused:
        raise click.UsageError("use either --fused or --compare")
    n_sources = len(sources) if len(sources) != 1 else 3  # one --sources folder holds MEF stacks
    names = (
        tuple(METRICS.canonical(m.strip()) for m in metric_names.split(",") if m.strip())
        if metric_names
        else default_metrics(task, n_sources)
    )
    names = tuple(METRICS.get(n).name for n in names)
    if reference is not None and not metric_names:
        names += ("PSNR-ref", "SSIM-ref", "MAE")
    regions = () if boxes is None else (("fg", "bg") if region == "both" else (region,))
    inputs = [p for p in (*targets, *sources, reference, boxes, *weight_files.values()) if p is not None]
    check_report_paths([csv_path, json_path, plot, report], inputs, overwrite)  # before the work, not after it
    if report is not None and not all(Path(target).is_dir() for target in targets):
        raise click.UsageError("--report shows folders of fused images (--fused DIR or --compare DIR …)")
    learned = prepare_learned_metrics(names, weight_files)
    method_results, method_items = {}, {}
    for target in targets:
        name = target.name if compare else str(target)
        method_items[name], method_results[name] = _score(
            settings, target, sources, reference, names, convention, boxes, regions, learned, task, ir_range, ir_warp, jobs, shard
        )
    columns = list(names) + [f"{n}@{r}" for r in regions for n in names]
    if report is not None:
        from fusecli.metrics.html_report import write_html_report

        write_html_report(report, method_results, method_items, columns, convention.name, overwrite, inputs)
        if not settings.quiet:
            click.echo(f"wrote {report}", err=True)
    if compare:
        _compare_output(method_results, columns, convention.name, csv_path, json_path, plot, overwrite, inputs)
        code = 1 if any(r.error for rs in method_results.values() for r in rs) else 0
    else:
        results = next(iter(method_results.values()))
        _single_output(results, columns, convention.name, csv_path, json_path, overwrite, inputs)
        code = 1 if any(r.error for r in results) else 0
    raise SystemExit(code)


def _score(settings, target, sources, reference, names, convention, boxes, regions, learned, task, ir_range, ir_warp, jobs, shard):
    from fusecli.batch import select_shard
    from fusecli.metrics.score import ScoreOptions, collect_items, score_items

    if shard is not None and not Path(target).is_dir():
        raise click.UsageError("--shard splits a folder of fused images; this is one image")
    items, warnings = collect_items(target, list(sources), reference)
    items = select_shard(items, shard)
    for line in warnings:
        click.secho(f"warning: {line}", err=True, fg="yellow")
    options = ScoreOptions(names, convention, boxes, regions, learned, task, ir_range, ir_warp)
    from fusecli.cli.progress import progress_bar  # rich: imported when needed (start-up time)

    with progress_bar(len(items), f"scoring {target.name}", quiet=settings.quiet or len(items) < 2) as advance:
        results = score_items(items, options, jobs=jobs, on_progress=advance)
    if not Path(target).is_dir() and results and results[0].error:  # one image: an input error (exit 2), not a table
        from fusecli.errors import FusecliError

        raise FusecliError(results[0].error)
    for r in results:
        if r.error:
            click.secho(f"failed: {r.name}: {r.error}", err=True, fg="red")
    return items, results


def _single_output(results, columns, preset, csv_path, json_path, overwrite, inputs) -> None:
    from fusecli.metrics.report import results_json, write_csv, write_json
    from fusecli.metrics.score import summarize

    ok = [r for r in results if r.error is None]
    mean, std = summarize(results)
    shown = [c for c in columns if c in mean]
    table = Table(title=f"fusion metrics ({preset} conventions)")
    table.add_column("image")
    for c in shown:
        table.add_column(c, justify="right")
    for r in ok:
        table.add_row(escape(r.name), *(_fmt(r.metrics.get(c, math.nan)) for c in shown))
    if len(ok) > 1:
        table.add_section()
        table.add_row("[bold]mean", *(f"[bold]{_fmt(mean[c])}" for c in shown))
        table.add_row("std", *(_fmt(std[c]) for c in shown))
    if ok:  # every item failed: their lines say why; an empty table says nothing
        print_table(table, min_width=max(120, 12 * (len(shown) + 2)))
    if json_path:
        write_json(json_path, results_json(results, preset), overwrite, inputs)
    if csv_path:
        rows = [{"name": r.name, **r.metrics} for r in ok]
        if len(ok) > 1:
            rows += [{"name": "mean", **mean}, {"name": "std", **std}]
        write_csv(csv_path, rows, ["name"] + shown, overwrite, inputs)


def _compare_output(method_results, columns, preset, csv_path, json_path, plot, overwrite, inputs) -> None:
    from fusecli.metrics.report import best_index, comparison_chart, results_json, write_csv, write_json
    from fusecli.metrics.score import summarize

    means = {name: summarize(results)[0] for name, results in method_results.items()}
    shown = [c for c in columns if any(c in m for m in means.values())]
    table = Table(title=f"method comparison, mean over images ({preset} conventions); best in green")
    table.add_column("method")
    for c in shown:
        table.add_column(c, justify="right")
    methods = list(means)
    best = {c: best_index([means[m].get(c, math.nan) for m in methods], c) for c in shown}
    for i, m in enumerate(methods):
        cells = []
        for c in shown:
            text = _fmt(means[m].get(c, math.nan))
            cells.append(f"[bold green]{text}" if best[c] == i else text)
        table.add_row(escape(m), *cells)
    print_table(table, min_width=max(120, 12 * (len(shown) + 2)))
    if json_path:
        write_json(json_path, {"methods": {m: results_json(r, preset) for m, r in method_results.items()}, "preset": preset}, overwrite, inputs)
    if csv_path:
        write_csv(csv_path, [{"method": m, **means[m]} for m in methods], ["method"] + shown, overwrite, inputs)
    if plot:
        comparison_chart(means, shown, plot, overwrite=overwrite, inputs=inputs)
        click.echo(f"wrote {plot}", err=True)
