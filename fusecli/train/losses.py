"""Training losses, each a pure function of tensors; weights live in the training config.

Shapes: images ``(B, 1, H, W)`` in 0..1; ``sources`` ``(B, N, 1, H, W)`` (N >= 2, for VIF
frame 0 infrared and frame 1 visible); masks ``(B, 1, H, W)`` in 0..1.

* ``pixel``: MoE-Fusion (seed 002 §6.1) — L1 to the max of the sources on the foreground,
  to their mean on the background, each divided by ``H W``.
* ``intensity``: L1 to the max of the sources everywhere (the intensity loss of SeAFusion and
  its successors): bright texture is kept whichever source has it, not halved to a mean.
* ``gradient``: MoE-Fusion §6.2 — L1 between ``|Sobel F|`` and the max of ``|Sobel S_k|``.
* ``ssim``: 1 - the mean SSIM of F with each source (11x11 Gaussian, sigma 1.5).
* ``mef_ssim``: 1 - MEF-SSIM (Ma et al. 2015) with Gaussian windows, differentiable.
* ``target_l1`` / ``target_ssim``: distance to a target fused image (teacher fusion, or
  the sharp photo of a synthetic multi-focus pair).
* ``target_psnr``: minus the mean per-image PSNR to the target (dB, capped at 140): each image
  counts by its error's ratio, as in a table of mean PSNR, so an image that is nearly exact still
  pulls (the L1's pull on it vanishes with its error).
* ``target_gradient``: L1 between the Sobel magnitudes of F and of the target (edges).
* ``latent`` / ``velocity``: MSE in the autoencoder's latent space (regression target or
  flow-matching velocity ``Z1 - Z0``).
* ``reconstruction``: the autoencoder's L1 + gradient reconstruction loss.
* ``load``: the MoE balance losses collected from the model (Shazeer cv^2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from fusecli.metrics.functional import gaussian_window

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def _check_image(x: Tensor, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must be (B, 1, H, W), got {tuple(x.shape)}")


def _check_sources(fused: Tensor, sources: Tensor) -> None:
    _check_image(fused, "fused")
    if sources.ndim != 5 or sources.shape[1] < 2 or sources.shape[2] != 1 or sources.shape[-2:] != fused.shape[-2:]:
        raise ValueError(f"sources must be (B, N>=2, 1, H, W) matching fused {tuple(fused.shape)}, got {tuple(sources.shape)}")


def sobel_magnitude(x: Tensor) -> Tensor:
    """``|dx| + |dy|`` of a ``(B, 1, H, W)`` image with 3x3 Sobel kernels (replicate padding)."""
    kx = _SOBEL_X.to(x)[None, None]
    ky = kx.transpose(-1, -2)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kx).abs() + F.conv2d(padded, ky).abs()


def pixel_loss(fused: Tensor, sources: Tensor, foreground: Tensor) -> Tensor:
    """MoE-Fusion eq. 1-3: ``|m (F - max S)|_1 / HW + |(1 - m)(F - mean S)|_1 / HW`` (batch mean)."""
    _check_sources(fused, sources)
    fg = (foreground * (fused - sources.amax(1))).abs().mean()
    bg = ((1 - foreground) * (fused - sources.mean(1))).abs().mean()
    return fg + bg


def intensity_loss(fused: Tensor, sources: Tensor) -> Tensor:
    """``|F - max_k S_k|_1 / HW`` (batch mean)."""
    _check_sources(fused, sources)
    return (fused - sources.amax(1)).abs().mean()


def gradient_loss(fused: Tensor, sources: Tensor) -> Tensor:
    """MoE-Fusion eq. 4: ``| |grad F| - max_k |grad S_k| |_1 / HW`` with Sobel gradients."""
    _check_sources(fused, sources)
    b, n = sources.shape[:2]
    grads = sobel_magnitude(sources.flatten(0, 1)).view(b, n, *fused.shape[1:])
    return (sobel_magnitude(fused) - grads.amax(1)).abs().mean()


def _gaussian(size: int = 11, sigma: float = 1.5, like: Tensor | None = None) -> Tensor:
    """The metrics' window (:func:`fusecli.metrics.functional.gaussian_window`, the outer product
    of one 1-D Gaussian with itself) as its ``(k,)`` 1-D factor."""
    window = gaussian_window(size, sigma)
    kernel = torch.from_numpy(window.sum(1) / window.sum())
    return kernel.to(like) if like is not None else kernel


def _filter(x: Tensor, kernel: Tensor) -> Tensor:
    """'valid' filtering of ``(B, C, H, W)`` with the separable window whose 1-D factor is ``kernel``."""
    c, k = x.shape[1], kernel.numel()
    x = F.conv2d(x, kernel.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, kernel.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def ssim_map(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """SSIM map (Wang et al. 2004; 11x11 Gaussian sigma 1.5, K = 0.01, 0.03), 'valid' positions."""
    kernel = _gaussian(like=x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _filter(x, kernel), _filter(y, kernel)
    sxx = _filter(x * x, kernel) - mx * mx
    syy = _filter(y * y, kernel) - my * my
    sxy = _filter(x * y, kernel) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim_loss(fused: Tensor, sources: Tensor) -> Tensor:
    """``1 - mean_k SSIM(F, S_k)``: keeps the structure every source agrees on."""
    _check_sources(fused, sources)
    n = sources.shape[1]
    return 1 - sum(ssim_map(fused, sources[:, k]).mean() for k in range(n)) / n


def mef_ssim_loss(fused: Tensor, sources: Tensor, p: float = 4.0) -> Tensor:
    """``1 - MEF-SSIM`` (Ma, Zeng & Wang 2015), differentiable, on 0..1 data.

    Per 11x11 Gaussian window: desired contrast ``c = max_k c_k``, structure
    ``s = sum_k w_k (x_k - mu_k)/c_k`` with ``w_k = c_k^p`` normalised, target ``r = c s/|s|``;
    score ``(2 cov(r, F) + C) / (var r + var F + C)``. Every term is a Gaussian-weighted
    (co)variance of the sources and F, so no patches are materialised. The fixed ``p = 4``
    replaces the paper's structure-consistency exponent (the metric in
    :mod:`fusecli.metrics.mef_ssim` keeps the exact one).
    """
    _check_sources(fused, sources)
    kernel = _gaussian(like=fused)
    c = (0.03) ** 2
    b, n = sources.shape[:2]
    x = sources[:, :, 0]  # (B, N, H, W)
    mu = _filter(x, kernel)
    mu_f = _filter(fused, kernel)
    cov = {}
    for i in range(n):
        for j in range(i, n):
            cov[i, j] = cov[j, i] = _filter(x[:, i : i + 1] * x[:, j : j + 1], kernel) - mu[:, i : i + 1] * mu[:, j : j + 1]
    contrast = [torch.sqrt(cov[i, i].clamp_min(0) + 1e-6) for i in range(n)]
    weights = torch.stack([cv**p for cv in contrast])
    weights = weights / weights.sum(0).clamp_min(1e-12)
    coef = [weights[i] / contrast[i] for i in range(n)]
    var_s = sum(coef[i] * coef[j] * cov[i, j] for i in range(n) for j in range(n))
    scale = torch.stack(contrast).amax(0) / torch.sqrt(var_s.clamp_min(0) + 1e-8)
    var_r = scale * scale * var_s
    cov_rf = scale * sum(coef[i] * (_filter(x[:, i : i + 1] * fused, kernel) - mu[:, i : i + 1] * mu_f) for i in range(n))
    var_f = _filter(fused * fused, kernel) - mu_f * mu_f
    q = (2 * cov_rf + c) / (var_r + var_f + c)
    return 1 - q.mean()


def target_l1_loss(fused: Tensor, target: Tensor) -> Tensor:
    _check_image(fused, "fused")
    return (fused - target).abs().mean()


# MSE floor of target_psnr: 140 dB, above the float32 rounding of an exact 0..1 image (~150 dB)
PSNR_MSE_FLOOR = 1e-14


def target_psnr_loss(fused: Tensor, target: Tensor) -> Tensor:
    """``-mean_b 10 log10(MSE_b + 1e-14)`` over the batch (data range 1): minus the mean PSNR."""
    _check_image(fused, "fused")
    mse = (fused - target).square().flatten(1).mean(1)
    return 10 * torch.log10(mse + PSNR_MSE_FLOOR).mean()


def target_ssim_loss(fused: Tensor, target: Tensor) -> Tensor:
    _check_image(fused, "fused")
    return 1 - ssim_map(fused, target).mean()


def target_gradient_loss(fused: Tensor, target: Tensor) -> Tensor:
    _check_image(fused, "fused")
    return (sobel_magnitude(fused) - sobel_magnitude(target)).abs().mean()


def latent_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """MSE in latent space: regression target or flow velocity ``Z1 - Z0``."""
    return F.mse_loss(prediction, target)


def reconstruction_loss(decoded: Tensor, image: Tensor) -> Tensor:
    """Autoencoder: L1 on pixels plus L1 on Sobel gradients (keeps edges crisp)."""
    _check_image(decoded, "decoded")
    return (decoded - image).abs().mean() + (sobel_magnitude(decoded) - sobel_magnitude(image)).abs().mean()


LOSS_NAMES = ("pixel", "intensity", "gradient", "ssim", "mef_ssim", "target_l1", "target_psnr", "target_ssim", "target_gradient", "latent", "velocity", "reconstruction", "load")


def task_weights(losses: dict[str, float], task_losses: dict[str, dict[str, float]], task: str) -> dict[str, float]:
    """The loss weights for a batch of ``task``: ``losses`` with ``task_losses[task]`` over them
    (a source term can be right for one task and wrong for another)."""
    return {**losses, **task_losses.get(task, {})}


def weighted_sum(terms: dict[str, Tensor], weights: dict[str, float]) -> tuple[Tensor, dict[str, float]]:
    """``sum_k weights[k] * terms[k]`` over the terms with a weight, and each term as a float for the log."""
    total = None
    logged = {}
    for name, value in terms.items():
        weight = float(weights.get(name, 0.0))
        if weight == 0.0:
            continue
        logged[name] = float(value.detach())
        if not math.isfinite(logged[name]):
            raise FloatingPointError(f"loss term {name!r} is {logged[name]}")
        total = weight * value if total is None else total + weight * value
    if total is None:
        raise ValueError(f"no loss term has a weight; terms: {', '.join(terms)}")
    return total, logged
