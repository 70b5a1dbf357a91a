"""Infrared + visible fusion in a Laplacian pyramid: max-abs detail, averaged base."""

from __future__ import annotations

import numpy as np

from fusecli.errors import InputMismatchError
from fusecli.imaging import as_float
from fusecli.imaging.color import colorize, luminance
from fusecli.methods.pyramid import Frames, _levels, collapse, laplacian_pyramid


def pyramid_vif(frames: Frames, levels: int | None = None) -> np.ndarray:
    """Infrared + visible ``[ir, vis]``: Laplacian pyramids of the luminances, details chosen
    by larger magnitude (per pixel, per level), bases averaged; colour from the visible image."""
    frames = [as_float(np.asarray(f)) for f in frames]
    if len(frames) != 2:
        raise InputMismatchError(f"pyramid-vif fuses one infrared and one visible image, got {len(frames)}")
    ir, vis = luminance(frames[0]), luminance(frames[1])
    if ir.shape != vis.shape:
        raise InputMismatchError("infrared and visible images must have the same size")
    n_levels = _levels(ir.shape, levels)
    a, b = laplacian_pyramid(ir, n_levels), laplacian_pyramid(vis, n_levels)
    fused = [np.where(np.abs(x) >= np.abs(y), x, y) for x, y in zip(a[:-1], b[:-1])]
    fused.append(0.5 * (a[-1] + b[-1]))
    y = np.clip(collapse(fused), 0.0, 1.0).astype(np.float32)
    return colorize(y, frames[1][..., :3]) if frames[1].ndim == 3 else y
