"""MEF-SSIM (Ma, Zeng & Wang 2015), single- and multi-scale, vectorised.

The reference MATLAB (``mef_ssim.m``) loops over every 11×11 patch. Every quantity it needs is
a (weighted) patch mean of products of the inputs, so the same numbers come from box and
Gaussian filters over the whole image:

- source patch k: mean μ_k (uniform window), contrast c_k = ‖x_k − μ_k‖ + 0.001;
- structure consistency R = ‖Σ_k (x_k − μ_k)‖ / Σ_k ‖x_k − μ_k‖, p = tan(π/2·R) capped at 10;
- weights w_k = (c_k/11)^p normalised; desired patch r = Σ_k (w_k/c_k)(x_k − μ_k), rescaled to
  the largest contrast max_k c_k;
- Q = (2σ_{rF} + C)/(σ_r² + σ_F² + C), C = (0.03·255)², Gaussian (11, 1.5) weights, mean over
  'valid' positions. σ_r² and σ_{rF} are linear/quadratic in the x_k, so they are sums of
  Gaussian-weighted covariances of the sources and the fused image.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fusecli.metrics.functional import filter_valid, gaussian_window

Array = np.ndarray
_EPS = np.finfo(np.float64).eps


def mef_ssim(f: Array, sources: Sequence[Array], k: float = 0.03, size: int = 11) -> float:
    """MEF-SSIM ↑ (single scale) of fused ``f`` against the exposure stack ``sources`` (0..255)."""
    if min(f.shape) < size:
        raise ValueError(f"MEF-SSIM needs images of at least {size}×{size} pixels")
    n = len(sources)
    box = np.full((size, size), 1.0 / (size * size))
    gauss = gaussian_window(size, 1.5)
    area = size * size
    c = (k * 255.0) ** 2

    mu = [filter_valid(x, box) for x in sources]
    # Uniform-window (co)variances of source pairs: Σ_patch (x_i − μ_i)(x_j − μ_j) / area.
    box_cov = [[None] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            cov = filter_valid(sources[i] * sources[j], box) - mu[i] * mu[j]
            box_cov[i][j] = box_cov[j][i] = cov
    norms = [np.sqrt(np.maximum(area * box_cov[i][i], 0.0)) for i in range(n)]
    contrast = [v + 0.001 for v in norms]

    total_cov = sum(box_cov[i][j] for i in range(n) for j in range(n))
    numerator = np.sqrt(np.maximum(area * total_cov, 0.0))
    denominator = sum(norms)
    r = (numerator + _EPS) / (denominator + _EPS)
    r = np.where(r > 1, 1 - _EPS, np.where(r < 0, _EPS, r))
    p = np.minimum(np.tan(np.pi / 2 * r), 10.0)

    weights = [(cv / size) ** p + _EPS for cv in contrast]
    wsum = sum(weights)
    coef = [wt / wsum / cv for wt, cv in zip(weights, contrast)]  # r = Σ coef_k (x_k − μ_k)

    # ‖r‖² = area · Σ_ij coef_i coef_j cov_box(i, j); rescale r to the largest contrast.
    r_norm = np.sqrt(np.maximum(area * sum(coef[i] * coef[j] * box_cov[i][j] for i in range(n) for j in range(n)), 0.0))
    max_contrast = np.maximum.reduce(contrast)
    scale = np.where(r_norm > 0, max_contrast / np.where(r_norm > 0, r_norm, 1.0), 1.0)

    # Gaussian-weighted (co)variances for the SSIM-style comparison.
    g_mu = [filter_valid(x, gauss) for x in sources]
    g_muf = filter_valid(f, gauss)
    var_r = np.zeros_like(g_muf)
    cov_rf = np.zeros_like(g_muf)
    for i in range(n):
        cov_if = filter_valid(sources[i] * f, gauss) - g_mu[i] * g_muf
        cov_rf += coef[i] * cov_if
        for j in range(n):
            cov_ij = filter_valid(sources[i] * sources[j], gauss) - g_mu[i] * g_mu[j]
            var_r += coef[i] * coef[j] * cov_ij
    var_r *= scale * scale
    cov_rf *= scale
    var_f = filter_valid(f * f, gauss) - g_muf * g_muf
    q = (2 * cov_rf + c) / (var_r + var_f + c)
    return float(q.mean())


def _downsample(x: Array) -> Array:
    """MATLAB ``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then every second pixel."""
    padded = np.pad(x, ((0, 1), (0, 1)), mode="symmetric")
    avg = 0.25 * (padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:])
    return avg[0::2, 0::2]


MS_WEIGHTS = np.array([0.0448, 0.2856, 0.3001])


def mef_ms_ssim(f: Array, sources: Sequence[Array], levels: int = 3) -> float:
    """MEF-MS-SSIM ↑ — Π_l Q_l^{β_l} over 3 scales, β = [0.0448, 0.2856, 0.3001]/Σ (MEFB's "MEF_SSIM")."""
    weights = MS_WEIGHTS[:levels] / MS_WEIGHTS[:levels].sum()
    scores = []
    for level in range(levels):
        scores.append(mef_ssim(f, sources))
        if level < levels - 1:
            f = _downsample(f)
            sources = [_downsample(x) for x in sources]
    return float(np.prod(np.maximum(np.array(scores), 0.0) ** weights))
