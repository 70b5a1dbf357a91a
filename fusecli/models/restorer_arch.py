"""A small full-resolution restoration CNN for single frames (JPEG blocking, down-sampling).

Why: the all-in-one model corrects its classical base in the ×4 latent of its autoencoder,
which cannot hold the fine detail that JPEG blocking and down-sampling damage; the classical
restorations for them (non-local means, unsharp masking) do worse than no restoration on many
scenes. This network restores a frame at full resolution, so the all-in-one model can clean the
frames of its base with it when the prompt names one of its degradations (MMAIF config
``learned_restore``).

Luminance ``(B, 1, H, W)`` in 0..1 -> the same shape: ``x + residual``, the residual computed
on the 2x2 pixel-unshuffled frame (a quarter of the pixels, so it stays fast on a CPU), no
normalisation layers (a tile restores exactly like the same region of the whole frame).
Trained blind on frames degraded by one of ``ops`` (:class:`fusecli.train.objectives.RestorerObjective`),
so it is run only on frames a prompt says are degraded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class RestorerConfig:
    width: int = 48
    depth: int = 6  # 3x3 convolutions on the unshuffled frame
    ops: list[str] = field(default_factory=lambda: ["jpeg"])  # the degradations it was trained to undo


def _check_frames(x: Tensor) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"the restorer takes (B, 1, H, W) luminance frames, got shape {tuple(x.shape)}")


class Restorer(nn.Module):
    arch = "restorer"
    config_class = RestorerConfig

    def __init__(self, config: RestorerConfig) -> None:
        super().__init__()
        if config.depth < 2:
            raise ValueError(f"restorer depth must be at least 2, got {config.depth}")
        self.config = config
        layers: list[nn.Module] = [nn.Conv2d(4, config.width, 3, padding=1), nn.ReLU()]
        for _ in range(config.depth - 2):
            layers += [nn.Conv2d(config.width, config.width, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(config.width, 4, 3, padding=1))
        self.body = nn.Sequential(*layers)

    @property
    def receptive_radius(self) -> int:
        """Pixels of context on each side that an output pixel depends on (tiles overlap by more)."""
        return 2 * self.config.depth + 1

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 1, H, W)`` in 0..1 -> restored, same shape, clamped to 0..1 (any H, W)."""
        _check_frames(x)
        h, w = x.shape[-2:]
        padded = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
        residual = F.pixel_shuffle(self.body(F.pixel_unshuffle(padded, 2)), 2)
        return (padded + residual)[..., :h, :w].clamp(0, 1)

    def restore_in_tiles(self, x: Tensor, tile: int = 1024) -> Tensor:
        """:meth:`forward` of a large ``(B, 1, H, W)`` frame in bands of about ``tile`` rows and
        columns, each run with :attr:`receptive_radius` (rounded up to even) pixels of context
        and only its centre kept: the same result as one run (up to float rounding) in bounded
        memory (one 24 MP frame at once holds about 1.2 GB per layer)."""
        _check_frames(x)
        h, w = x.shape[-2:]
        if tile % 2 or tile <= 0:
            raise ValueError(f"tile must be a positive even number, got {tile}")
        if h <= tile and w <= tile:
            return self(x)
        margin = self.receptive_radius + self.receptive_radius % 2  # even: the 2x2 unshuffle grid stays put
        out = torch.empty_like(x)
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                y0, x0 = max(0, top - margin), max(0, left - margin)
                y1, x1 = min(h, top + tile + margin), min(w, left + tile + margin)
                part = self(x[..., y0:y1, x0:x1])
                out[..., top : top + tile, left : left + tile] = part[..., top - y0 : top - y0 + tile, left - x0 : left - x0 + tile]
        return out
