"""A labelled contact sheet of every degradation at heavy and mild, to see what each does."""

from __future__ import annotations

import cv2
import numpy as np

from fusecli.degrade.ops import DEGRADATIONS, LEVELS, apply, sample_params


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` on a dark band at the top of an RGB tile."""
    pixels = np.round(np.clip(tile, 0, 1) * 255).astype(np.uint8)  # OpenCV draws text on 8-bit only
    scale = max(0.35, tile.shape[1] / 600)
    (_, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    band = th + base + 6
    pixels[:band] = (pixels[:band] * 0.35).astype(np.uint8)
    cv2.putText(pixels, text, (4, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return pixels.astype(np.float32) / 255.0


def contact_sheet(image: np.ndarray, seed: int = 0, tile_width: int = 320) -> np.ndarray:
    """Rows: the original, then one row per degradation; columns: heavy, mild.

    ``image``: ``(H, W)`` or ``(H, W, 3)`` float in [0, 1]. Returns an RGB float sheet.
    """
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    h, w = image.shape[:2]
    size = (tile_width, max(1, round(h * tile_width / w)))
    base = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    rgb = lambda x: np.repeat(x[..., None], 3, 2) if x.ndim == 2 else x  # noqa: E731
    gap = np.ones((size[1], 6, 3), np.float32)
    rows = [np.hstack([_label(rgb(base), "original"), gap, np.ones_like(rgb(base))])]
    rng = np.random.default_rng(seed)
    for name in DEGRADATIONS:
        tiles = []
        for level in LEVELS:
            params = sample_params(name, rng, level)
            subject = base if DEGRADATIONS.get(name).modality != "ir" else rgb(base).mean(-1)
            out = apply(name, subject, np.random.default_rng(seed), params)
            tiles.append(_label(rgb(out), f"{name} ({level})"))
        rows.append(np.hstack([tiles[0], gap, tiles[1]]))
    spacer = np.ones((6, rows[0].shape[1], 3), np.float32)
    sheet = [rows[0]]
    for row in rows[1:]:
        sheet += [spacer, row]
    return np.vstack(sheet)
