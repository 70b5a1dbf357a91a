"""``fusecli train --plot RUN``: training and validation curves from ``RUN/log.jsonl`` to a PNG."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from fusecli.errors import FusecliError
from fusecli.imaging import write_image

_COLOURS = [(176, 114, 76), (82, 132, 221), (104, 168, 85), (82, 78, 196), (179, 114, 129), (96, 120, 147)]


def read_log(run: Path) -> tuple[list[dict], list[dict]]:
    """(training records, validation records) of a run folder."""
    path = run / "log.jsonl" if run.is_dir() else run
    if not path.is_file():
        raise FusecliError(f"no training log at {path}")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if "val" not in r], [r for r in records if "val" in r]


def _panel(title: str, series: dict[str, list[tuple[float, float]]], size: tuple[int, int] = (480, 300), log_y: bool = False) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, title, (10, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    points = [(x, y) for pts in series.values() for x, y in pts if math.isfinite(y) and (y > 0 or not log_y)]
    if not points:
        return img
    tf = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    xs, ys = [p[0] for p in points], [tf(p[1]) for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1e-9)
    left, right, top, bottom = 60, w - 10, 30, h - 30
    cv2.rectangle(img, (left, top), (right, bottom), (200, 200, 200), 1)
    for value, y in ((y1, top), (y0, bottom)):
        label = f"{10 ** value:.3g}" if log_y else f"{value:.4g}"
        cv2.putText(img, label, (2, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"step {int(x0)}..{int(x1)}", (left, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    for k, (name, pts) in enumerate(series.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        coords = [
            (int(left + (x - x0) / (x1 - x0) * (right - left)), int(bottom - (tf(y) - y0) / (y1 - y0) * (bottom - top)))
            for x, y in pts if math.isfinite(y) and (y > 0 or not log_y)
        ]
        if len(coords) > 1:
            cv2.polylines(img, [np.array(coords, np.int32)], False, colour, 1, cv2.LINE_AA)
        for c in coords if len(coords) < 30 else []:
            cv2.circle(img, c, 2, colour, -1)
        cv2.putText(img, name, (left + 5 + 110 * (k % 3), top + 15 + 14 * (k // 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return img


def _smooth(points: list[tuple[float, float]], window: int | None = None) -> list[tuple[float, float]]:
    """Trailing mean over ``window`` records (a tenth of the log, at most 20), over fewer at the
    start, so a short run's curve still begins at its first step."""
    if not points:
        return points
    window = window or max(1, min(20, len(points) // 10))
    ys = np.array([p[1] for p in points], np.float64)
    sums = np.concatenate([[0.0], np.cumsum(ys)])
    ends = np.arange(1, len(ys) + 1)
    starts = np.maximum(ends - window, 0)
    means = (sums[ends] - sums[starts]) / (ends - starts)
    return [(x, float(m)) for (x, _), m in zip(points, means)]


def plot_run(run: Path, out: Path | None = None, overwrite: bool = True) -> Path:
    """Draw loss terms (smoothed, log scale) and every validation metric; returns the PNG path."""
    train, val = read_log(run)
    if not train and not val:
        raise FusecliError(f"{run}: the training log is empty")
    skip = {"step", "task", "lr", "seconds", "grad_norm"}
    terms = [k for k in train[0] if k not in skip] if train else []
    curves = {k: _smooth([(r["step"], r[k]) for r in train if k in r]) for k in terms}
    # a term that goes to 0 or below (a negative PSNR loss, and a total that includes it) has no
    # log scale: it gets a linear panel of its own instead of vanishing from the log one
    signed = {k: pts for k, pts in curves.items() if any(y <= 0 for _, y in pts)}
    positive = {k: pts for k, pts in curves.items() if k not in signed}
    panels = [_panel("training loss (smoothed, log)", positive, log_y=True)] if positive else []
    if signed:
        panels.append(_panel("training loss (smoothed, linear)", signed))
    if train:
        panels.append(_panel("learning rate", {"lr": [(r["step"], r["lr"]) for r in train]}))
    names = sorted({k for r in val for k in r["val"] if "/" not in k})
    for name in names:
        panels.append(_panel(f"validation {name}", {name: [(r["step"], r["val"][name]) for r in val if name in r["val"]]}))
    cols = 2
    rows = math.ceil(len(panels) / cols)
    h, w = panels[0].shape[:2]
    sheet = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i, panel in enumerate(panels):
        r, c = divmod(i, cols)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = panel
    target = out or ((run if run.is_dir() else run.parent) / "curves.png")
    rgb = cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return write_image(target, rgb, bit_depth=8, overwrite=overwrite)
