"""PIQE (Venkatanath et al. 2015, "Blind image quality evaluation using perception based features").

PIQE ↓ (0 best .. 100 worst) needs no model. On MSCN coefficients of the 0..255 gray image
(7x7 Gaussian, sigma 7/6, replicate borders), each 16x16 block whose variance exceeds 0.1 is
"spatially active"; an active block is distorted
- by a noticeable artifact (blockiness) when some 6-pixel segment of one of its four edges
  has a standard deviation below 0.1 — it then adds ``1 - variance``;
- by noise when its standard deviation ``s`` exceeds ``2 beta``, ``beta = |s - r| / max(s, r)``
  with ``r`` the ratio of the std of the two centre columns to the std of the surround — it
  then adds ``variance``.
``PIQE = 100 (sum + 1) / (active blocks + 1)``; a featureless image scores 100. Conventions
follow MATLAB's ``piqe`` (Image Processing Toolbox): the image is rounded to integers and
padded (replicate) to whole blocks, standard deviations use N - 1, and the surround excludes
the 8th and 10th columns (1-based) of the block, as that implementation does.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fusecli.metrics.niqe import mscn

BLOCK = 16
SEGMENT = 6
ACTIVITY_THRESHOLD = 0.1
IMPAIRED_THRESHOLD = 0.1


def piqe_mscn(gray255: np.ndarray) -> np.ndarray:
    """MSCN of the rounded image padded to whole 16x16 blocks."""
    image = np.round(np.asarray(gray255, np.float64))
    h, w = image.shape
    image = np.pad(image, ((0, (-h) % BLOCK), (0, (-w) % BLOCK)), mode="edge")
    return mscn(image, cv2.BORDER_REPLICATE, np.float64)


def piqe_maps(gray255: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """(score, active, artifact, noise) with one boolean per 16x16 block."""
    norm = piqe_mscn(gray255)
    rows, cols = norm.shape[0] // BLOCK, norm.shape[1] // BLOCK
    blocks = norm.reshape(rows, BLOCK, cols, BLOCK).transpose(0, 2, 1, 3)  # (R, C, 16, 16)
    variance = blocks.reshape(rows, cols, -1).var(axis=-1, ddof=1)
    active = variance > ACTIVITY_THRESHOLD

    edges = np.stack([blocks[..., 0, :], blocks[..., :, -1], blocks[..., -1, :], blocks[..., :, 0]], axis=2)  # (R, C, 4, 16)
    segment_std = sliding_window_view(edges, SEGMENT, axis=-1).std(axis=-1, ddof=1)  # (R, C, 4, 11)
    artifact = active & (segment_std < IMPAIRED_THRESHOLD).any(axis=(-1, -2))

    sigma = np.sqrt(variance)
    centre = blocks[..., :, 7:9].reshape(rows, cols, -1).std(axis=-1, ddof=1)
    surround_cols = [c for c in range(BLOCK) if c not in (7, 9)]
    surround = blocks[..., :, surround_cols].reshape(rows, cols, -1).std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.nan_to_num(centre / surround, nan=0.0, posinf=0.0)
        beta = np.abs(sigma - ratio) / np.maximum(sigma, ratio)
    noise = active & (sigma > 2 * np.nan_to_num(beta, nan=0.0))

    distortion = float(np.sum(artifact * (1 - variance)) + np.sum(noise * variance))
    score = 100.0 * (distortion + 1) / (int(active.sum()) + 1)
    return score, active, artifact, noise


def piqe(gray255: np.ndarray) -> float:
    """PIQE ↓ of a gray image on 0..255."""
    return piqe_maps(gray255)[0]
