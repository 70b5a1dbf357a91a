"""Differentiable versions of the quality protocol's fusion metrics, as training losses.

A model trained on the sources alone has no ground truth to aim at; the metrics the project
judges fusion by (``fusecli.metrics``, docs/metrics.md) say what a good fusion keeps. These are
the same formulas on tensors, without the toolboxes' integer rounding, so their gradients exist:

* ``qabf``: 1 - Qabf (Xydeas & Petrovic edge preservation);
* ``qcv``: Qcv / 1000 (Chen & Varshney: CSF-weighted error to each source where it has edges);
* ``qcb``: 1 - Qcb (Chen & Blum: local contrast kept, perceptually weighted);
* ``min_ssim``: 1 - the smaller of SSIM(F, S_k) over the sources (a soft minimum), so a fusion
  cannot win by copying one source.

Qcv's and Qcb's contrast-sensitivity filters are defined on the frequency grid of the whole
image (cycles per image); on a training crop they use the grid of an ``EVAL_SIZE``-px image, the
size the protocol scores, so a crop is filtered as it would be inside the full frame.

Shapes: ``fused`` ``(B, 1, H, W)``, ``sources`` ``(B, N, 1, H, W)``, both 0..1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from fusecli.train.losses import _SOBEL_X, _check_sources, ssim_map

METRIC_LOSS_NAMES = ("qabf", "qcv", "qcb", "min_ssim")
EVAL_SIZE = 512  # px: the image size whose frequency grid the CSF filters use on crops


def _sobel(x: Tensor) -> tuple[Tensor, Tensor]:
    """Horizontal and vertical Sobel responses of ``(B, 1, H, W)``, zero padding (as MATLAB ``conv2 'same'``)."""
    kx = _SOBEL_X.to(x)[None, None]
    return F.conv2d(x, kx, padding=1), F.conv2d(x, kx.transpose(-1, -2), padding=1)


def _strength_angle(x: Tensor) -> tuple[Tensor, Tensor]:
    gx, gy = _sobel(x)
    strength = torch.sqrt(gx * gx + gy * gy + 1e-12)
    safe = torch.where(gx.abs() < 1e-6, torch.full_like(gx, 1e-6), gx)
    return strength, torch.atan(gy / safe)


def qabf(fused: Tensor, sources: Tensor) -> Tensor:
    """Qabf per image ``(B,)``: Sigma_k Sigma Q^{S_k F} g_{S_k} / Sigma_k Sigma g_{S_k}, at 0..255."""
    _check_sources(fused, sources)
    gf, af = _strength_angle(fused * 255.0)
    num = den = 0.0
    for k in range(sources.shape[1]):
        gs, as_ = _strength_angle(sources[:, k] * 255.0)
        g = torch.minimum(gs, gf) / torch.maximum(gs, gf).clamp_min(1e-12)
        a = 1 - (as_ - af).abs() / (math.pi / 2)
        q = 0.9994 / (1 + torch.exp(-15.0 * (g - 0.5))) * 0.9879 / (1 + torch.exp(-22.0 * (a - 0.8)))
        num = num + (q * gs).sum((1, 2, 3))
        den = den + gs.sum((1, 2, 3))
    return num / den.clamp_min(1e-12)


def qabf_loss(fused: Tensor, sources: Tensor) -> Tensor:
    return 1 - qabf(fused, sources).mean()


def _normalize(x: Tensor) -> Tensor:
    """Z. Liu's normalize1 without its rounding: each image stretched to 0..255."""
    lo = x.amin((1, 2, 3), keepdim=True)
    hi = x.amax((1, 2, 3), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-6) * 255.0


def _radius(shape: tuple[int, int], scale: float, like: Tensor) -> Tensor:
    """MATLAB freqspace's radius on ``shape``, in units of a ``EVAL_SIZE``-px image / ``scale``,
    laid out as ``torch.fft.rfft2`` returns it (zero frequency first)."""
    h, w = shape
    v = torch.fft.fftfreq(h, device=like.device, dtype=like.dtype) * 2.0
    u = torch.fft.rfftfreq(w, device=like.device, dtype=like.dtype) * 2.0
    return torch.sqrt((u[None, :] * EVAL_SIZE / scale) ** 2 + (v[:, None] * EVAL_SIZE / scale) ** 2)


def _frequency_filter(x: Tensor, response: Tensor) -> Tensor:
    return torch.fft.irfft2(torch.fft.rfft2(x) * response, s=x.shape[-2:])


def _blocks_sum(x: Tensor, size: int) -> Tensor:
    """Sums over ``size`` x ``size`` blocks, partial ones zero-padded (MATLAB blkproc)."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, -w % size, 0, -h % size))
    return F.avg_pool2d(x, size) * size * size


def qcv(fused: Tensor, sources: Tensor, window: int = 16) -> Tensor:
    """Qcv per image ``(B,)`` (lower is better): saliency-weighted block mean of the CSF-filtered
    squared difference to each source (Mannos-Sakrison CSF)."""
    _check_sources(fused, sources)
    r = _radius(tuple(fused.shape[-2:]), 8.0, fused)
    csf = 2.6 * (0.0192 + 0.144 * r) * torch.exp(-((0.144 * r) ** 1.1))
    fn = _normalize(fused)
    num = den = 0.0
    for k in range(sources.shape[1]):
        xn = _normalize(sources[:, k])
        with torch.no_grad():
            gx, gy = _sobel(xn)
            saliency = _blocks_sum((gx * gx + gy * gy) ** 2.5, window)
        diff = _frequency_filter(xn - fn, csf)
        distortion = _blocks_sum(diff * diff, window) / (window * window)
        num = num + (saliency * distortion).sum((1, 2, 3))
        den = den + saliency.sum((1, 2, 3))
    return num / den.clamp_min(1e-12)


def qcv_loss(fused: Tensor, sources: Tensor) -> Tensor:
    return qcv(fused, sources).mean() / 1000.0


def _gaussian31(sigma: float, like: Tensor) -> Tensor:
    ax = torch.arange(-15, 16, device=like.device, dtype=like.dtype)
    g = torch.exp(-(ax * ax) / (2 * sigma * sigma)) / math.sqrt(2 * math.pi * sigma * sigma)
    return g


def _separable(x: Tensor, g: Tensor) -> Tensor:
    """'same' filtering with the outer product of ``g`` with itself, zero padding."""
    n = g.numel() // 2
    x = F.conv2d(x, g.view(1, 1, 1, -1), padding=(0, n))
    return F.conv2d(x, g.view(1, 1, -1, 1), padding=(n, 0))


def _masked_contrast(x: Tensor, dog: Tensor) -> Tensor:
    filtered = _frequency_filter(_normalize(x), dog)
    fine, coarse = _separable(filtered, _gaussian31(2.0, x)), _separable(filtered, _gaussian31(4.0, x))
    safe = torch.where(coarse.abs() < 1e-3, torch.where(coarse < 0, -1e-3, 1e-3), coarse)
    c = (fine / safe - 1).abs().clamp_max(1e3)
    return c**3 / (c * c + 1e-4)


def qcb(fused: Tensor, sources: Tensor) -> Tensor:
    """Qcb per image ``(B,)``: the contrast each source has, kept in the fusion, weighted by
    which source has more of it (difference-of-Gaussians CSF)."""
    _check_sources(fused, sources)
    r = _radius(tuple(fused.shape[-2:]), 30.0, fused)
    dog = torch.exp(-((r / 15.3870) ** 2)) - 0.7622 * torch.exp(-((r / 1.3456) ** 2))
    cf = _masked_contrast(fused, dog)
    cs = [_masked_contrast(sources[:, k], dog) for k in range(sources.shape[1])]
    with torch.no_grad():
        weights = torch.stack([c * c for c in cs])
        weights = weights / weights.sum(0).clamp_min(1e-12)
    quality = 0.0
    for weight, c in zip(weights, cs):
        quality = quality + weight * torch.minimum(c, cf) / torch.maximum(c, cf).clamp_min(1e-9)
    return quality.mean((1, 2, 3))


def qcb_loss(fused: Tensor, sources: Tensor) -> Tensor:
    return 1 - qcb(fused, sources).mean()


def min_ssim(fused: Tensor, sources: Tensor, softness: float = 0.02) -> Tensor:
    """A soft minimum over the sources of the mean SSIM(F, S_k), per image ``(B,)``."""
    _check_sources(fused, sources)
    scores = torch.stack([ssim_map(fused, sources[:, k]).mean((1, 2, 3)) for k in range(sources.shape[1])], 1)
    return -softness * torch.logsumexp(-scores / softness, 1) + softness * math.log(sources.shape[1])


def min_ssim_loss(fused: Tensor, sources: Tensor) -> Tensor:
    return 1 - min_ssim(fused, sources).mean()
