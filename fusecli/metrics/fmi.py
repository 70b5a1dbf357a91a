"""FMI — feature mutual information (Haghighat et al. 2011; fast form, Haghighat & Razian 2014).

For every w×w window (w = 3) the feature values of a source and of the fused image are
min-max normalised and divided by their sum to give two marginal PDFs (column-major order, as
MATLAB's ``x(:)``). The joint PDF is Nelsen's simplified model: a blend, set by the Pearson
correlation c of the PDFs, of the independent joint and the Fréchet upper (c ≥ 0) or lower
(c < 0) bound. The window's score is the normalised MI 2·I/(H_a + H_f); identical windows
score 1. FMI = mean over windows of the mean over sources. ``feature="none"`` is FMI_pixel.
The reference loops over windows; here all windows of a chunk are processed at once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Array = np.ndarray


def _windows(x: Array, w: int) -> Array:
    """All w×w windows as rows, column-major within a window: shape (n_windows, w*w)."""
    view = np.lib.stride_tricks.sliding_window_view(x, (w, w))  # (H-w+1, W-w+1, w, w)
    return view.transpose(0, 1, 3, 2).reshape(-1, w * w)


def _normalised_pdf(x: Array) -> Array:
    lo, hi = x.min(1, keepdims=True), x.max(1, keepdims=True)
    flat = hi == lo
    y = np.where(flat, 1.0, (x - lo) / np.where(flat, 1.0, hi - lo))
    return y / y.sum(1, keepdims=True)


def _entropy_rows(p: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(-1)


def _window_nmi(a: Array, f: Array) -> Array:
    """Normalised MI per window row between feature windows ``a`` and ``f`` (n, l)."""
    n, l = a.shape
    same = np.all(a == f, axis=1)
    ap, fp = _normalised_pdf(a), _normalised_pdf(f)
    acdf, fcdf = np.cumsum(ap, 1), np.cumsum(fp, 1)
    at, ft = ap - ap.mean(1, keepdims=True), fp - fp.mean(1, keepdims=True)
    dot = (at * ft).sum(1)
    norm = np.sqrt((at * at).sum(1) * (ft * ft).sum(1))
    c = np.where(dot == 0, 0.0, dot / np.where(norm == 0, 1.0, norm))
    idx = np.arange(1, l + 1, dtype=np.float64)
    a_sd = np.sqrt(np.maximum((idx**2 * ap).sum(1) - (idx * ap).sum(1) ** 2, 0.0))
    f_sd = np.sqrt(np.maximum((idx**2 * fp).sum(1) - (idx * fp).sum(1) ** 2, 0.0))

    fi, aj = fcdf[:, :, None], acdf[:, None, :]  # (n, l, 1), (n, 1, l): rows index f, columns a
    upper = np.minimum(fi, aj)  # Fréchet upper bound H(i, j)
    lower = np.maximum(fi + aj - 1.0, 0.0)  # Fréchet lower bound W(i, j)
    product = fi * aj
    cov_up = (upper - product).sum((1, 2))
    cov_lo = (lower - product).sum((1, 2))
    sd = f_sd * a_sd
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where((c == 0) | (sd == 0), 0.0, c / (cov_up / np.where(sd == 0, 1.0, sd)))
        theta = np.where(sd == 0, 0.0, c / (cov_lo / np.where(sd == 0, 1.0, sd)))
    positive = c >= 0
    bound = np.where(positive[:, None, None], upper, lower)
    weight = np.where(positive, phi, theta)[:, None, None]

    def difference(h: Array) -> Array:  # 2-D increments of a CDF-like table
        padded = np.pad(h, ((0, 0), (1, 0), (1, 0)))
        return padded[:, 1:, 1:] - padded[:, :-1, 1:] - padded[:, 1:, :-1] + padded[:, :-1, :-1]

    joint = weight * difference(bound) + (1 - weight) * fp[:, :, None] * ap[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint != 0, -joint * np.log2(np.abs(np.where(joint != 0, joint, 1.0))), 0.0)
    joint_entropy = terms.sum((1, 2))
    ha, hf = _entropy_rows(ap), _entropy_rows(fp)
    mi = ha + hf - joint_entropy
    with np.errstate(divide="ignore", invalid="ignore"):
        nmi = np.where(mi == 0, 0.0, 2 * mi / (ha + hf))
    return np.where(same, 1.0, nmi)


def _feature(image: Array, feature: str) -> Array:
    if feature == "none":
        return image
    if feature == "gradient":  # MATLAB gradient(x) returns the x-derivative
        return np.gradient(image, axis=1)
    raise ValueError(f"unsupported FMI feature {feature!r} (use 'none' or 'gradient')")


def fmi(f: Array, sources: Sequence[Array], feature: str = "none", window: int = 3, chunk: int = 20000) -> float:
    """FMI ↑ in [0, 1] — mean over windows of the mean over sources of the window NMI."""
    if min(f.shape) < window:
        raise ValueError(f"FMI needs images of at least {window}×{window} pixels")
    ff = _windows(_feature(f, feature), window)
    total = np.zeros(ff.shape[0])
    for x in sources:
        xf = _windows(_feature(x, feature), window)
        for start in range(0, ff.shape[0], chunk):
            stop = start + chunk
            total[start:stop] += _window_nmi(xf[start:stop], ff[start:stop])
    return float((total / len(sources)).mean())
