"""Learned blend weights for infrared + visible fusion in a Laplacian pyramid (``blend-vif``).

A network that writes pixels can drift in brightness or settle on copying one source on a
camera it never saw (the MoE-Fusion VIF models do). This one only decides, per pixel and per
pyramid level, how much of each source's band to keep: the output is a convex blend of the
sources' bands at every level, so it can neither invent structure nor leave the sources' range.

It starts from ``energy-vif``'s rule (detail weights from local energy, the base leaning toward
the brighter frame) and learns a correction to that rule's logits: with its output layers at
zero it is that rule. Two small convolutional heads read each level: one shared by the detail
levels (the level's depth is an input), one for the base.

Shapes: ``frames`` ``(B, 2, 1, H, W)`` in 0..1, infrared first; the fused ``(B, 1, H, W)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusecli.models.base import FuseOptions, FusionModel, FusionResult, check_frames

_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)  # Burt & Adelson's 5-tap kernel (OpenCV's pyrDown / pyrUp)


@dataclass
class BlendVIFConfig:
    width: int = 16  # channels of each head's hidden layers
    depth: int = 3  # 3x3 convolutions per head
    window: int = 3  # px: local energy of a detail level = its mean square over this window
    power: float = 1.5  # the rule's detail logit = power * log(e_ir / e_vis)
    softness: float = 0.5  # the rule's base logit = (ir - vis) / softness
    # Exchange-symmetric correction, h(ir, vis) - h(vis, ir): swapping the frames swaps their
    # weights, so the heads decide from local evidence only and cannot learn which sensor
    # carries the detail on the training camera (a habit that need not hold on another rig).
    symmetric: bool = False


def pyramid_depth(shape: tuple[int, int]) -> int:
    """Levels for an image of ``shape``: the training-free methods' rule
    (``fusecli.methods.pyramid.pyramid_levels``, tested equal), so that the model starts as
    energy-vif on every size."""
    return max(1, min(8, int(math.log2(max(1, min(shape)))) - 3))


def _blur(x: Tensor) -> Tensor:
    """5x5 binomial blur of ``(B, 1, H, W)``, reflected borders (OpenCV's BORDER_REFLECT_101)."""
    k = x.new_tensor(_BINOMIAL) / 16.0
    y = F.pad(x, (2, 2, 2, 2), mode="reflect" if min(x.shape[-2:]) > 2 else "replicate")
    y = F.conv2d(y, k.view(1, 1, 1, 5))
    return F.conv2d(y, k.view(1, 1, 5, 1))


def pyr_down(x: Tensor) -> Tensor:
    """Blur and keep every other row and column: ``(B, 1, H, W)`` -> ``(B, 1, ceil(H/2), ceil(W/2))``."""
    return _blur(x)[..., ::2, ::2]


def pyr_up(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Insert zeros between samples, blur (x4 to keep the mean), crop to ``size``."""
    b, c, h, w = x.shape
    up = x.new_zeros(b, c, 2 * h, 2 * w)
    up[..., ::2, ::2] = x
    return (4.0 * _blur(up))[..., : size[0], : size[1]]


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """``levels - 1`` detail bands, finest first, then the base (the coarsest Gaussian level)."""
    bands, current = [], x
    for _ in range(levels - 1):
        coarse = pyr_down(current)
        bands.append(current - pyr_up(coarse, current.shape[-2:]))
        current = coarse
    return bands + [current]


def collapse(bands: list[Tensor]) -> Tensor:
    image = bands[-1]
    for detail in reversed(bands[:-1]):
        image = pyr_up(image, detail.shape[-2:]) + detail
    return image


def local_energy(x: Tensor, window: int) -> Tensor:
    """Mean square of ``x`` over ``window`` x ``window`` px (reflected borders)."""
    pad = window // 2
    mode = "reflect" if min(x.shape[-2:]) > pad else "replicate"
    return F.avg_pool2d(F.pad(x * x, (pad, pad, pad, pad), mode=mode), window, stride=1)


class WeightHead(nn.Module):
    """A few 3x3 convolutions -> one logit correction per pixel; the last layer starts at zero."""

    def __init__(self, inputs: int, width: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = inputs
        for _ in range(max(0, depth - 1)):
            layers += [nn.Conv2d(channels, width, 3, padding=1, padding_mode="replicate"), nn.GELU()]
            channels = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(channels, 1, 3, padding=1, padding_mode="replicate")
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: Tensor) -> Tensor:
        return self.out(self.body(features))


class BlendVIF(FusionModel):
    arch = "blend-vif"
    config_class = BlendVIFConfig
    tasks = ("vif",)

    DETAIL_SCALE = 8.0  # detail bands are small (|d| << 1): scaled for the heads' inputs

    def __init__(self, config: BlendVIFConfig) -> None:
        super().__init__(config)
        self.detail_head = WeightHead(4, config.width, config.depth)
        self.base_head = WeightHead(3, config.width, config.depth)

    def _correction(self, head: WeightHead, features: Tensor, swapped: Tensor) -> Tensor:
        """The head's logit correction; with ``symmetric``, minus its value on the swapped
        frames' features (one batched pass over both orders)."""
        if not self.config.symmetric:
            return head(features)
        both = head(torch.cat([features, swapped], 0))
        return both[: features.shape[0]] - both[features.shape[0] :]

    def weights(self, ir: Tensor, vis: Tensor) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """The pyramids of ``ir`` and ``vis`` ``(B, 1, H, W)`` and the infrared weight of each
        band (``(B, 1, h, w)`` in 0..1; the visible band gets one minus it)."""
        cfg = self.config
        levels = pyramid_depth(tuple(ir.shape[-2:]))
        a, b = laplacian_pyramid(ir, levels), laplacian_pyramid(vis, levels)
        weights = []
        for depth, (x, y) in enumerate(zip(a[:-1], b[:-1])):
            ratio = torch.log(local_energy(x, cfg.window) + 1e-12) - torch.log(local_energy(y, cfg.window) + 1e-12)
            ratio = ratio.clamp(-20.0, 20.0)
            level = torch.full_like(x, depth / 8.0)
            xs, ys = x * self.DETAIL_SCALE, y * self.DETAIL_SCALE
            features = torch.cat([xs, ys, ratio / 10.0, level], 1)
            swapped = torch.cat([ys, xs, -ratio / 10.0, level], 1)
            weights.append(torch.sigmoid(cfg.power * ratio + self._correction(self.detail_head, features, swapped)))
        difference = a[-1] - b[-1]
        features = torch.cat([a[-1], b[-1], difference], 1)
        swapped = torch.cat([b[-1], a[-1], -difference], 1)
        weights.append(torch.sigmoid(difference / cfg.softness + self._correction(self.base_head, features, swapped)))
        return a, b, weights

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        """Fused ``(B, 1, H, W)`` in 0..1 of infrared and visible luminance ``(B, 1, H, W)``."""
        a, b, weights = self.weights(ir, vis)
        fused = [w * x + (1 - w) * y for w, x, y in zip(weights, a, b)]
        return collapse(fused).clamp(0.0, 1.0)

    def fuse(self, frames: Tensor, options: FuseOptions) -> FusionResult:
        check_frames(frames)
        if frames.shape[1] != 2:
            raise ValueError(f"blend-vif fuses one infrared and one visible frame, got {frames.shape[1]}")
        return FusionResult(self(frames[:, 0], frames[:, 1]))
