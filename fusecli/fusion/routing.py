"""Routing maps: which source dominates the fused image where (``fuse --routing-map``).

For every pixel the source whose luminance is locally closest to the fused result (mean
absolute difference over a 9x9 window) wins; the map colours each source (legend in the
top-left corner) and modulates it by the fused luminance so the scene stays recognisable.
This works for every model. Mixture-of-experts models add a second panel: the expert with
the largest routing weight per pixel (MoE-Fusion: which foreground/background local expert;
the all-in-one MoE-DiT: which routed expert of its last block, per token) — the "dynamic
fusion" picture of the MoE-Fusion paper.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from fusecli.imaging.color import luminance
from fusecli.imaging import as_float

PALETTE = np.array([[0.95, 0.35, 0.2], [0.2, 0.55, 0.95], [0.3, 0.85, 0.35], [0.95, 0.8, 0.2], [0.75, 0.35, 0.9], [0.2, 0.85, 0.85], [0.9, 0.5, 0.7]], np.float32)


def dominant_source(fused: np.ndarray, frames: Sequence[np.ndarray], window: int = 9) -> np.ndarray:
    """``(H, W)`` index of the frame locally closest to ``fused``."""
    y = luminance(fused)
    distance = np.stack([cv2.blur(np.abs(luminance(as_float(f)) - y), (window, window)) for f in frames])
    return distance.argmin(0)


def _legend(canvas: np.ndarray, names: Sequence[str]) -> None:
    """Draw coloured ``names`` in the top-left corner of ``canvas`` (uint8, in place)."""
    scale = max(0.4, min(canvas.shape[:2]) / 800)
    for i, name in enumerate(names):
        y = int((18 + 22 * i) * scale / 0.5)
        colour = tuple(int(c * 255) for c in PALETTE[i % len(PALETTE)])
        cv2.putText(canvas, name, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(canvas, name, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def _panel(index: np.ndarray, shade: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``(H, W, 3)`` uint8: palette colour of ``index`` per pixel, shaded, with a legend."""
    image = PALETTE[index % len(PALETTE)] * shade
    canvas = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    _legend(canvas, names)
    return canvas


def render_routing_map(
    fused: np.ndarray,
    frames: Sequence[np.ndarray],
    task: str,
    experts: np.ndarray | None = None,
    expert_names: Sequence[str] = (),
) -> np.ndarray:
    """``(H, W, 3)`` colour map of :func:`dominant_source` shaded by the fused luminance, with a legend.

    With ``experts`` (``(H, W, E)`` routing weights of a mixture-of-experts model) a second
    panel to the right shows the dominant expert per pixel, each legend entry with its share
    of the image: ``(H, 2W, 3)``.
    """
    index = dominant_source(fused, frames)
    shade = (0.35 + 0.65 * luminance(fused))[..., None]
    names = ["infrared", "visible"] if task == "vif" else [f"frame {i + 1}" for i in range(len(frames))]
    panels = [_panel(index, shade, names)]
    if experts is not None and experts.shape[-1]:
        top = experts.argmax(-1)
        share = np.bincount(top.ravel(), minlength=experts.shape[-1]) / top.size
        shown = [i for i in range(experts.shape[-1]) if share[i] > 0]
        remap = np.zeros(experts.shape[-1], np.int64)  # colours for the experts that appear
        remap[shown] = np.arange(len(shown))
        labels = [f"{expert_names[i] if i < len(expert_names) else f'expert {i + 1}'} {100 * share[i]:.0f}%" for i in shown]
        panels.append(_panel(remap[top], shade, labels))
    return np.concatenate(panels, axis=1).astype(np.float32) / 255
