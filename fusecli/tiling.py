"""Fusing large images in overlapping tiles with seamless blending, so memory stays bounded.

Tiles overlap by ``overlap`` pixels; each tile's result is weighted by a raised-cosine ramp
across the overlap (1 inside, tapering to a small positive value at interior edges, 1 at
the image border) and the weighted results are normalised. Neighbouring tiles therefore
hand over smoothly instead of meeting at a hard line.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def tile_spans(length: int, tile: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of the fewest tiles of about ``tile`` covering ``length`` with at
    least ``overlap`` shared pixels, balanced in size (no sliver tile at the end).

    Starts are multiples of ``align`` so a model that partitions its input (attention
    windows, patches) sees the same partition in every tile as in the whole image; tiles
    grow by up to ``align`` to keep the coverage.
    """
    if length <= tile:
        return [(0, length)]
    overlap = min(overlap, tile // 2)
    count = -(-(length - overlap) // (tile - overlap))
    size = min(tile, -(-(length + (count - 1) * overlap) // count))
    spans = []
    for i in range(count):
        start = round(i * (length - size) / (count - 1)) // align * align
        spans.append((start, min(length, start + size + align - 1)))
    spans[-1] = (spans[-1][0], length)
    return spans


def ramp(size: int, overlap: int, start_edge: bool, end_edge: bool) -> np.ndarray:
    """1-D weights: raised-cosine rise/fall over ``overlap`` at interior edges, flat at image edges."""
    w = np.ones(size, np.float32)
    n = min(overlap, size // 2)
    if n > 0:
        rise = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
        if not start_edge:
            w[:n] = np.minimum(w[:n], rise)
        if not end_edge:
            w[size - n :] = np.minimum(w[size - n :], rise[::-1])
    return np.maximum(w, 1e-4)


def run_tiled(
    fuse_tile: Callable[[list[np.ndarray], tuple[slice, slice]], np.ndarray],
    frames: Sequence[np.ndarray],
    tile: int,
    overlap: int,
    align: int = 1,
) -> np.ndarray:
    """Apply ``fuse_tile(tile_frames, (rows, cols))`` over overlapping tiles and blend.

    ``frames``: ``(H, W)`` or ``(H, W, C)`` arrays of any dtype (converted per tile by
    ``fuse_tile``); returns float32 ``(H, W)`` or ``(H, W, C)``. ``align``: see :func:`tile_spans`. A single tile when the image
    fits in ``tile * 1.25`` on both sides.
    """
    h, w = frames[0].shape[:2]
    if h <= tile * 1.25 and w <= tile * 1.25:
        return fuse_tile(list(frames), (slice(0, h), slice(0, w)))
    out: np.ndarray | None = None
    norm = np.zeros((h, w), np.float32)
    for y, y_end in tile_spans(h, tile, overlap, align):
        for x, x_end in tile_spans(w, tile, overlap, align):
            rows, cols = slice(y, y_end), slice(x, x_end)
            result = fuse_tile([f[rows, cols] for f in frames], (rows, cols))
            th, tw = result.shape[:2]
            weight = np.outer(ramp(th, overlap, y == 0, y + th >= h), ramp(tw, overlap, x == 0, x + tw >= w))
            if out is None:
                out = np.zeros((h, w, *result.shape[2:]), np.float32)
            out[rows, cols] += result * (weight[..., None] if result.ndim == 3 else weight)
            norm[rows, cols] += weight
    assert out is not None
    out /= norm[..., None] if out.ndim == 3 else norm
    return out
