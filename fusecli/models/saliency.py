"""Foreground masks for MoE-Fusion's local experts when no box labels are given.

The built-in estimator is an infrared-intensity saliency prior: warm objects (people,
vehicles, animals) are brighter than their surroundings in thermal images, so a pixel's
excess over its local mean marks foreground. Windows are fixed in pixels (not relative to the
image), so a tile sees the same mask as the full image except at its very border. Masks
from box labels come from :func:`fusecli.metrics.local.box_mask`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def box_blur(x: Tensor, size: int) -> Tensor:
    """Mean over a ``size x size`` window with reflected borders, ``(B, C, H, W)``."""
    pad = size // 2
    if min(x.shape[-2:]) <= pad:
        return x.mean((-2, -1), keepdim=True).expand_as(x)
    x = F.avg_pool2d(F.pad(x, (pad, pad, 0, 0), mode="reflect"), (1, size), stride=1)  # separable:
    return F.avg_pool2d(F.pad(x, (0, 0, pad, pad), mode="reflect"), (size, 1), stride=1)  # 2k, not k^2


def saliency_prior(infrared: Tensor, window: int = 63, contrast: float = 0.08, soften: int = 9) -> Tensor:
    """``(B, 1, H, W)`` infrared in 0..1 -> soft foreground mask in 0..1, same shape.

    ``mask = clip((I - mean_window(I)) / contrast, 0, 1)``, then box-blurred by ``soften``.
    """
    excess = infrared - box_blur(infrared, window)
    return box_blur((excess / contrast).clamp(0, 1), soften)

