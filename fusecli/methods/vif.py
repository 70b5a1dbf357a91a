"""Infrared + visible fusion in a Laplacian pyramid.

* ``pyramid-vif``: details chosen by the larger magnitude (per pixel, per level), bases averaged;
* ``energy-vif``: details blended by their local energy, bases blended toward the brighter
  frame. Averaged bases dim whatever is bright in one frame only (a warm body against a cold
  night sky, a lit façade in front of a cold wall), and a per-pixel choice of details flips
  between the frames on noise; a local weight for each keeps more of both (the quality
  protocol's VIF tables, ``docs/benchmarks.md``).
"""

from __future__ import annotations

import cv2
import numpy as np

from fusecli.errors import InputMismatchError
from fusecli.imaging import as_float
from fusecli.imaging.color import colorize, luminance
from fusecli.methods.pyramid import Frames, _levels, collapse, laplacian_pyramid

# energy-vif's settings, chosen on the quality protocol's VIF validation scenes (RoadScene)
ENERGY_WINDOW = 3  # px: the local energy of a detail level is its mean square over this window
ENERGY_POWER = 1.5  # detail weight = energy^p / (sum of both); larger p is closer to a hard choice
BASE_SOFTNESS = 0.5  # base weight of the infrared = sigmoid((ir - vis) / softness), on 0..1 values


def _luminances(frames: Frames, name: str) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    frames = [as_float(np.asarray(f)) for f in frames]
    if len(frames) != 2:
        raise InputMismatchError(f"{name} fuses one infrared and one visible image, got {len(frames)}")
    ir, vis = luminance(frames[0]), luminance(frames[1])
    if ir.shape != vis.shape:
        raise InputMismatchError("infrared and visible images must have the same size")
    return frames, ir, vis


def _finish(fused: list[np.ndarray], visible: np.ndarray) -> np.ndarray:
    """Collapse the fused pyramid; colour from the visible image."""
    y = np.clip(collapse(fused), 0.0, 1.0).astype(np.float32)
    return colorize(y, visible[..., :3]) if visible.ndim == 3 else y


def pyramid_vif(frames: Frames, levels: int | None = None) -> np.ndarray:
    """Infrared + visible ``[ir, vis]``: Laplacian pyramids of the luminances, details chosen
    by larger magnitude (per pixel, per level), bases averaged; colour from the visible image."""
    frames, ir, vis = _luminances(frames, "pyramid-vif")
    n_levels = _levels(ir.shape, levels)
    a, b = laplacian_pyramid(ir, n_levels), laplacian_pyramid(vis, n_levels)
    fused = [np.where(np.abs(x) >= np.abs(y), x, y) for x, y in zip(a[:-1], b[:-1])]
    fused.append(0.5 * (a[-1] + b[-1]))
    return _finish(fused, frames[1])


def energy_weight(x: np.ndarray, y: np.ndarray, window: int = ENERGY_WINDOW, power: float = ENERGY_POWER) -> np.ndarray:
    """Weight of detail level ``x`` against ``y`` (same shape): local energy ``e`` (mean square
    over ``window`` px) as ``e_x^p / (e_x^p + e_y^p)``; 0.5 where both are flat."""
    ex = cv2.blur(x * x, (window, window)) ** power
    ey = cv2.blur(y * y, (window, window)) ** power
    total = ex + ey
    return np.divide(ex, total, out=np.full_like(total, 0.5), where=total > 1e-20)


def energy_vif(frames: Frames, levels: int | None = None) -> np.ndarray:
    """Infrared + visible ``[ir, vis]``: Laplacian pyramids of the luminances, each detail level
    blended by local energy (:func:`energy_weight`), the bases blended toward the brighter frame
    (sigmoid of their difference); colour from the visible image."""
    frames, ir, vis = _luminances(frames, "energy-vif")
    n_levels = _levels(ir.shape, levels)
    a, b = laplacian_pyramid(ir, n_levels), laplacian_pyramid(vis, n_levels)
    fused = []
    for x, y in zip(a[:-1], b[:-1]):
        w = energy_weight(x, y)
        fused.append(w * x + (1 - w) * y)
    w = 1 / (1 + np.exp(-(a[-1] - b[-1]) / BASE_SOFTNESS))
    fused.append((w * a[-1] + (1 - w) * b[-1]).astype(np.float32))
    return _finish(fused, frames[1])
