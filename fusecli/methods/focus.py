"""Focus fusion: per-pixel focus measure, consistency across the stack, pyramid blending."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from fusecli.imaging.color import stored_luminance
from fusecli.methods.pyramid import Frames, _check, _in_order, _levels, _StreamingBlend


def focus_fusion(frames: Frames, window: int = 9, levels: int | None = None) -> np.ndarray:
    """All-in-focus: local energy of the Laplacian as focus measure, the sharpest frame per
    pixel, a majority (median) filter for consistency, softened weights, pyramid blending.

    Streams over the stack, one frame at a time (8/16-bit frames stay integers until their
    turn), so memory does not grow with the number of frames: a focus stack of 7 or 50 shots
    needs one accumulating pyramid, the running best focus and the choice map, besides the
    stored frames. The result is the same as blending all weights at once (:func:`pyramid_blend`).
    """
    frames = _check(frames, keep_integers=True)
    n_levels = _levels(frames[0].shape[:2], levels)

    def focus(frame: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(cv2.Laplacian(stored_luminance(frame).astype(np.float32, copy=False), cv2.CV_32F) ** 2, -1, (window, window))

    best = choice = None
    workers = max(1, min(2, cv2.getNumThreads()))  # OpenCV releases the GIL
    with ThreadPoolExecutor(workers) as pool:
        for k, energy in enumerate(_in_order(pool, workers, focus, frames)):
            if best is None:
                best, choice = energy, np.zeros(energy.shape, np.uint8 if len(frames) <= 255 else np.uint16)
            else:  # strictly sharper: ties go to the earlier frame, as argmax
                choice[energy > best] = k
                np.maximum(best, energy, out=best)
    del best
    choice = cv2.medianBlur(choice, 5 if min(choice.shape) >= 5 else 1)  # consistency filtering

    def weight(k: int) -> np.ndarray:
        return cv2.GaussianBlur((choice == k).astype(np.float32), (0, 0), 1.0) + np.float32(1e-6)

    total = weight(0)
    for k in range(1, len(frames)):  # summed in frame order, as pyramid_blend normalises
        total += weight(k)
    np.maximum(total, 1e-12, out=total)
    blend = _StreamingBlend(n_levels)
    for k, frame in enumerate(frames):
        blend.add(frame, weight(k) / total)
    return blend.result()
