"""Compact convolutional autoencoder: the latent space of the all-in-one model.

MMAIF works in the latent space of a frozen pretrained tokenizer; none can be downloaded
here, so fusecli trains its own. Luminance ``(B, 1, H, W)`` in 0..1 ->
latent ``(B, latent_channels, H/f, W/f)`` with ``f = 2 ** len(widths)``. Each stage is a
pixel-unshuffle (lossless 2x downsampling) + 1x1 mixing + a residual 3x3 block, which keeps
the full-resolution work small. No normalisation layers: a tile encodes exactly like the same
region of the full image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class AutoencoderConfig:
    channels: int = 1
    latent_channels: int = 8
    widths: tuple[int, ...] = (16, 32)
    latent_scale: float = 1.0  # latents are multiplied by this (set after training to unit std)


class ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Autoencoder(nn.Module):
    arch = "autoencoder"
    config_class = AutoencoderConfig

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        enc: list[nn.Module] = []
        channels = config.channels
        for width in config.widths:
            enc += [nn.PixelUnshuffle(2), nn.Conv2d(4 * channels, width, 1), ResBlock(width)]
            channels = width
        enc += [nn.SiLU(), nn.Conv2d(channels, config.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(config.latent_channels, channels, 3, padding=1)]
        for width, out in zip(reversed(config.widths), list(reversed(config.widths))[1:] + [config.channels]):
            dec += [ResBlock(width), nn.SiLU(), nn.Conv2d(width, 4 * out, 1), nn.PixelShuffle(2)]
        self.decoder = nn.Sequential(*dec)

    @property
    def factor(self) -> int:
        return 2 ** len(self.config.widths)

    def encode(self, x: Tensor) -> Tensor:
        """``(B, C, H, W)`` in 0..1, H and W multiples of :attr:`factor` -> scaled latent."""
        return self.encoder(x * 2 - 1) * self.config.latent_scale

    def decode(self, z: Tensor) -> Tensor:
        """Scaled latent -> ``(B, C, H, W)`` (about 0..1, not clamped)."""
        return (self.decoder(z / self.config.latent_scale) + 1) / 2

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
