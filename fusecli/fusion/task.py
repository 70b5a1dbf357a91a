"""Which task a set of frames is, and which model fuses it by default."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from fusecli.imaging import as_float
from fusecli.catalog import CATALOG, weights_path

from fusecli.imaging.color import is_gray, luminance

log = logging.getLogger(__name__)


# Preferred model per task: the first whose weights are present wins, the training-free
# method being the fallback. Chosen on the quality protocol's validation scenes
# (bench/quality_protocol.py, docs/benchmarks.md). VIF: blend-vif, the learned blend weights
# over energy-vif's pyramid, is the one VIF method ahead of pyramid-vif on Qabf, Qcb, Qcv and
# VIF with at least its min per-source SSIM there; the MoE-Fusion models stay close to the
# infrared frame on a camera they were not trained on. MEF and MFF: the learned models add
# nothing of their own on clean inputs (they return a base fused from the frames' luminance)
# at 40-70x the time.
DEFAULTS: dict[str, tuple[str, ...]] = {
    "vif": ("blend-vif", "energy-vif"),
    "mef": ("exposure-fusion",),
    "mff": ("focus-fusion",),
}


def default_model(task: str) -> str:
    for name in DEFAULTS[task]:
        entry = CATALOG.get(name)
        if entry.kind == "training-free" or weights_path(entry) is not None:
            return name
    return DEFAULTS[task][-1]


def mean_brightness(frame: np.ndarray) -> float:
    sample = as_float(frame[:: max(1, frame.shape[0] // 256), :: max(1, frame.shape[1] // 256)])
    return float(luminance(sample).mean())


def infer_task(frames: Sequence[np.ndarray], model: str | None) -> tuple[str, str]:
    """Guess the task: from a single-task model, else from the frames. Returns (task, reason)."""
    if model is not None and model in CATALOG and len(CATALOG.get(model).tasks) == 1:
        return CATALOG.get(model).tasks[0], f"model {CATALOG.get_name(model)} only does it"
    gray = [is_gray(f) for f in frames]
    if len(frames) == 2 and gray[0] != gray[1]:
        return "vif", "one gray (infrared) and one colour (visible) frame"
    means = [mean_brightness(f) for f in frames]
    if max(means) - min(means) > 0.12 or min(means) > 0 and max(means) / min(means) > 1.6:
        return "mef", f"mean brightness differs between frames ({', '.join(f'{m:.2f}' for m in means)})"
    return "mff", "frames have similar brightness"
