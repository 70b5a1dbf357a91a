"""Turning scores into files: JSON, CSV and a comparison chart (drawn with OpenCV)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import cv2
import numpy as np

from fusecli import __version__
from fusecli.errors import InputMismatchError
from fusecli.imaging import check_not_input, check_output_free, write_bytes_atomic, write_image
from fusecli.metrics.score import ItemResult, summarize
from fusecli.metrics.table import METRICS


def _clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def results_json(results: Sequence[ItemResult], preset: str) -> dict:
    """``{"version", "preset", "items": [{"name", "metrics"}], "mean", "std", "failed"}``."""
    mean, std = summarize(results)
    return {
        "version": __version__,
        "preset": preset,
        "items": [
            {"name": r.name, "metrics": {k: _clean(v) for k, v in r.metrics.items()}} for r in results if r.error is None
        ],
        "mean": {k: _clean(v) for k, v in mean.items()},
        "std": {k: _clean(v) for k, v in std.items()},
        "failed": [{"name": r.name, "error": r.error} for r in results if r.error is not None],
    }


def check_report_paths(paths: Sequence[Path | None], inputs: Sequence[Path], overwrite: bool) -> None:
    """Before any scoring: each report file (``--csv``, ``--json``, ``--plot``; None: not asked
    for) is new or ``overwrite``-able, is not one of the ``inputs`` (files, or folders whose files
    are inputs), and is not another report's file."""
    given = [Path(p) for p in paths if p is not None]
    for path in given:
        check_not_input(path, inputs)
        check_output_free(path, overwrite)
        if path.is_dir():
            raise InputMismatchError(f"{path}: is a folder; give a file name for the report")
    resolved = [p.resolve() for p in given]
    if len(set(resolved)) < len(resolved):
        raise InputMismatchError(f"the reports must go to different files: {', '.join(map(str, given))}")


def write_json(path: Path, data: dict, overwrite: bool = False, inputs: Sequence[Path] = ()) -> None:
    """``data`` as JSON, atomically; refuses an input or (unless ``overwrite``) an existing file."""
    path = Path(path)
    check_not_input(path, inputs)
    check_output_free(path, overwrite)
    write_bytes_atomic(path, (json.dumps(data, indent=2, allow_nan=False) + "\n").encode())


def write_csv(path: Path, rows: Sequence[Mapping[str, object]], columns: Sequence[str], overwrite: bool = False, inputs: Sequence[Path] = ()) -> None:
    """``rows`` as CSV, atomically; refuses an input or (unless ``overwrite``) an existing file."""
    path = Path(path)
    check_not_input(path, inputs)
    check_output_free(path, overwrite)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v) for k, v in row.items()})
    write_bytes_atomic(path, buffer.getvalue().encode())


def best_index(values: Sequence[float], metric: str) -> int | None:
    """Index of the best finite value for ``metric`` (direction from the metric table)."""
    base = metric.split("@")[0]
    higher = METRICS.get(base).higher_better if base in METRICS else True
    finite = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return (max if higher else min)(finite)[1]


def comparison_chart(means: Mapping[str, Mapping[str, float]], metrics: Sequence[str], path: Path, overwrite: bool = False, inputs: Sequence[Path] = ()) -> Path:
    """One small bar chart per metric (bars = methods, best one highlighted), in a grid."""
    methods = list(means)
    cols = min(4, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    cell_w, cell_h = 320, 220
    sheet = np.full((rows * cell_h, cols * cell_w, 3), 255, np.uint8)
    palette = [(76, 114, 176), (221, 132, 82), (85, 168, 104), (196, 78, 82), (129, 114, 179), (147, 120, 96), (218, 139, 195), (140, 140, 140)]
    for index, metric in enumerate(metrics):
        r, c = divmod(index, cols)
        x0, y0 = c * cell_w, r * cell_h
        values = [means[m].get(metric, math.nan) for m in methods]
        best = best_index(values, metric)
        base = metric.split("@")[0]
        arrow = METRICS.get(base).direction if base in METRICS else ""
        cv2.putText(sheet, f"{metric} {'(higher better)' if arrow == '↑' else '(lower better)' if arrow == '↓' else ''}",
                    (x0 + 10, y0 + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            continue
        lo, hi = min(0.0, min(finite)), max(0.0, max(finite))
        span = hi - lo or 1.0
        plot_top, plot_bottom = y0 + 40, y0 + cell_h - 45
        zero_y = plot_bottom - int((0 - lo) / span * (plot_bottom - plot_top))
        bar_w = max(8, (cell_w - 40) // max(1, len(methods)) - 10)
        for k, (method, value) in enumerate(zip(methods, values)):
            bx = x0 + 20 + k * (bar_w + 10)
            if math.isfinite(value):
                vy = plot_bottom - int((value - lo) / span * (plot_bottom - plot_top))
                color = palette[k % len(palette)][::-1]
                cv2.rectangle(sheet, (bx, min(vy, zero_y)), (bx + bar_w, max(vy, zero_y)), color, -1)
                if k == best:
                    cv2.rectangle(sheet, (bx - 2, min(vy, zero_y) - 2), (bx + bar_w + 2, max(vy, zero_y) + 2), (0, 0, 0), 2)
                cv2.putText(sheet, f"{value:.3g}", (bx, min(vy, zero_y) - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
            label = method if len(method) <= 10 else method[:9] + "."
            cv2.putText(sheet, label, (bx, y0 + cell_h - 25), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.line(sheet, (x0 + 15, zero_y), (x0 + cell_w - 15, zero_y), (0, 0, 0), 1)
    rgb = cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return write_image(path, rgb, bit_depth=8, overwrite=overwrite, inputs=inputs)
