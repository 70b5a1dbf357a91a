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
* ``downscale = f > 1`` (a fusecli option, not in the paper) runs the whole network at 1/f
  resolution on the f*f sub-pixel phases of each source (space-to-depth, as FFDNet does) and
  puts the decoder's f*f outputs back with a pixel shuffle: nothing is thrown away, but every
  layer touches f*f times fewer pixels. The convolutions here have 8-16 channels and are
  memory-bound on CPUs, so this is what makes the shipped model fast.

The foreground mask comes from ``FuseOptions.foreground`` (e.g. ``--boxes``) or, by default,
:func:`fusecli.models.saliency.saliency_prior` of the first frame. For MEF/MFF the two frames
play the two "modalities"; stacks of more than two frames are fused pairwise in order of
the stack (the running result is the first input of the next pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusecli.models.base import FuseOptions, FusionModel, FusionResult, check_frames
from fusecli.models.layers.moe import ImageMoE
from fusecli.models.saliency import saliency_prior


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
    downscale: int = 1  # space-to-depth factor: layers run at 1/downscale resolution
    # "image": the decoder outputs the fused image (the paper). "weights": it outputs the
    # per-pixel weight w of the first source and fused = w A + (1 - w) B, so every output
    # pixel is a blend of real source pixels (multi-focus: a soft decision map).
    output: str = "image"


def conv_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU(inplace=True))


class DenseEncoder(nn.Module):
    """``(B, cin, H, W)`` -> features ``(B, c, H, W)`` and dense features ``(B, 4c, H, W)``."""

    def __init__(self, c: int, cin: int = 1) -> None:
        super().__init__()
        self.c1 = conv_relu(cin, c)
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
    """The decoder ``160 -> widths... -> cout`` with a sigmoid output in 0..1."""

    def __init__(self, cin: int, widths: tuple[int, ...], first_kernel: int, cout: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, width in enumerate(widths):
            layers.append(conv_relu(cin, width, first_kernel if i == 0 else 3))
            cin = width
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class MoEFusion(FusionModel):
    arch = "moe-fusion"
    config_class = MoEFusionConfig

    def __init__(self, config: MoEFusionConfig) -> None:
        super().__init__(config)
        if config.downscale < 1:
            raise ValueError(f"downscale must be >= 1, got {config.downscale}")
        if config.output not in ("image", "weights"):
            raise ValueError(f"output must be 'image' or 'weights', got {config.output!r}")
        c = config.channels
        phases = config.downscale**2
        self.encoders = nn.ModuleList(DenseEncoder(c, phases) for _ in range(1 if config.shared_encoder else 2))
        half = config.local_experts // 2

        def local() -> ImageMoE:
            experts = [LocalExpert(c, config.local_hidden, 0 if i < half else 1) for i in range(config.local_experts)]
            return ImageMoE(2 * c, experts, config.local_top_k, pool=config.gate_pool, noisy=config.noisy_gating)

        self.local_fg, self.local_bg = local(), local()
        decoder_in = 2 * 4 * c + 2 * c
        experts = [GlobalExpert(decoder_in, config.global_widths, config.global_first_kernel, phases) for _ in range(config.global_experts)]
        self.global_moe = ImageMoE(decoder_in, experts, config.global_top_k, pool=config.gate_pool, noisy=config.noisy_gating)

    @property
    def multiple(self) -> int:
        return self.config.downscale

    def forward(self, first: Tensor, second: Tensor, foreground: Tensor) -> Tensor:
        """Fuse two ``(B, 1, H, W)`` sources with a ``(B, 1, H, W)`` foreground mask -> ``(B, 1, H, W)``.

        ``H`` and ``W`` must be multiples of ``config.downscale``. With ``output = "weights"``
        the weight map of ``first`` is kept in ``self.last_weights``.
        """
        f = self.config.downscale
        a, b = first, second
        if f > 1:
            a, b = F.pixel_unshuffle(first, f), F.pixel_unshuffle(second, f)
            foreground = F.avg_pool2d(foreground, f)
        feat_a, dense_a = self.encoders[0](a)
        feat_b, dense_b = self.encoders[-1](b)
        stacked = torch.stack([feat_a, feat_b], dim=1)  # (B, 2, c, H, W)
        fg = stacked * foreground[:, None]
        bg = stacked * (1 - foreground[:, None])
        local_fg = self.local_fg(fg, fg.flatten(1, 2))
        local_bg = self.local_bg(bg, bg.flatten(1, 2))
        out = self.global_moe(torch.cat([dense_a, dense_b, local_fg, local_bg], dim=1))
        out = F.pixel_shuffle(out, f) if f > 1 else out
        if self.config.output == "image":
            return out
        self.last_weights = out
        return out * first + (1 - out) * second

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
        gates = self.gates()
        maps = {"foreground": mask, **{f"gates_{k}": v for k, v in gates.items()}}
        if self.config.output == "weights":
            maps["weights"] = self.last_weights  # of the running result, for the last pair
        if "local_fg" in gates and "local_bg" in gates:
            # Which local expert shaped each pixel: the foreground mixture's gates where the
            # mask is on, the background mixture's elsewhere (gates are per image).
            fg = gates["local_fg"][:, :, None, None]
            bg = gates["local_bg"][:, :, None, None]
            maps["experts"] = torch.cat([fg * mask, bg * (1 - mask)], dim=1)
        return FusionResult(fused, maps)

    @property
    def expert_names(self) -> list[str]:
        """Local experts: the first half see the infrared (first) source, the second half the visible."""
        n, half = self.config.local_experts, self.config.local_experts // 2
        kinds = [f"{'IR' if i < half else 'VIS'} expert {i % half + 1 if i < half else i - half + 1}" for i in range(n)]
        return [f"fg {k}" for k in kinds] + [f"bg {k}" for k in kinds]
