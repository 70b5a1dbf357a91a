"""Diffusion-transformer pieces for the all-in-one model (MMAIF's block diagram).

A :class:`DiTBlock` works on a token grid ``(B, H, W, D)``: a NAFNet-style convolution
block for local bias, windowed self-attention with value residual, and an MoE-GLU
feed-forward, each modulated by low-rank AdaLN from a conditioning vector ``(B, D)``.
Attention runs inside non-overlapping ``window x window`` token windows, shifted by half a
window on every other block so information crosses windows: cost ``O(H W window^2 D)``,
linear in image area.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusecli.models.layers.moe import MoEGLU


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """``(B,)`` scalars -> ``(B, dim)`` sin/cos features (flow time is scaled by 1000 first)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return F.pad(torch.cat([args.cos(), args.sin()], dim=-1), (0, dim % 2))


class LowRankAdaLN(nn.Module):
    """Conditioning ``(B, D)`` -> ``n`` modulation vectors ``(B, D)`` through a rank-``r`` bottleneck.

    The up-projection starts at zero, so every block starts as the identity (adaLN-Zero).
    """

    def __init__(self, dim: int, n: int, rank: int) -> None:
        super().__init__()
        self.n = n
        self.down = nn.Linear(dim, rank)
        self.up = nn.Linear(rank, n * dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, cond: Tensor) -> tuple[Tensor, ...]:
        return self.up(F.silu(self.down(F.silu(cond)))).chunk(self.n, dim=-1)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """AdaLN on ``(B, H, W, D)`` tokens with per-sample ``(B, D)`` shift/scale."""
    return x * (1 + scale[:, None, None]) + shift[:, None, None]


class ConvBlock(nn.Module):
    """NAFNet-style local block: 1x1 expand, depthwise 3x3, SimpleGate, 1x1.

    NAFNet's simplified channel attention pools over the whole image; it is left out so that
    a tile sees exactly what the full image would (no seams when large images are tiled).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.expand = nn.Conv2d(dim, 2 * dim, 1)
        self.depthwise = nn.Conv2d(2 * dim, 2 * dim, 3, padding=1, groups=2 * dim)
        self.project = nn.Conv2d(dim, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, H, W, D)`` -> ``(B, H, W, D)``."""
        y = self.depthwise(self.expand(x.permute(0, 3, 1, 2)))
        a, b = y.chunk(2, dim=1)
        return self.project(a * b).permute(0, 2, 3, 1)


def _pad_to_windows(x: Tensor, window: int) -> tuple[Tensor, int, int]:
    _, h, w, _ = x.shape
    ph, pw = (-h) % window, (-w) % window
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    return x, ph, pw


def to_windows(x: Tensor, window: int) -> Tensor:
    """``(B, H, W, D)`` (H, W multiples of ``window``) -> ``(B * nW, window^2, D)``."""
    b, h, w, d = x.shape
    x = x.view(b, h // window, window, w // window, window, d).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, d)


def from_windows(x: Tensor, window: int, b: int, h: int, w: int) -> Tensor:
    """Inverse of :func:`to_windows`."""
    d = x.shape[-1]
    x = x.view(b, h // window, w // window, window, window, d).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, d)


class WindowAttention(nn.Module):
    """Multi-head self-attention within windows, with value residual learning.

    Value residual (Zhou et al. 2024): each block mixes the first block's values into its own,
    ``v <- v + lambda * (v_first - v)`` with a learned ``lambda`` starting at 0.5.
    """

    def __init__(self, dim: int, heads: int, window: int, shift: bool) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads, self.window, self.shift = heads, window, shift
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.value_mix = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: Tensor, first_values: Tensor | None) -> tuple[Tensor, Tensor]:
        """``(B, H, W, D)`` -> output, and this block's values ``(B, H, W, D)`` for the residual."""
        b, h, w, d = x.shape
        qkv = self.qkv(x)
        q, k, v = qkv.chunk(3, dim=-1)
        if first_values is not None:
            v = v + self.value_mix * (first_values - v)
        values = v
        win = min(self.window, max(h, w))
        shift = win // 2 if self.shift and min(h, w) > win else 0
        parts = torch.cat([q, k, v], dim=-1)
        if shift:
            parts = parts.roll((-shift, -shift), dims=(1, 2))
        parts, ph, pw = _pad_to_windows(parts, win)
        hp, wp = h + ph, w + pw
        windows = to_windows(parts, win)  # (B*nW, T, 3D)
        mask = None
        if ph or pw:  # padded tokens must not be attended to
            valid = torch.zeros(1, hp, wp, 1, device=x.device, dtype=torch.bool)
            valid[:, :h, :w] = True
            mask = to_windows(valid.expand(b, -1, -1, -1).to(x.dtype), win)[..., 0] > 0.5  # (B*nW, T)
            mask = mask[:, None, None, :]
        q, k, v = (t.reshape(t.shape[0], t.shape[1], self.heads, d // self.heads).transpose(1, 2) for t in windows.chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        out = out.transpose(1, 2).reshape(-1, win * win, d)
        out = from_windows(out, win, b, hp, wp)[:, :h, :w]
        if shift:
            out = out.roll((shift, shift), dims=(1, 2))
        return self.proj(out), values


class DiTBlock(nn.Module):
    """Conv block + windowed attention + MoE-GLU, all AdaLN-modulated and gated (adaLN-Zero)."""

    def __init__(
        self,
        dim: int,
        heads: int,
        window: int,
        shift: bool,
        mlp_ratio: float,
        routed: int,
        shared: int,
        top_k: int,
        adaln_rank: int,
    ) -> None:
        super().__init__()
        self.norm_conv = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.conv = ConvBlock(dim)
        self.norm_attn = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = WindowAttention(dim, heads, window, shift)
        self.norm_ffn = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ffn = MoEGLU(dim, int(dim * mlp_ratio), routed=routed, shared=shared, top_k=top_k)
        self.adaln = LowRankAdaLN(dim, 9, adaln_rank)

    def forward(self, x: Tensor, cond: Tensor, first_values: Tensor | None) -> tuple[Tensor, Tensor]:
        s1, c1, g1, s2, c2, g2, s3, c3, g3 = self.adaln(cond)
        x = x + g1[:, None, None] * self.conv(modulate(self.norm_conv(x), s1, c1))
        attn, values = self.attn(modulate(self.norm_attn(x), s2, c2), first_values)
        x = x + g2[:, None, None] * attn
        x = x + g3[:, None, None] * self.ffn(modulate(self.norm_ffn(x), s3, c3))
        return x, values
