"""Laplacian pyramids (Burt & Adelson) and the weighted pyramid blend the training-free methods share.

Per-pixel weights blend in the pyramid without seams or halos; float32 keeps 16-bit inputs exact.
Frames are ``(H, W)`` or ``(H, W, 3)``, float32 in 0..1 (or stored uint8 / uint16 where a
method says so).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from fusecli.errors import InputMismatchError
from fusecli.imaging import as_float

Frames = Sequence[np.ndarray]


def pyramid_levels(shape: tuple[int, int]) -> int:
    """Levels for an image of ``shape``: down to 16-31 px, at most 8 (tiles use the whole image's).
    The depth of focus-fusion and pyramid-vif (deeper does not score better there)."""
    return max(1, min(8, int(np.log2(max(1, min(shape)))) - 3))


def _levels(shape: tuple[int, int], requested: int | None = None) -> int:
    return requested if requested else pyramid_levels(shape)


def gaussian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    pyramid = [image]
    for _ in range(levels - 1):
        pyramid.append(cv2.pyrDown(pyramid[-1]))
    return pyramid


def laplacian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    gauss = gaussian_pyramid(image, levels)
    pyramid = []
    for fine, coarse in zip(gauss[:-1], gauss[1:]):
        up = cv2.pyrUp(coarse, dstsize=(fine.shape[1], fine.shape[0]))
        pyramid.append(np.subtract(fine, up, out=up))  # into the fresh array: no new 24 MP allocation
    pyramid.append(gauss[-1])
    return pyramid


def collapse(pyramid: list[np.ndarray]) -> np.ndarray:
    image = pyramid[-1]
    for detail in reversed(pyramid[:-1]):
        image = cv2.pyrUp(image, dstsize=(detail.shape[1], detail.shape[0])) + detail
    return image


def _weighted_laplacian(frame: np.ndarray, weight: np.ndarray, levels: int) -> list[np.ndarray]:
    """``frame``'s Laplacian pyramid, each level times the Gaussian pyramid of ``weight`` ``(H, W)``."""
    frame = np.asarray(frame, np.float32)
    lap = laplacian_pyramid(frame, levels)
    gw = gaussian_pyramid(weight, levels)
    # in place but for a one-level pyramid, whose only level is the caller's frame
    return [np.multiply(l, g[..., None] if l.ndim == 3 else g, out=None if l is frame else l) for l, g in zip(lap, gw)]


def pyramid_blend(frames: Frames, weights: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Blend ``frames`` with per-pixel ``weights`` ``(N, H, W)`` (normalised here) in a Laplacian pyramid."""
    weights = np.asarray(weights, np.float32)
    weights = weights / np.maximum(weights.sum(0, keepdims=True), 1e-12)
    blend = _StreamingBlend(_levels(frames[0].shape[:2], levels))
    for frame, weight in zip(frames, weights):
        blend.add(np.asarray(frame), weight)
    return blend.result()


def _in_order(pool: ThreadPoolExecutor, workers: int, work: Callable, *items: Sequence) -> Iterator:
    """``pool.map(work, *items)`` in order, but with only ``workers`` (the pool's) calls in
    flight: their results (full-resolution arrays) are not computed ahead and held."""
    for start in range(0, len(items[0]), workers):
        yield from pool.map(work, *(seq[start : start + workers] for seq in items))


def _check(frames: Frames, keep_integers: bool = False) -> list[np.ndarray]:
    """Frames of one size and layout, as float32 in 0..1 (uint8/uint16 kept with ``keep_integers``)."""
    frames = [f if keep_integers and f.dtype in (np.uint8, np.uint16) else as_float(f) for f in map(np.asarray, frames)]
    if len(frames) < 2:
        raise InputMismatchError(f"fusion needs at least 2 images, got {len(frames)}")
    if len({f.shape[:2] for f in frames}) > 1:
        raise InputMismatchError("all images to fuse must have the same size")
    if len({f.ndim for f in frames}) > 1:  # mixed gray and colour: promote to RGB
        frames = [np.repeat(f[..., None], 3, 2) if f.ndim == 2 else f[..., :3] for f in frames]
    return frames


class _StreamingBlend:
    """:func:`pyramid_blend` one frame at a time: the sum of each frame's Laplacian pyramid
    times its (already normalised) weight's Gaussian pyramid, added level by level in frame
    order, so the result is the same. Its full-resolution scratch arrays are reused from frame
    to frame: on a 24 MP frame, fresh 300 MB arrays cost as much in page faults as the arithmetic."""

    def __init__(self, levels: int):
        self.levels = levels
        self.sum: list[np.ndarray] | None = None
        self._float: np.ndarray | None = None  # the frame as float32 (8/16-bit frames)
        self._detail: np.ndarray | None = None  # its finest Laplacian level, weighted

    def add(self, frame: np.ndarray, weight: np.ndarray) -> None:
        """Add ``frame`` (stored pixels, ``(H, W)`` or ``(H, W, C)``) with ``weight`` ``(H, W)``."""
        stored = frame.dtype in (np.uint8, np.uint16)  # converted into the reused buffer
        if stored and (self._float is None or self._float.shape != frame.shape):
            self._float = np.empty(frame.shape, np.float32)
        image = as_float(frame, out=self._float if stored else None)
        if self.levels < 2 or min(image.shape[:2]) < 2:
            terms = _weighted_laplacian(image, weight, self.levels)
        else:
            h, w = image.shape[:2]
            down = cv2.pyrDown(image)
            if self._detail is None or self._detail.shape != image.shape:
                self._detail = np.empty(image.shape, np.float32)
            detail = cv2.pyrUp(down, dst=self._detail, dstsize=(w, h))
            np.subtract(image, detail, out=detail)
            np.multiply(detail, weight[..., None] if detail.ndim == 3 else weight, out=detail)
            terms = [detail, *_weighted_laplacian(down, cv2.pyrDown(weight), self.levels - 1)]
        if self.sum is None:  # the first frame's terms become the sum (the scratch is handed over)
            self.sum, self._detail = terms, None
        else:
            for total, term in zip(self.sum, terms):
                cv2.add(total, term, dst=total)

    def result(self) -> np.ndarray:
        assert self.sum is not None, "no frame added"
        out = collapse(self.sum)
        return np.clip(out, 0.0, 1.0, out=out)
