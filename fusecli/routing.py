"""Routing maps: which source dominates the fused image where (``fuse --routing-map``).

For every pixel the source whose luminance is locally closest to the fused result (mean
absolute difference over a 9x9 window) wins; the map colours each source (legend in the
top-left corner) and modulates it by the fused luminance so the scene stays recognisable.
This is the "dynamic fusion" picture of the MoE-Fusion paper, and it works for every model.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .color import luminance
from .io import as_float

PALETTE = np.array([[0.95, 0.35, 0.2], [0.2, 0.55, 0.95], [0.3, 0.85, 0.35], [0.95, 0.8, 0.2], [0.75, 0.35, 0.9], [0.2, 0.85, 0.85], [0.9, 0.5, 0.7]], np.float32)


def dominant_source(fused: np.ndarray, frames: Sequence[np.ndarray], window: int = 9) -> np.ndarray:
    """``(H, W)`` index of the frame locally closest to ``fused``."""
    y = luminance(fused)
    distance = np.stack([cv2.blur(np.abs(luminance(as_float(f)) - y), (window, window)) for f in frames])
    return distance.argmin(0)


def render_routing_map(fused: np.ndarray, frames: Sequence[np.ndarray], task: str) -> np.ndarray:
    """``(H, W, 3)`` colour map of :func:`dominant_source` shaded by the fused luminance, with a legend."""
    index = dominant_source(fused, frames)
    shade = 0.35 + 0.65 * luminance(fused)[..., None]
    image = PALETTE[index % len(PALETTE)] * shade
    names = ["infrared", "visible"] if task == "vif" else [f"frame {i + 1}" for i in range(len(frames))]
    canvas = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    scale = max(0.4, min(canvas.shape[:2]) / 800)
    for i, name in enumerate(names):
        y = int((18 + 22 * i) * scale / 0.5)
        colour = tuple(int(c * 255) for c in PALETTE[i % len(PALETTE)])
        cv2.putText(canvas, name, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(canvas, name, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255
