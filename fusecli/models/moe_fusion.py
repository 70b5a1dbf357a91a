"""MoE-Fusion (Cao et al. 2023): a gated mixture of local-to-global experts.

* Two encoders (separate weights unless ``shared_encoder``): ``Conv 1->16 + ReLU`` then three
  densely connected 3x3 convs of 16 channels -> 16-channel features and a 64-channel dense
  concatenation per source (seed 002 section 5).
* MoLE: a mixture of local experts for the foreground and one for the background, each
  ``local_experts`` experts ``16 -> 8 -> 16`` (top-k, noisy gating); the first half see the
  first source's (infrared's) features, the second half the second source's.
* MoGE: the decoder is a mixture of global experts ``160 -> 64 -> 32 -> 16 -> 1`` over the
  concatenation of both dense features and both local outputs (64 + 64 + 16 + 16).
* Gates see average-pooled features, so any size works and the model stays small (the
  official gates flatten a fixed 640x480 map: 97% of its 16.5 M parameters).

The foreground mask comes from ``FuseOptions.foreground`` (e.g. ``--boxes``) or, by default,
:func:`fusecli.models.saliency.saliency_prior` of the first frame. For MEF/MFF the two frames
play the two "modalities"; stacks of more than two frames are fused pairwise in order of
the stack (the running result is the first input of the next pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import FuseOptions, FusionModel, FusionResult, check_frames
from .layers.moe import ImageMoE
from .saliency import saliency_prior


@dataclass
class MoEFusionConfig:
    channels: int = 16
    shared_encoder: bool = False
    local_experts: int = 4
    local_top_k: int = 2
    local_hidden: int = 8
    global_experts: int = 4
    global_top_k: int = 2
    global_widths: tuple[int, ...] = (64, 32, 16)
    global_first_kernel: int = 3  # 1 makes the full-resolution 160 -> 64 layer 9x cheaper
    gate_pool: int = 4
    noisy_gating: bool = True


def conv_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU(inplace=True))


class DenseEncoder(nn.Module):
    """``(B, 1, H, W)`` -> features ``(B, c, H, W)`` and dense features ``(B, 4c, H, W)``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1 = conv_relu(1, c)
        self.dense = nn.ModuleList(conv_relu(c * (i + 1), c) for i in range(3))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feats = [self.c1(x)]
        for conv in self.dense:
            feats.append(conv(torch.cat(feats, dim=1)))
        return feats[-1], torch.cat(feats, dim=1)


class LocalExpert(nn.Module):
    """``c -> hidden -> c`` on one source's features (``source`` indexes the stacked input)."""

    def __init__(self, c: int, hidden: int, source: int) -> None:
        super().__init__()
        self.source = source
        self.body = nn.Sequential(conv_relu(c, hidden), conv_relu(hidden, c))

    def forward(self, stacked: Tensor) -> Tensor:
        """``(n, 2, c, H, W)`` -> ``(n, c, H, W)``."""
        return self.body(stacked[:, self.source])


class GlobalExpert(nn.Module):
    """The decoder ``160 -> widths... -> 1`` with a sigmoid output in 0..1."""

    def __init__(self, cin: int, widths: tuple[int, ...], first_kernel: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, width in enumerate(widths):
            layers.append(conv_relu(cin, width, first_kernel if i == 0 else 3))
            cin = width
        layers += [nn.Conv2d(cin, 1, 3, padding=1), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class MoEFusion(FusionModel):
    arch = "moe-fusion"
    config_class = MoEFusionConfig

    def __init__(self, config: MoEFusionConfig) -> None:
        super().__init__(config)
        c = config.channels
        self.encoders = nn.ModuleList([DenseEncoder(c)] if config.shared_encoder else [DenseEncoder(c), DenseEncoder(c)])
        half = config.local_experts // 2

        def local() -> ImageMoE:
            experts = [LocalExpert(c, config.local_hidden, 0 if i < half else 1) for i in range(config.local_experts)]
            return ImageMoE(2 * c, experts, config.local_top_k, pool=config.gate_pool, noisy=config.noisy_gating)

        self.local_fg, self.local_bg = local(), local()
        decoder_in = 2 * 4 * c + 2 * c
        experts = [GlobalExpert(decoder_in, config.global_widths, config.global_first_kernel) for _ in range(config.global_experts)]
        self.global_moe = ImageMoE(decoder_in, experts, config.global_top_k, pool=config.gate_pool, noisy=config.noisy_gating)

    def forward(self, first: Tensor, second: Tensor, foreground: Tensor) -> Tensor:
        """Fuse two ``(B, 1, H, W)`` sources with a ``(B, 1, H, W)`` foreground mask -> ``(B, 1, H, W)``."""
        enc_a = self.encoders[0]
        enc_b = self.encoders[-1]
        feat_a, dense_a = enc_a(first)
        feat_b, dense_b = enc_b(second)
        stacked = torch.stack([feat_a, feat_b], dim=1)  # (B, 2, c, H, W)
        fg = stacked * foreground[:, None]
        bg = stacked * (1 - foreground[:, None])
        local_fg = self.local_fg(fg, fg.flatten(1, 2))
        local_bg = self.local_bg(bg, bg.flatten(1, 2))
        return self.global_moe(torch.cat([dense_a, dense_b, local_fg, local_bg], dim=1))

    def gates(self) -> dict[str, Tensor]:
        """Per-image dense gate matrices ``(B, E)`` of the last forward, by MoE name."""
        out = {}
        for name in ("local_fg", "local_bg", "global_moe"):
            stats = getattr(self, name).stats
            if stats is not None:
                out[name] = stats.routing.dense_gates().detach()
        return out

    def fuse(self, frames: Tensor, options: FuseOptions) -> FusionResult:
        check_frames(frames)
        if options.task == "vif" and frames.shape[1] != 2:
            raise ValueError(f"VIF fuses exactly 2 frames (infrared, visible), got {frames.shape[1]}")
        foreground = options.foreground
        fused = frames[:, 0]
        for i in range(1, frames.shape[1]):
            mask = foreground if foreground is not None else saliency_prior(fused if options.task == "vif" else frames[:, i])
            fused = self(fused, frames[:, i], mask)
        return FusionResult(fused, {"foreground": mask, **{f"gates_{k}": v for k, v in self.gates().items()}})
