"""Fusion metrics built on local SSIM maps (Z. Liu's MATLAB code, as in MEFB): Qy, Qc, Qw.

Gray float64 images on 0..255, ``(H, W)``; two sources each (the published definitions weigh
one source against the other). Maps use MATLAB ``filter2(..., 'valid')`` statistics.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fusecli.metrics.functional import filter_same, filter_valid, gaussian_window

Array = np.ndarray

_PREWITT_X = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64)
_PREWITT_Y = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=np.float64)


def _two(sources: Sequence[Array], name: str) -> tuple[Array, Array]:
    if len(sources) != 2:
        raise ValueError(f"{name} is defined for two sources, not {len(sources)}")
    return sources[0], sources[1]


def ssim_statistics(a: Array, b: Array, window: Array, c1: float, c2: float) -> tuple[Array, Array, Array, Array]:
    """(SSIM map, σ_a², σ_b², σ_ab) over the window's 'valid' positions (Wang's ``ssim_index``)."""
    mu1, mu2 = filter_valid(a, window), filter_valid(b, window)
    s1 = filter_valid(a * a, window) - mu1 * mu1
    s2 = filter_valid(b * b, window) - mu2 * mu2
    s12 = filter_valid(a * b, window) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s1 + s2 + c2))
    return ssim_map, s1, s2, s12


def _yang_statistics(a: Array, b: Array) -> tuple[Array, Array, Array, Array]:
    """Liu's ``ssim_yang``: 7×7 Gaussian (σ 1.5), C1 = C2 = 2e-16."""
    return ssim_statistics(a, b, gaussian_window(7, 1.5), 2e-16, 2e-16)


def _mean_finite(x: Array) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else float("nan")


def qy(f: Array, sources: Sequence[Array]) -> float:
    """Qy ↑ — Yang et al. 2008 (Liu's ``metricYang.m``), in [0, 1].

    Where the sources are similar (SSIM(A, B) ≥ 0.75) the fused image's SSIM with each is weighed
    by the sources' local variances; elsewhere the better of the two counts.
    """
    a, b = _two(sources, "Qy")
    ab, var_a, var_b, _ = _yang_statistics(a, b)
    af = _yang_statistics(a, f)[0]
    bf = _yang_statistics(b, f)[0]
    similar = ab >= 0.75
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = var_a / (var_a + var_b)
        # literal: an undefined weight (flat sources) makes the pixel NaN, and NaN pixels are dropped
        q = (weight * af + (1 - weight) * bf) * similar + np.maximum(af, bf) * ~similar
    return _mean_finite(q)


def qc(f: Array, sources: Sequence[Array]) -> float:
    """Qc ↑ — Cvejic et al. 2005 (Liu's ``metricCvejic.m``), in [0, 1]: SSIM with each source
    weighed by its covariance with the fused image, σ_AF / (σ_AF + σ_BF), clipped to [0, 1]."""
    a, b = _two(sources, "Qc")
    af, _, _, cov_a = _yang_statistics(a, f)
    bf, _, _, cov_b = _yang_statistics(b, f)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = cov_a / (cov_a + cov_b)
        q = weight * af + (1 - weight) * bf
    q = np.where(weight < 0, 0.0, np.where(weight > 1, 1.0, q))
    return _mean_finite(q)


def _weighted_quality(a: Array, b: Array, f: Array) -> float:
    """Piella's weighted fusion quality index Q_W with Wang's SSIM (11×11 Gaussian, K = 0.01,
    0.03, L = 255): λ = σ_A² / (σ_A² + σ_B²), c = max(σ_A², σ_B²) normalised to sum 1."""
    window = gaussian_window(11, 1.5)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    _, var_a, var_b, _ = ssim_statistics(a, b, window, c1, c2)
    flat = (var_a + var_b) == 0
    var_a, var_b = var_a + 0.5 * flat, var_b + 0.5 * flat
    weight = var_a / (var_a + var_b)
    fa = ssim_statistics(f, a, window, c1, c2)[0]
    fb = ssim_statistics(f, b, window, c1, c2)[0]
    salience = np.maximum(var_a, var_b)
    return float((salience / salience.sum() * (weight * fa + (1 - weight) * fb)).sum())


def qw(f: Array, sources: Sequence[Array]) -> float:
    """Qw ↑ — Piella & Heijmans 2003 weighted fusion quality index, as MEFB computes it (Liu's
    ``metricPeilla.m``, case 3): Q_W of the Prewitt edge-strength images (zero padding)."""
    a, b = _two(sources, "Qw")

    def edges(x: Array) -> Array:
        gx, gy = filter_same(x, _PREWITT_X), filter_same(x, _PREWITT_Y)
        return np.sqrt(gx * gx + gy * gy)

    return _weighted_quality(edges(a), edges(b), edges(f))
