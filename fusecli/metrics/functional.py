"""Pure metric functions on gray images.

Every function takes float64 arrays ``(H, W)`` on the 0..255 scale (unless a parameter says
otherwise) and returns a float. Fusion metrics take the fused image ``f`` and a sequence of
``sources`` (2 or more). Conventions that the public toolboxes disagree on are parameters
here; ``fusecli.metrics.conventions`` sets them per preset. Formulas follow
``shared/METRICS.md``; each docstring names the source paper and direction (↑ / ↓).
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

Array = np.ndarray


# ----------------------------------------------------------------------------- filtering helpers


_BORDERS = {"zero": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101, "replicate": cv2.BORDER_REPLICATE}
_SEPARABLE: dict[bytes, tuple[Array, Array] | None] = {}


def _factors(kernel: Array) -> tuple[Array, Array] | None:
    """Column and row factors of a rank-1 kernel (Gaussian, box), else None. Cached."""
    key = kernel.tobytes() + bytes(str(kernel.shape), "ascii")
    if key not in _SEPARABLE:
        u, s, vt = np.linalg.svd(kernel)
        rank1 = s[0] > 0 and (len(s) == 1 or s[1] <= 1e-12 * s[0])
        _SEPARABLE[key] = (u[:, 0] * math.sqrt(s[0]), vt[0] * math.sqrt(s[0])) if rank1 else None
    return _SEPARABLE[key]


def filter_same(image: Array, kernel: Array, border: str = "zero") -> Array:
    """Correlate like MATLAB ``filter2(kernel, image, 'same')`` (zero padding by default).

    Rank-1 kernels run as two 1-D passes (``sepFilter2D``): same result, far faster. Any input
    dtype (a colour channel arrives as float32) is filtered as float64: OpenCV refuses a float64
    output from some float32 filters, and MATLAB computes in double anyway.
    """
    image = np.asarray(image, dtype=np.float64)
    kh, kw = kernel.shape
    anchor = ((kw - 1) // 2, (kh - 1) // 2)
    factors = _factors(kernel) if min(kh, kw) > 3 else None
    if factors is not None:
        return cv2.sepFilter2D(image, cv2.CV_64F, factors[1], factors[0], anchor=anchor, borderType=_BORDERS[border])
    return cv2.filter2D(image, cv2.CV_64F, kernel, anchor=anchor, borderType=_BORDERS[border])


def filter_valid(image: Array, kernel: Array) -> Array:
    """MATLAB ``filter2(kernel, image, 'valid')``: only positions where the kernel fits."""
    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    same = filter_same(image, kernel)
    return same[top : top + image.shape[0] - kh + 1, left : left + image.shape[1] - kw + 1]


def matlab_round(x: Array) -> Array:
    """MATLAB ``round``: halves away from zero (``np.round`` rounds them to even), exactly:
    ``x - floor(x)`` is exact in floating point, where ``floor(x + 0.5)`` is not."""
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x)
    whole = np.floor(magnitude)
    return np.copysign(whole + (magnitude - whole >= 0.5), x)


def normalize1(x: Array, im2double: bool = False) -> Array:
    """Z. Liu's normalize1: round(255·(x − min)/(max − min)) with MATLAB's round (halves away
    from zero); all-zero images stay zero. ``im2double``: the 0..255 values are first divided by
    255, as MEFB's Qcb does by calling ``im2double`` on uint8 pixels — the same number up to
    floating-point rounding, which decides the rounding of exact halves."""
    x = np.asarray(x, dtype=np.float64)
    if im2double:
        x = x / 255.0
    lo, hi = float(x.min()), float(x.max())
    if lo == 0 and hi == 0:
        return x.copy()
    if hi == lo:  # MATLAB divides 0/0 here; the result is NaN everywhere
        return np.full_like(x, np.nan)
    return matlab_round((x - lo) / (hi - lo) * 255.0)


def gaussian_window(size: int, sigma: float) -> Array:
    """MATLAB ``fspecial('gaussian', size, sigma)``: normalised to sum 1."""
    ax = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2.0 * sigma * sigma))
    g[g < np.finfo(np.float64).eps * g.max()] = 0
    return g / g.sum()


def freqspace(shape: tuple[int, int]) -> tuple[Array, Array]:
    """MATLAB ``freqspace([rows, cols], 'meshgrid')``: frequencies in [-1, 1) per axis."""

    def axis(n: int) -> Array:
        return (np.arange(n) - (n // 2 if n % 2 == 0 else (n - 1) / 2)) * (2.0 / n)

    return np.meshgrid(axis(shape[1]), axis(shape[0]))


# ----------------------------------------------------------------------------- source-free


def entropy(f: Array, binning: str = "round") -> float:
    """EN ↑ — Shannon entropy (bits) of the 256-bin gray histogram.

    ``binning``: ``round`` (CDDFuse: uint8(round(F))) or ``floor`` (VIFB/MEFB: bin = floor(F)).
    """
    values = np.floor(f) if binning == "floor" else np.round(f)
    hist = np.bincount(np.clip(values, 0, 255).astype(np.int64).ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    return float(-(p * np.log2(p)).sum())


def standard_deviation(f: Array, arithmetic: str = "double") -> float:
    """SD ↑ — population standard deviation sqrt(mean((F − μ)²)).

    ``arithmetic="uint8"``: Tang's ``SD_evaluation`` on a uint8 image, where MATLAB's integer
    arithmetic saturates: F − μ is rounded and clipped to 0..255 (pixels below the mean give 0)
    and its square is clipped to 255. Not a standard deviation, but what that suite reports.
    """
    if arithmetic == "uint8":
        below = np.clip(matlab_round(f - f.mean()), 0, 255)
        return float(math.sqrt(np.minimum(below * below, 255).sum() / f.size))
    return float(np.asarray(f, dtype=np.float64).std())


def spatial_frequency(f: Array, denominator: str = "pairs") -> float:
    """SF ↑ — sqrt(RF² + CF²) from squared horizontal/vertical first differences (Eskicioglu 1995).

    ``denominator``: ``pairs`` averages over the M(N−1) and (M−1)N differences (CDDFuse);
    ``mn`` divides both sums by MN (VIFB/MEFB).
    """
    dx = np.diff(f, axis=1) ** 2
    dy = np.diff(f, axis=0) ** 2
    if denominator == "mn":
        rf, cf = dx.sum() / f.size, dy.sum() / f.size
    else:
        rf, cf = dx.mean() if dx.size else 0.0, dy.mean() if dy.size else 0.0
    return float(math.sqrt(rf + cf))


SOBEL_MATLAB = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)  # fspecial('sobel')


def edge_intensity(f: Array) -> float:
    """EI ↑ — mean Sobel gradient magnitude (VIFB/MEFB ``metricsEdge_intensity``: MATLAB
    ``imfilter`` with ``fspecial('sobel')`` and its transpose, replicated border), 0..255 data."""
    gy = filter_same(f, SOBEL_MATLAB, "replicate")
    gx = filter_same(f, SOBEL_MATLAB.T, "replicate")
    return float(np.sqrt(gx * gx + gy * gy).mean())


def average_gradient(f: Array, denominator: str = "mn") -> float:
    """AG ↑ — mean of sqrt((Gx² + Gy²)/2) with MATLAB ``gradient`` (central differences).

    ``denominator``: ``mn`` (CDDFuse) or ``m1n1`` = (M−1)(N−1) (VIFB/MEFB/Tang).
    """
    if min(f.shape) < 2:
        return 0.0
    gy, gx = np.gradient(f)
    total = np.sqrt((gx * gx + gy * gy) / 2.0).sum()
    size = f.size if denominator == "mn" else (f.shape[0] - 1) * (f.shape[1] - 1)
    return float(total / size)


# ----------------------------------------------------------------------------- information theory


def _joint_histogram(a: Array, b: Array, levels: int = 256) -> Array:
    ia = np.clip(np.round(a), 0, levels - 1).astype(np.int64).ravel()
    ib = np.clip(np.round(b), 0, levels - 1).astype(np.int64).ravel()
    return np.bincount(ia * levels + ib, minlength=levels * levels).reshape(levels, levels).astype(np.float64)


def _entropies(joint: Array, base: float) -> tuple[float, float, float]:
    p = joint / joint.sum()
    pa, pb = p.sum(1), p.sum(0)
    log = np.log if base == math.e else (lambda x: np.log(x) / math.log(base))
    h = lambda q: float(-(q[q > 0] * log(q[q > 0])).sum())  # noqa: E731
    return h(pa), h(pb), h(p.ravel())


def mutual_information_pair(a: Array, b: Array, base: float = 2.0) -> float:
    """I(A; B) = H(A) + H(B) − H(A, B) from the joint 256×256 histogram of rounded values."""
    ha, hb, hab = _entropies(_joint_histogram(a, b), base)
    return ha + hb - hab


def minmax_255(x: Array) -> Array:
    """Stretch to 0..255 and round halves away from zero (constant images become 0), as VIFB's
    MI (``int16``) and the ``normalize1`` of MEFB's NMI do."""
    lo, hi = float(x.min()), float(x.max())
    if hi == lo:
        return np.zeros_like(x)
    return matlab_round((x - lo) / (hi - lo) * 255.0)


def mutual_information(f: Array, sources: Sequence[Array], base: float = 2.0, stretch: bool = False, merge_top: bool = False) -> float:
    """MI ↑ — Σ_k I(X_k; F) (Qu et al. 2002), bits by default.

    ``base``: 2 (bits: Tang, IVIF_ZOO) or e (nats: CDDFuse's sklearn, VIFB). ``stretch``: VIFB
    min-max stretches every image to 0..255 first. ``merge_top``: Tang's ``Hab.m`` adds 1 to
    uint8 data, which saturates and merges gray levels 254 and 255.
    """
    def prep(x: Array) -> Array:
        x = minmax_255(x) if stretch else np.round(x)
        return np.minimum(x, 254) if merge_top else x

    fp = prep(f)
    return float(sum(mutual_information_pair(prep(x), fp, base) for x in sources))


def normalized_mutual_information(f: Array, sources: Sequence[Array]) -> float:
    """NMI ↑ — Hossny et al. 2008: Σ_k 2·I(X_k; F) / (H(X_k) + H(F)), bits, after normalize1."""
    fp = minmax_255(f)
    total = 0.0
    for x in sources:
        ha, hb, hab = _entropies(_joint_histogram(minmax_255(x), fp), 2.0)
        total += 2.0 * (ha + hb - hab) / (ha + hb) if ha + hb > 0 else 0.0
    return float(total)


def cross_entropy(f: Array, sources: Sequence[Array]) -> float:
    """CE ↓ — mean over sources of Σ_i P_X(i)·log2(P_X(i)/P_F(i)) over bins where both are non-zero (VIFB)."""
    def hist(x: Array) -> Array:
        h = np.bincount(np.clip(np.round(x), 0, 255).astype(np.int64).ravel(), minlength=256).astype(np.float64)
        return h / h.sum()

    pf = hist(f)
    values = []
    for x in sources:
        px = hist(x)
        ok = (px > 0) & (pf > 0)
        values.append(float((px[ok] * np.log2(px[ok] / pf[ok])).sum()))
    return float(np.mean(values))


# ----------------------------------------------------------------------------- correlation and error


def _corr2(a: Array, b: Array) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def correlation_coefficient(f: Array, sources: Sequence[Array]) -> float:
    """CC ↑ — mean over sources of the Pearson correlation corr(X_k, F)."""
    return float(np.mean([_corr2(x, f) for x in sources]))


def scd(f: Array, sources: Sequence[Array]) -> float:
    """SCD ↑ — Aslantas & Bendes 2015: Σ_k corr(F − X_other, X_k), range [−2, 2] for two sources.

    With more than two sources, ``X_other`` is the mean of the other sources (our extension).
    """
    total = 0.0
    for k, x in enumerate(sources):
        others = [s for j, s in enumerate(sources) if j != k]
        diff = f - (others[0] if len(others) == 1 else np.mean(others, axis=0))
        total += _corr2(diff, x)
    return float(total)


def mse(f: Array, sources: Sequence[Array], scale: float = 1.0) -> float:
    """MSE ↓ — mean over sources of mean((X_k − F)²); ``scale`` 1/255 gives Tang's 0..1 data."""
    return float(np.mean([np.mean(((x - f) * scale) ** 2) for x in sources]))


def rmse_vifb(f: Array, sources: Sequence[Array]) -> float:
    """VIFB's "RMSE" ↓: mean over sources of sqrt(SSE)/(MN) — not a true RMSE, kept for reproduction."""
    return float(np.mean([math.sqrt(float(((x - f) ** 2).sum())) / f.size for x in sources]))


def psnr(f: Array, sources: Sequence[Array], convention: str = "standard") -> float:
    """PSNR ↑ in dB against the sources (MSE averaged over sources).

    ``standard``: 10·log10(255²/MSE). ``max_f``: peak = max(F) (CDDFuse). ``tang``: MSE on
    0..1 data with peak 255 (standard + 48.13 dB). ``vifb``: VIFB's mse() = sqrt(SSE)/(MN).
    """
    if convention == "vifb":
        value = rmse_vifb(f, sources)
        return float(10 * math.log10(255.0**2 / value)) if value > 0 else math.inf
    error = mse(f, sources, 1 / 255 if convention == "tang" else 1.0)
    if error == 0:
        return math.inf
    peak = float(f.max()) if convention == "max_f" else 255.0
    if convention == "tang":
        return float(20 * math.log10(255.0 / math.sqrt(error)))
    return float(10 * math.log10(peak * peak / error))


def mae(f: Array, reference: Array) -> float:
    """MAE ↓ — mean absolute error against a reference image (0..255)."""
    return float(np.abs(f - reference).mean())


def psnr_reference(f: Array, reference: Array) -> float:
    """PSNR ↑ against a reference image: 10·log10(255²/MSE)."""
    error = float(np.mean((f - reference) ** 2))
    return float(10 * math.log10(255.0**2 / error)) if error > 0 else math.inf


# ----------------------------------------------------------------------------- structural similarity

_MS_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def _moments(x: Array, window: Array) -> tuple[Array, Array]:
    mean = filter_valid(x, window)
    return mean, filter_valid(x * x, window) - mean * mean


def _ssim_maps(
    x: Array, y: Array, window: Array, data_range: float, sample_cov: bool = False, y_moments=None
) -> tuple[Array, Array]:
    """SSIM and contrast-structure maps over 'valid' positions of ``window``.

    ``y_moments`` may pass ``y``'s precomputed (mean, variance) when it is shared (the fused image).
    """
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, sxx = _moments(x, window)
    my, syy = y_moments if y_moments is not None else _moments(y, window)
    sxy = filter_valid(x * y, window) - mx * my
    if sample_cov:
        n = window.size
        sxx, syy, sxy = (v * n / (n - 1) for v in (sxx, syy, sxy))
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return ((2 * mx * my + c1) / (mx * mx + my * my + c1)) * cs, cs


def ssim_pair(x: Array, y: Array, data_range: float = 255.0, variant: str = "gaussian") -> float:
    """Wang et al. 2004 SSIM of two images.

    ``gaussian``: 11×11 Gaussian σ=1.5, 'valid' map mean (Wang's reference, VIFB).
    ``skimage_uniform``: scikit-image's defaults — 7×7 uniform window, sample covariance,
    border of 3 cropped (what CDDFuse's Evaluator calls, with data_range 2 on skimage ≤ 0.19).
    """
    if variant == "skimage_uniform":
        window = np.full((7, 7), 1 / 49.0)
        smap, _ = _ssim_maps(x, y, window, data_range, sample_cov=True)
        return float(smap.mean())
    if min(x.shape) < 11:
        raise ValueError("SSIM needs images of at least 11×11 pixels")
    smap, _ = _ssim_maps(x, y, gaussian_window(11, 1.5), data_range)
    return float(smap.mean())


def ssim(f: Array, sources: Sequence[Array], data_range: float = 255.0, variant: str = "gaussian") -> float:
    """SSIM ↑ for fusion — Σ_k SSIM(X_k, F) (range up to the number of sources)."""
    if variant != "gaussian":
        return float(sum(ssim_pair(x, f, data_range, variant) for x in sources))
    if min(f.shape) < 11:
        raise ValueError("SSIM needs images of at least 11×11 pixels")
    window = gaussian_window(11, 1.5)
    shared = _moments(f, window)
    return float(sum(_ssim_maps(x, f, window, data_range, y_moments=shared)[0].mean() for x in sources))


def _avg_pool2(x: Array) -> Array:
    """2×2 average pooling; odd sizes padded like pytorch_msssim (zero pad, counted)."""
    h, w = x.shape
    if h % 2 or w % 2:
        x = np.pad(x, ((0, h % 2), (0, w % 2)))
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def ms_ssim_pair(x: Array, y: Array, data_range: float = 255.0) -> float:
    """Wang et al. 2003 MS-SSIM: 5 scales, weights [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]."""
    if min(x.shape) <= 160:
        raise ValueError("MS-SSIM needs images larger than 160 pixels on the short side (5 scales)")
    window = gaussian_window(11, 1.5)
    values = []
    for level in range(5):
        smap, cs = _ssim_maps(x, y, window, data_range)
        values.append(max(float(cs.mean()), 0.0) if level < 4 else max(float(smap.mean()), 0.0))
        x, y = _avg_pool2(x), _avg_pool2(y)
    return float(np.prod(np.array(values) ** _MS_WEIGHTS))


def ms_ssim(f: Array, sources: Sequence[Array], data_range: float = 255.0) -> float:
    """MS-SSIM ↑ for fusion — Σ_k MS-SSIM(X_k, F)."""
    return float(sum(ms_ssim_pair(x, f, data_range) for x in sources))


def ssim_reference(f: Array, reference: Array) -> float:
    """SSIM ↑ against a reference image (Gaussian 11/1.5, L = 255)."""
    return ssim_pair(reference, f)


def ms_ssim_reference(f: Array, reference: Array) -> float:
    """MS-SSIM ↑ against a reference image."""
    return ms_ssim_pair(reference, f)


# ----------------------------------------------------------------------------- visual information fidelity


def _product(x: Array, y: Array, scale: int, uint8: bool) -> Array:
    """x·y; with ``uint8`` the first scale's products saturate at 255, as MATLAB's ``ref.*ref``
    does on the uint8 images Tang's suite passes to ``vifp_mscale`` (later scales are doubles)."""
    return np.minimum(x * y, 255.0) if uint8 and scale == 1 else x * y


def _vif_pyramid(image: Array, uint8: bool = False) -> list[tuple[Array, Array, Array, Array]]:
    """Per VIF scale: (image, window, local mean, local variance) — shared by every source."""
    levels = []
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = gaussian_window(n, n / 5.0)
        if scale > 1:
            image = filter_valid(image, win)[::2, ::2]
        if min(image.shape) < n:
            raise ValueError("VIF needs images of at least about 50×50 pixels (4 scales)")
        mu = filter_valid(image, win)
        var = np.maximum(filter_valid(_product(image, image, scale, uint8), win) - mu * mu, 0)
        levels.append((image, win, mu, var))
    return levels


def _vif_terms(ref_levels, dist_levels, sigma_nsq: float, uint8: bool = False) -> list[tuple[Array, Array, Array]]:
    """Per scale: (information with distortion, information without, gain g) maps (Sheikh–Bovik)."""
    eps = 1e-10
    out = []
    for scale, ((ref, win, mu1, s1), (dist, _, mu2, s2)) in enumerate(zip(ref_levels, dist_levels), start=1):
        s12 = filter_valid(_product(ref, dist, scale, uint8), win) - mu1 * mu2
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        low1 = s1 < eps
        g[low1] = 0
        sv[low1] = s2[low1]
        s1 = np.where(low1, 0, s1)
        low2 = s2 < eps
        g[low2] = 0
        sv[low2] = 0
        neg = g < 0
        sv[neg] = s2[neg]
        g[neg] = 0
        sv = np.maximum(sv, eps)
        vid = np.log10(1 + g * g * s1 / (sv + sigma_nsq))
        vind = np.log10(1 + s1 / sigma_nsq)
        out.append((vid, vind, g))
    return out


def vif_pair(ref: Array, dist: Array, sigma_nsq: float = 2.0) -> float:
    """Sheikh–Bovik pixel-domain VIF (``vifp_mscale``): Σ_scales num / Σ_scales den; NaN -> 1."""
    return _vif_ratio(_vif_terms(_vif_pyramid(ref), _vif_pyramid(dist), sigma_nsq))


def _vif_ratio(terms) -> float:
    num = sum(float(t[0].sum()) for t in terms)
    den = sum(float(t[1].sum()) for t in terms)
    value = num / den if den > 0 else math.nan
    return 1.0 if math.isnan(value) else float(value)


def vif(f: Array, sources: Sequence[Array], uint8: bool = False) -> float:
    """VIF ↑ — Σ_k VIF(X_k, F), Sheikh & Bovik 2006 pixel VIF with σ_n² = 2 (Tang's "VIF",
    CDDFuse's "VIFF" — not Han's VIFF). ``uint8``: Tang's suite, whose uint8 inputs make the
    first scale's squared terms saturate at 255 (see :func:`_product`)."""
    fused_levels = _vif_pyramid(f, uint8)
    return float(sum(_vif_ratio(_vif_terms(_vif_pyramid(x, uint8), fused_levels, 2.0, uint8)) for x in sources))


def viff(f: Array, sources: Sequence[Array]) -> float:
    """VIFF ↑ — Han et al. 2013 visual information fidelity for fusion (MEFB ``metricsVIF``).

    σ_n² = 0.005·255²; per scale and pixel the source with the smaller gain g is used;
    F_s = Σ VID / Σ VIND per scale; VIFF = Σ_s p_s F_s, p = [1, 0, 0.15, 1] / 2.15.
    """
    sigma_nsq, c = 0.005 * 255 * 255, 1e-7
    p = np.array([1.0, 0.0, 0.15, 1.0]) / 2.15
    fused_levels = _vif_pyramid(f)
    per_source = [_vif_terms(_vif_pyramid(x), fused_levels, sigma_nsq) for x in sources]
    scores = []
    for s in range(4):
        gains = np.stack([terms[s][2] for terms in per_source])
        pick = np.argmin(gains, axis=0)[None]  # ties go to the first source, like MATLAB's "<"
        vid = np.take_along_axis(np.stack([terms[s][0] for terms in per_source]), pick, 0)[0]
        vind = np.take_along_axis(np.stack([terms[s][1] for terms in per_source]), pick, 0)[0]
        scores.append(float((vid + c).sum() / (vind + c).sum()))
    return float((np.array(scores) * p).sum())


# ----------------------------------------------------------------------------- information (Z. Liu)


def _liu_joint(a: Array, b: Array) -> Array:
    """Joint distribution of two normalize1'd images: rows are ``a``'s levels, columns ``b``'s."""
    joint = _joint_histogram(a, b)
    return joint / joint.sum()


def tsallis_entropy(f: Array, sources: Sequence[Array], q: float = 1.85) -> float:
    """TE ↑ — Cvejic et al. 2006 Tsallis mutual information, Σ_k over sources (Liu's
    ``metricMI.m`` case 2, as in MEFB; q = 1.85, images normalize1'd).

    Liu's code pairs p(i, j) with the column marginal at i and the row marginal at j (the two
    marginals swapped); that is what MEFB reports, so it is kept.
    """
    fn_ = normalize1(f)
    total = 0.0
    for x in sources:
        p = _liu_joint(normalize1(x), fn_)
        cols, rows = p.sum(axis=0), p.sum(axis=1)
        denominator = np.outer(cols, rows)
        keep = denominator != 0
        total += (1 - float((p[keep] ** q / denominator[keep] ** (q - 1)).sum())) / (1 - q)
    return total


def ncie(f: Array, sources: Sequence[Array]) -> float:
    """Qncie ↑ — Wang et al. nonlinear correlation information entropy (Liu's ``metricWang.m``,
    as in MEFB), in [0, 1]: 1 − H_R of the sources' and fused image's nonlinear correlation
    matrix (NCC from 256-bin joint histograms of the normalize1'd images, log base 256)."""
    images = [normalize1(x) for x in (*sources, f)]
    k = len(images)
    matrix = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            ha, hb, hab = _entropies(_joint_histogram(images[i], images[j]), 256.0)
            matrix[i, j] = matrix[j, i] = ha + hb - hab
    eigen = np.linalg.eigvalsh(matrix)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(eigen > 0, eigen * np.log2(eigen / k) / k, 0.0)
    return float(1 + terms.sum() / math.log2(256))
