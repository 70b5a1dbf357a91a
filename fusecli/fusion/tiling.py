"""Fusing large images in overlapping tiles with seamless blending, so memory stays bounded.

Tiles overlap by ``overlap`` pixels; each tile's result is weighted by a raised-cosine ramp
across the overlap (1 inside, tapering to a small positive value at interior edges, 1 at
the image border) and the weighted results are normalised. Neighbouring tiles therefore
hand over smoothly instead of meeting at a hard line.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence

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


def _scale_strips(array: np.ndarray, rows: np.ndarray, cols: np.ndarray, divide: bool = False) -> None:
    """Multiply (or divide) ``array`` in place by ``rows[:, None] * cols[None, :]`` touching
    only the rows/columns where the factor is not 1 (the thin overlap strips)."""
    op = np.divide if divide else np.multiply
    for axis, factors in ((0, rows), (1, cols)):
        where = np.flatnonzero(factors != 1)
        if where.size == 0:
            continue
        for lo, hi in _runs(where):
            index = (slice(lo, hi),) if axis == 0 else (slice(None), slice(lo, hi))
            shape = (-1, 1) if axis == 0 else (1, -1)
            f = factors[lo:hi].reshape(shape + (1,) * (array.ndim - 2))
            op(array[index], f, out=array[index])


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs of sorted ``indices`` as ``[start, stop)`` pairs."""
    breaks = np.flatnonzero(np.diff(indices) != 1)
    starts = np.concatenate([[indices[0]], indices[breaks + 1]])
    stops = np.concatenate([indices[breaks], [indices[-1]]]) + 1
    return list(zip(starts.tolist(), stops.tolist()))


def is_tiled(shape: tuple[int, int], tile: int) -> bool:
    """Whether :func:`run_tiled` cuts an image of ``shape`` into tiles: not when it fits in
    ``tile * 1.25`` on both sides (one tile is cheaper than blending several)."""
    return shape[0] > tile * 1.25 or shape[1] > tile * 1.25


def _in_order(fuse_tile: Callable, frames: Sequence[np.ndarray], jobs: list[tuple[slice, slice]], workers: int) -> Iterator[Any]:
    """``fuse_tile`` of each tile, in ``jobs`` order; with ``workers`` > 1 that many at a time in
    threads (no more tiles held than that)."""
    if workers <= 1 or len(jobs) <= 1:
        for rows, cols in jobs:
            yield fuse_tile([f[rows, cols] for f in frames], (rows, cols))
        return
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(jobs), workers):
            yield from pool.map(lambda where: fuse_tile([f[where] for f in frames], where), jobs[start : start + workers])


def run_tiled(
    fuse_tile: Callable[[list[np.ndarray], tuple[slice, slice]], Any],
    frames: Sequence[np.ndarray],
    tile: int,
    overlap: int,
    align: int = 1,
    workers: int = 1,
) -> Any:
    """Apply ``fuse_tile(tile_frames, (rows, cols))`` over overlapping tiles and blend.

    ``frames``: ``(H, W)`` or ``(H, W, C)`` arrays of any dtype (converted per tile by
    ``fuse_tile``); returns float32 ``(H, W)`` or ``(H, W, C)``, or a tuple of such arrays
    (each blended alike) when ``fuse_tile`` returns a tuple. ``align``: see :func:`tile_spans`.
    A single tile when the image fits in ``tile * 1.25`` on both sides.

    The blend weight of a tile is ``ramp_y (x) ramp_x``, so the normaliser is separable too:
    only the overlap strips are ever scaled, the interiors are copied once. ``workers`` > 1 runs
    that many tiles at a time in threads (``fuse_tile`` must release the GIL, as torch and OpenCV
    do); they are blended in the same order whatever ``workers``, so the result is the same bytes.
    """
    h, w = frames[0].shape[:2]
    if not is_tiled((h, w), tile):
        return fuse_tile(list(frames), (slice(0, h), slice(0, w)))
    row_spans, col_spans = tile_spans(h, tile, overlap, align), tile_spans(w, tile, overlap, align)
    norm_rows, norm_cols = np.zeros(h, np.float32), np.zeros(w, np.float32)
    for y, y_end in row_spans:
        norm_rows[y:y_end] += ramp(y_end - y, overlap, y == 0, y_end >= h)
    for x, x_end in col_spans:
        norm_cols[x:x_end] += ramp(x_end - x, overlap, x == 0, x_end >= w)
    jobs = [(slice(y, y_end), slice(x, x_end)) for y, y_end in row_spans for x, x_end in col_spans]

    outs: list[np.ndarray] = []
    is_tuple = False
    for (rows, cols), result in zip(jobs, _in_order(fuse_tile, frames, jobs, workers)):
        is_tuple = isinstance(result, tuple)
        parts = result if is_tuple else (result,)
        ry = ramp(rows.stop - rows.start, overlap, rows.start == 0, rows.stop >= h)
        rx = ramp(cols.stop - cols.start, overlap, cols.start == 0, cols.stop >= w)
        if not outs:
            outs = [np.zeros((h, w, *part.shape[2:]), np.float32) for part in parts]
        for out, part in zip(outs, parts):
            part = np.array(part, np.float32)  # own copy: scaled in place
            _scale_strips(part, ry, rx)
            out[rows, cols] += part
    for out in outs:
        _scale_strips(out, norm_rows, norm_cols, divide=True)
    return tuple(outs) if is_tuple else outs[0]
