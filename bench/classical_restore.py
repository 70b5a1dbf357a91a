"""The "classical restoration + classical fusion" baseline of weights/MODEL_CARD.md.

Given the names of the degradations that were applied (an oracle: the baseline is told what
to fix, the all-in-one model is not), each frame is restored with a standard OpenCV/numpy
method, then fused with the task's training-free method. Frames are ``(H, W)`` float 0..1.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def denoise(x: np.ndarray, strength: float = 12.0) -> np.ndarray:
    """Non-local means (Buades et al.), OpenCV."""
    return cv2.fastNlMeansDenoising(_u8(x), None, h=strength, templateWindowSize=7, searchWindowSize=21).astype(np.float32) / 255.0


def remove_streaks(x: np.ndarray) -> np.ndarray:
    """Rain/snow: 5x5 median filter."""
    return cv2.medianBlur(_u8(x), 5).astype(np.float32) / 255.0


def destripe(x: np.ndarray) -> np.ndarray:
    """IR fixed-pattern stripes: remove each column's deviation from its smoothed neighbours."""
    cols = x.mean(axis=0)
    smooth = cv2.GaussianBlur(cols[None].astype(np.float32), (0, 0), 5)[0]
    return np.clip(x - (cols - smooth)[None], 0, 1)


def dehaze(x: np.ndarray, patch: int = 15, omega: float = 0.95) -> np.ndarray:
    """Dark-channel prior (He et al. 2009) on one channel, box-smoothed transmission."""
    dark = cv2.erode(x.astype(np.float32), np.ones((patch, patch), np.uint8))
    a = float(np.quantile(x, 0.999))
    t = 1 - omega * dark / max(a, 1e-3)
    t = cv2.blur(t, (patch * 2 + 1, patch * 2 + 1))
    return np.clip((x - a) / np.maximum(t, 0.1) + a, 0, 1)


def brighten(x: np.ndarray, target: float = 0.45) -> np.ndarray:
    """Low exposure: gamma that brings the mean to ``target``."""
    mean = float(np.clip(x.mean(), 1e-3, 0.999))
    return np.clip(x, 0, 1) ** (np.log(target) / np.log(mean))


def stretch(x: np.ndarray) -> np.ndarray:
    """Low contrast: 1st..99th percentile to 0..1."""
    lo, hi = np.quantile(x, [0.01, 0.99])
    return np.clip((x - lo) / max(hi - lo, 1e-3), 0, 1)


def sharpen(x: np.ndarray, sigma: float = 2.0, amount: float = 1.0) -> np.ndarray:
    """Blur / down-sampling: unsharp masking."""
    return np.clip(x + amount * (x - cv2.GaussianBlur(x.astype(np.float32), (0, 0), sigma)), 0, 1)


# Applied in this order: noise-like first, then stripes and haze, tone, and sharpening last.
RESTORE = {
    "gaussian_noise": denoise,
    "jpeg": lambda x: denoise(x, 6.0),
    "rain": remove_streaks,
    "snow": remove_streaks,
    "ir_stripes": destripe,
    "haze": dehaze,
    "low_exposure": brighten,
    "low_contrast": stretch,
    "gaussian_blur": sharpen,
    "motion_blur": sharpen,
    "downsample": sharpen,
}


def restore(frame: np.ndarray, ops: Sequence[str]) -> np.ndarray:
    out = frame.astype(np.float32)
    for name in RESTORE:
        if name in ops:
            out = RESTORE[name](out).astype(np.float32)
    return out
