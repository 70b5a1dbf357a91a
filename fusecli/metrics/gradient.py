"""Edge- and perception-based fusion metrics: Qabf, Nabf, Qcv, Qcb.

Gray float64 images on 0..255 unless ``scale`` says otherwise; see ``functional.py``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.fft

from fusecli.metrics.functional import filter_same, freqspace, normalize1

Array = np.ndarray

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)


def rescale(image: Array, scale: float) -> Array:
    """``image · scale``; a scale below 1 divides by its inverse (1/255 -> ``x / 255``, exactly
    MATLAB's ``im2double`` of 8-bit pixels, where ``x · (1/255)`` can differ in the last bit
    and flip the toolboxes' equal-gradient tests)."""
    image = np.asarray(image, dtype=np.float64)
    return image / float(round(1 / scale)) if 0 < scale < 1 else image * scale


def _sobel(image: Array, border: str = "zero") -> tuple[Array, Array]:
    return filter_same(image, SOBEL_X, border), filter_same(image, SOBEL_Y, border)


def _angle(gx: Array, gy: Array) -> Array:
    """atan(gy/gx), π/2 where gx = 0 — float32 (the per-pixel maps need no more precision)."""
    gx32 = gx.astype(np.float32)
    zero = gx32 == 0
    gx32[zero] = 1
    a = np.arctan(gy.astype(np.float32) / gx32)
    a[zero] = np.float32(math.pi / 2)
    return a


CONV_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)  # the toolboxes' h3
CONV_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)  # and h1


def _conv2_same(image: Array, kernel: Array) -> Array:
    """MATLAB ``conv2(image, kernel, 'same')`` for a 3×3 kernel, zero padding, with the taps
    summed in a fixed order (kernel columns right to left, rows top to bottom: Octave's order).

    Qabf's equal-gradient quirk (G = g_F where g_A = g_F) makes ties matter, and on 8-bit data
    mathematically equal gradients are common: whether two compare equal depends on the order
    of the sums. A fixed order gives the same result on every machine and OpenCV build.
    """
    h, w = image.shape
    padded = np.pad(np.asarray(image, dtype=np.float64), 1)
    total = None
    for j in (2, 1, 0):
        for i in (0, 1, 2):
            if kernel[i, j] == 0:
                continue
            term = padded[2 - i : 2 - i + h, 2 - j : 2 - j + w] * kernel[i, j]
            total = term if total is None else total + term
    return total


def _strength_angle(image: Array, snap: bool = True) -> tuple[Array, Array]:
    """Gradient magnitude (float64) and atan(gy/gx) orientation (π/2 where gx = 0), as in every
    toolbox (``conv2`` with h3 and h1).

    atan (not atan2) jumps from +π/2 to −π/2 as gx crosses 0, so a gx that is 0 up to float
    round-off (8-bit values read through float32 carry ~1e-5 of it at 0..255) would pick a side
    at random and Qabf would count an edge as reversed. A |gx| below 4e-6 of the image's
    largest value (1e-3 at 0..255; float32 round-off stays under 2e-4, the smallest real
    response of 16-bit data is 4e-3) is 0, as it is on exact integer data.
    ``snap=False`` keeps the round-off: Tang's suite divides 8-bit pixels by 255, so its own
    result depends on it, and the fixed summation order reproduces it.
    """
    gx, gy = _conv2_same(image, CONV_X), _conv2_same(image, CONV_Y)
    if snap:
        gx[np.abs(gx) <= 4e-6 * float(np.abs(image).max(initial=0.0))] = 0.0
    return np.sqrt(gx * gx + gy * gy), _angle(gx, gy)


def _ratio(ga: Array, gf: Array, equal: Array | float) -> Array:
    """min(ga, gf) / max(ga, gf) with ``equal`` where the strengths are equal (float32)."""
    a, f = ga.astype(np.float32), gf.astype(np.float32)
    big = np.maximum(a, f)
    out = np.minimum(a, f) / np.where(big == 0, np.float32(1), big)
    same = ga == gf
    out[same] = equal[same] if isinstance(equal, np.ndarray) else equal
    return out


def _petrovic_q(ga: Array, aa: Array, gf: Array, af: Array) -> Array:
    """Xydeas–Petrovic edge preservation Q^{AF} (Tg=0.9994, kg=−15, Dg=0.5, Ta=0.9879, ka=−22, Da=0.8)."""
    g = _ratio(ga, gf, gf.astype(np.float32))
    a = 1 - np.abs(aa - af) / np.float32(math.pi / 2)
    qg = np.float32(0.9994) / (1 + np.exp(np.float32(-15) * (g - np.float32(0.5))))
    qa = np.float32(0.9879) / (1 + np.exp(np.float32(-22) * (a - np.float32(0.8))))
    return qg * qa


def qabf(f: Array, sources: Sequence[Array], scale: float = 1.0) -> float:
    """Qabf ↑ — Xydeas & Petrović 2000 edge-information preservation, in [0, 1].

    Q = Σ_k Σ Q^{X_k F}·g_{X_k} / Σ_k Σ g_{X_k}; Sobel with zero padding, L = 1. The
    everyone-keeps-it quirk "equal strengths -> G = g_F" is kept; ``scale`` = 1/255 scores
    Tang's 0..1 data (only that quirk makes Qabf depend on scale).
    """
    snap = scale >= 1  # see _strength_angle
    gf, af = _strength_angle(rescale(f, scale), snap)
    num = den = 0.0
    for x in sources:
        gx, ax = _strength_angle(rescale(x, scale), snap)
        num += float(np.dot(_petrovic_q(gx, ax, gf, af).ravel().astype(np.float64), gx.ravel()))
        den += float(gx.sum())
    return num / den if den > 0 else 0.0


def _window_sum(image: Array, kernel: Array) -> Array:
    """Correlation summed in MATLAB's ``sum(sum(window .* kernel))`` order (down each kernel
    column, then across), on a mirrored border: bit-identical to Kumar's loop, so that ties
    between gradients (frequent on 8-bit data) break the same way."""
    h, w = image.shape
    padded = np.pad(np.asarray(image, dtype=np.float64), 1, mode="reflect")
    total = None
    for j in range(3):
        column = None
        for i in range(3):
            term = padded[i : i + h, j : j + w] * kernel[i, j]
            column = term if column is None else column + term
        total = column if total is None else total + column
    return total


def _kumar_gradient(image: Array) -> tuple[Array, Array]:
    """Kumar's ``sobel_fn``: Sobel/8 on a mirrored border; strength and atan(gv/gh) with gv the
    horizontal derivative (±π/2 where gh = 0, 0 where both are 0), float64 throughout."""
    gv = _window_sum(image, SOBEL_X / 8.0)
    gh = _window_sum(image, -SOBEL_Y / 8.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.arctan(gv / gh)
    angle = np.where((gv == 0) & (gh == 0), 0.0, angle)
    return np.sqrt(gh * gh + gv * gv), angle


def _kumar_q(ga: Array, aa: Array, gf: Array, af: Array) -> Array:
    """Petrović's Q as parameterised in Shreyamsha Kumar's Nabf code (sqrt of Qg·Qa); the
    strength ratio is 0 where either gradient is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(ga > gf, gf / ga, ga / gf)
    g = np.where((ga == 0) | (gf == 0), 0.0, g)
    a = np.abs(np.abs(aa - af) - math.pi / 2) * 2 / math.pi
    qg = 0.9999 / (1 + np.exp(-19 * (g - 0.5)))
    qa = 0.9995 / (1 + np.exp(-22 * (a - 0.5)))
    return np.sqrt(qg * qa)


def nabf(f: Array, sources: Sequence[Array], scale: float = 1.0, weak_weight: float = 0.001) -> float:
    """Nabf ↓ — Shreyamsha Kumar 2013 modified fusion artefacts measure, in [0, 1].

    Kumar's ``objective_fusion_perform_fn`` (Tang's ``analysis_nabf.m``): Sobel/8 on a mirrored
    border; weights w = g^1.5 where g ≥ 2, else ``weak_weight`` (0.001 in Kumar's and Tang's
    code, 0 in IVIF_ZOO); N = Σ na·Σ_k (1 − Q^{X_k F})·w_k / Σ_k w_k with na = 1 where the fused
    gradient exceeds every source's (a created artefact). ``scale`` = 1/255 reproduces Tang's
    0..1 input, where every g < 2 (unweighted Nabf).
    """
    gf, af = _kumar_gradient(rescale(f, scale))
    grads = [_kumar_gradient(rescale(x, scale)) for x in sources]
    artefact = np.all([gf > g for g, _ in grads], axis=0)
    num = np.zeros_like(gf)
    den = np.zeros_like(gf)
    for g, a in grads:
        w = np.where(g >= 2.0, g * np.sqrt(g), weak_weight)
        num += (1 - _kumar_q(g, a, gf, af)) * w
        den += w
    total = float(den.sum())
    return float((artefact * num).sum() / total) if total > 0 else 0.0


def _blocks(x: Array, size: int) -> Array:
    """Split into ``size``×``size`` blocks, zero-padding partial ones (MATLAB blkproc)."""
    h, w = x.shape
    ph, pw = -h % size, -w % size
    x = np.pad(x, ((0, ph), (0, pw)))
    return x.reshape(x.shape[0] // size, size, x.shape[1] // size, size)


def frequency_filter_complex(image: Array, response: Array) -> Array:
    """MATLAB ``ifft2(ifftshift(fftshift(fft2(I)).*H))`` computed literally (complex result)."""
    return scipy.fft.ifft2(scipy.fft.fft2(image) * np.fft.ifftshift(response))


def frequency_filter(image: Array, response: Array) -> Array:
    """The same as :func:`frequency_filter_complex` for a real image and a radially symmetric
    response on MATLAB's freqspace grid: such a response is Hermitian-symmetric after
    ``ifftshift``, so the result is real (MATLAB's imaginary part is ~1e-16 round-off) and
    real FFTs give it at half the cost."""
    h, w = image.shape
    half = np.fft.ifftshift(response)[:, : w // 2 + 1]
    return scipy.fft.irfft2(scipy.fft.rfft2(image) * half, s=(h, w))


def qcv(f: Array, sources: Sequence[Array], window: int = 16, alpha: float = 5.0) -> float:
    """Qcv ↓ — Chen & Varshney 2007 (Z. Liu's ``metricChen.m`` as in VIFB/MEFB), unbounded.

    normalize1 every image; region saliency λ = Σ_block g^α (Sobel, α = 5, 16×16 blocks);
    D = block mean of (CSF ⊛ (X − F))² with the Mannos–Sakrison CSF on MATLAB's freqspace grid
    scaled by (cols/8, rows/8); Q = Σ Σ_k λ_k D_k / Σ Σ_k λ_k. MATLAB keeps the filtered
    difference complex, but its imaginary part is round-off (see :func:`frequency_filter`).
    """
    fn = normalize1(f)
    h, w = f.shape
    u, v = freqspace((h, w))
    r = np.sqrt((u * w / 8.0) ** 2 + (v * h / 8.0) ** 2)
    csf = 2.6 * (0.0192 + 0.144 * r) * np.exp(-((0.144 * r) ** 1.1))
    num = den = 0.0
    for x in sources:
        xn = normalize1(x)
        gx, gy = _sobel(xn)
        g = np.sqrt(gx * gx + gy * gy)
        strength = g * g * g * g * g if alpha == 5 else g**alpha
        saliency = _blocks(strength, window).sum(axis=(1, 3))
        diff = frequency_filter(xn - fn, csf)
        distortion = _blocks(diff * diff, window).mean(axis=(1, 3))
        num += float((saliency * distortion).sum())
        den += float(saliency.sum())
    return num / den if den > 0 else 0.0


def _gaussian31(sigma: float) -> Array:
    ax = np.arange(-15, 16, dtype=np.float64)
    return np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * sigma * sigma)) / (2 * math.pi * sigma * sigma)


def qcb(f: Array, sources: Sequence[Array], im2double: bool = False) -> float:
    """Qcb ↑ — Chen & Blum 2009 (Z. Liu's ``metricChenBlum.m`` as in VIFB/MEFB), in [0, 1].

    normalize1; DoG contrast-sensitivity filter S(r) = e^{−(r/15.387)²} − 0.7622·e^{−(r/1.3456)²}
    on freqspace × (cols/30, rows/30); local contrast C = |G_σ2 ⊛ I / G_σ4 ⊛ I − 1| (31×31
    Gaussians, zero padding); masked C' = C³/(C² + 1e−4); Q_XF = min(C'_X/C'_F, C'_F/C'_X);
    saliency λ_k = C'_k² / Σ_j C'_j²; Q = mean(Σ_k λ_k Q_{X_k F}). Where both contrasts are
    zero the ratio counts as 1 and, where every source has zero contrast, the λ_k are equal
    (MATLAB would return NaN there). ``im2double``: see :func:`normalize1` (MEFB).
    """
    h, w = f.shape
    u, v = freqspace((h, w))
    r = np.sqrt((u * w / 30.0) ** 2 + (v * h / 30.0) ** 2)
    dog = np.exp(-((r / 15.3870) ** 2)) - 0.7622 * np.exp(-((r / 1.3456) ** 2))
    g1, g2 = _gaussian31(2.0), _gaussian31(4.0)

    def masked_contrast(image: Array) -> Array:
        filtered = frequency_filter(normalize1(image, im2double), dog)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.abs(filter_same(filtered, g1) / filter_same(filtered, g2) - 1)
        c = np.nan_to_num(c, nan=0.0, posinf=0.0)
        c2 = c * c
        return c2 * c / (c2 + 1e-4)

    cf = masked_contrast(f)
    cs = [masked_contrast(x) for x in sources]
    weights = np.stack([c * c for c in cs])
    total = weights.sum(0)
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1), 1.0 / len(cs))
    quality = np.zeros_like(cf)
    for weight, c in zip(weights, cs):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(c < cf, c / cf, cf / c)
        ratio = np.where((c == 0) & (cf == 0), 1.0, ratio)
        quality += weight * ratio
    return float(quality.mean())
