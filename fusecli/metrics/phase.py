"""Qp — Zhao, Laganière & Liu 2007: how well the fused image keeps the sources' phase
congruency features (Z. Liu's ``metricZhao.m`` with his ``myphasecong3``, as in MEFB).

Phase congruency is Kovesi's PC_2 measure (``phasecong3``): log-Gabor filters at 4 scales and
6 orientations, applied by FFT, with noise compensation from the smallest scale. Gray float64
images on 0..255, ``(H, W)``; two sources.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.fft

from fusecli.metrics.functional import filter_same, gaussian_window

Array = np.ndarray

_EPSILON = 1e-4


def _centred_axis(n: int) -> Array:
    """Kovesi's frequency axis, normalised to ±0.5 (odd sizes span exactly −0.5..0.5)."""
    if n % 2:
        return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1)
    return np.arange(-n / 2, n / 2) / n


def _lowpass(rows: int, cols: int, cutoff: float = 0.45, order: int = 15) -> Array:
    """Kovesi's ``lowpassfilter``: a Butterworth low-pass, zero frequency at the corner."""
    x = (np.arange(1, cols + 1)[None, :] - (cols // 2 + 1)) / cols
    y = (np.arange(1, rows + 1)[:, None] - (rows // 2 + 1)) / rows
    radius = np.sqrt(x * x + y * y)
    return np.fft.fftshift(1.0 / (1.0 + (radius / cutoff) ** (2 * order)))


def phase_congruency(image: Array, nscale: int = 4, norient: int = 6) -> tuple[Array, Array, Array]:
    """(phase congruency, maximum moment M, minimum moment m) of a gray image, as Liu's
    ``myphasecong3`` (Kovesi's ``phasecong3`` defaults: minimum wavelength 3, scale factor 2.1,
    σ_onf 0.55, dθ/σ 1.2, k = 2, cut-off 0.5, g = 10)."""
    min_wavelength, mult, sigma_onf, dtheta_on_sigma, k, cut_off, g = 3, 2.1, 0.55, 1.2, 2.0, 0.5, 10
    theta_sigma = math.pi / norient / dtheta_on_sigma
    rows, cols = image.shape
    image_fft = scipy.fft.fft2(image)

    x, y = np.meshgrid(_centred_axis(cols), _centred_axis(rows))
    radius = np.sqrt(x * x + y * y)
    radius[rows // 2, cols // 2] = 1.0
    theta = np.arctan2(-y, x)
    radius, theta = np.fft.ifftshift(radius), np.fft.ifftshift(theta)
    sin_theta, cos_theta = np.sin(theta), np.cos(theta)

    lowpass = _lowpass(rows, cols)
    log_gabor = []
    for s in range(nscale):
        fo = 1.0 / (min_wavelength * mult**s)
        radial = np.exp(-(np.log(radius / fo) ** 2) / (2 * math.log(sigma_onf) ** 2)) * lowpass
        radial[0, 0] = 0.0
        log_gabor.append(radial)

    total_energy = np.zeros((rows, cols))
    total_sum_an = np.zeros((rows, cols))
    covx2 = np.zeros((rows, cols))
    covy2 = np.zeros((rows, cols))
    covxy = np.zeros((rows, cols))
    for o in range(norient):
        angle = o * math.pi / norient
        ds = sin_theta * math.cos(angle) - cos_theta * math.sin(angle)
        dc = cos_theta * math.cos(angle) + sin_theta * math.sin(angle)
        spread = np.exp(-(np.abs(np.arctan2(ds, dc)) ** 2) / (2 * theta_sigma**2))

        responses, ifft_filters = [], []
        sum_e = np.zeros((rows, cols))
        sum_o = np.zeros((rows, cols))
        sum_an = np.zeros((rows, cols))
        for s in range(nscale):
            filt = log_gabor[s] * spread
            ifft_filters.append(np.real(scipy.fft.ifft2(filt)) * math.sqrt(rows * cols))
            eo = scipy.fft.ifft2(image_fft * filt)
            responses.append(eo)
            amplitude = np.abs(eo)
            sum_an += amplitude
            sum_e += eo.real
            sum_o += eo.imag
            if s == 0:
                em_n = float((filt * filt).sum())
                max_an = amplitude
            else:
                max_an = np.maximum(max_an, amplitude)

        x_energy = np.sqrt(sum_e * sum_e + sum_o * sum_o) + _EPSILON
        mean_e, mean_o = sum_e / x_energy, sum_o / x_energy
        energy = np.zeros((rows, cols))
        for eo in responses:
            e, od = eo.real, eo.imag
            energy += e * mean_e + od * mean_o - np.abs(e * mean_o - od * mean_e)

        median_e2n = float(np.median(np.abs(responses[0]) ** 2))
        noise_power = (-median_e2n / math.log(0.5)) / em_n
        est_sum_an2 = sum(float((f * f).sum()) for f in ifft_filters)
        est_sum_aiaj = sum(
            float((ifft_filters[i] * ifft_filters[j]).sum()) for i in range(nscale - 1) for j in range(i + 1, nscale)
        )
        noise_energy2 = 2 * noise_power * est_sum_an2 + 4 * noise_power * est_sum_aiaj
        tau = math.sqrt(noise_energy2 / 2)
        threshold = (tau * math.sqrt(math.pi / 2) + k * math.sqrt((2 - math.pi / 2) * tau * tau)) / 1.7
        energy = np.maximum(energy - threshold, 0.0)

        width = sum_an / (max_an + _EPSILON) / nscale
        weight = 1.0 / (1 + np.exp((cut_off - width) * g))
        total_sum_an += sum_an
        total_energy += weight * energy
        pc = weight * energy / sum_an
        covx, covy = pc * math.cos(angle), pc * math.sin(angle)
        covx2 += covx * covx
        covy2 += covy * covy
        covxy += covx * covy

    congruency = total_energy / (total_sum_an + _EPSILON)
    covx2, covy2, covxy = covx2 / (norient / 2), covy2 / (norient / 2), covxy / norient
    denom = np.sqrt(covxy * covxy + (covx2 - covy2) ** 2) + _EPSILON
    return congruency, (covy2 + covx2 + denom) / 2, (covy2 + covx2 - denom) / 2


def _feature_agreement(a: Array, b: Array, peak: Array, f: Array, masks: tuple[Array, Array, Array]) -> float:
    """Liu's ``correlation_coeffcient``: local correlation (11×11 Gaussian, 'same', zero
    padding) of the fused feature map with each source's and with their maximum, each inside its
    mask; the best of the three per pixel, summed over the maximum's mask area."""
    window = gaussian_window(11, 1.5)
    c = 1e-4
    mu_f = filter_same(f, window)
    var_f = filter_same(f * f, window) - mu_f * mu_f
    scores = []
    for feature, mask in zip((a, b, peak), masks):
        x = feature * mask
        mu = filter_same(x, window)
        var = filter_same(x * x, window) - mu * mu
        cov = filter_same(x * f, window) - mu * mu_f
        scores.append(np.where(mask, (cov + c) / (np.sqrt(np.abs(var * var_f)) + c), 0.0))
    area = float(masks[2].sum())
    return float(np.max(scores, axis=0).sum() / area) if area else math.nan


def qp(f: Array, sources: Sequence[Array], threshold: float = 0.1) -> float:
    """Qp ↑ — the product of the agreements of phase congruency, maximum and minimum moment
    between the fused image and the sources (where their phase congruency exceeds 0.1)."""
    if len(sources) != 2:
        raise ValueError(f"Qp is defined for two sources, not {len(sources)}")
    pc1, big1, small1 = phase_congruency(np.asarray(sources[0], dtype=np.float64))
    pc2, big2, small2 = phase_congruency(np.asarray(sources[1], dtype=np.float64))
    pcf, bigf, smallf = phase_congruency(np.asarray(f, dtype=np.float64))
    first = pc1 > pc2
    masks = (pc1 > threshold, pc2 > threshold, np.where(first, pc1, pc2) > threshold)
    result = 1.0
    for one, two, fused in ((pc1, pc2, pcf), (big1, big2, bigf), (small1, small2, smallf)):
        result *= _feature_agreement(one, two, np.where(first, one, two), fused, masks)
    return result
