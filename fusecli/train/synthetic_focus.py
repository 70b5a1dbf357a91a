"""Synthetic multi-focus pairs with a known all-in-focus ground truth.

The real MFF data has no ground truth, so a model distilled from a focus measure can at best
copy it. Like the classic learned MFF methods (CNN-MFF, SESF-Fuse, MFI-WHU itself), we make
pairs from sharp photos instead: a random region mask ``M``, the near shot sharp on ``M`` and
defocused elsewhere, the far shot the other way round:

    near = M S + (1 - M) blur(S),   far = M blur'(S) + (1 - M) S

with independent Gaussian or disc (lens aperture) blurs. The target is ``S`` itself.

Arrays are ``(H, W)`` float32 luminance in 0..1.
"""

from __future__ import annotations

import cv2
import numpy as np


def focus_mask(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random ``{0, 1}`` region map: a thresholded smooth noise field (blobs of random
    scale), so both classes cover a random 25-75 % of the image in connected regions."""
    h, w = shape
    cells = int(rng.integers(2, 7))
    noise = rng.standard_normal((cells, cells)).astype(np.float32)
    field = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    level = np.quantile(field, rng.uniform(0.25, 0.75))
    return (field > level).astype(np.float32)


def defocus(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` out of focus: a disc (pill-box) kernel of radius 1.5-5 px or a Gaussian of
    sigma 1-3.5 px, chosen at random."""
    if rng.random() < 0.5:
        radius = rng.uniform(1.5, 5.0)
        size = 2 * int(np.ceil(radius)) + 1
        yy, xx = np.mgrid[:size, :size] - size // 2
        kernel = (np.hypot(yy, xx) <= radius).astype(np.float32)
        kernel = cv2.GaussianBlur(kernel, (3, 3), 0.5)  # soften the rim (no ringing)
        return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    return cv2.GaussianBlur(image, (0, 0), rng.uniform(1.0, 3.5), borderType=cv2.BORDER_REFLECT)


def defocus_pair(sharp: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(near, far, mask)`` from one sharp ``(H, W)`` image; ``mask`` = 1 where ``near`` is sharp.

    A small gain difference (up to 3 %) between the shots, as between real exposures, half the time.
    """
    if sharp.ndim != 2:
        raise ValueError(f"sharp must be (H, W) luminance, got {sharp.shape}")
    sharp = sharp.astype(np.float32)
    mask = focus_mask(sharp.shape, rng)
    near = mask * sharp + (1 - mask) * defocus(sharp, rng)
    far = mask * defocus(sharp, rng) + (1 - mask) * sharp
    if rng.random() < 0.5:
        near = near * np.float32(rng.uniform(0.97, 1.03))
    return np.clip(near, 0, 1), np.clip(far, 0, 1), mask


def sharpest_frame(frames: list[np.ndarray]) -> np.ndarray:
    """The frame of an exposure stack to use as a sharp photo: the best exposed one (mean
    luminance closest to 0.5), since dark and bright frames have clipped, textureless areas."""
    return min(frames, key=lambda f: abs(float(np.mean(f, dtype=np.float32)) - 0.5))
