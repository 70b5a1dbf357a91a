"""MUSIQ: multi-scale image quality transformer (Ke et al., ICCV 2021), no reference.

The image is seen at several scales at once — resized so its longer side is 224 and 384, plus
the original resolution — as 32x32 patches. Each patch goes through a small ResNet stem
(weight-standardised convs + GroupNorm) into a token; tokens get a hash-based spatial
embedding (the patch grid mapped onto a fixed 10x10 grid, so any aspect ratio works) and a
scale embedding; a ViT encoder reads them with a class token whose output is the score.

Higher is better. With the KonIQ-10k checkpoint (what MMAIF and most papers report, pyiqa's
``musiq``) the score is a MOS on ~0..100; AVA checkpoints predict a 10-bin distribution whose
mean (1..10) is returned. Parameter names follow the public PyTorch port of Google's
checkpoints (pyiqa ``musiq_koniq_ckpt-e95806b9.pth``), so those files load as they are.
Preprocessing follows that port: bicubic resizing, TF "SAME" padding, inputs on -1..1.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusecli.metrics.checkpoints import CheckpointError, check_keys, load_state_dict

FILE_NAMES = ("musiq_koniq_ckpt-e95806b9.pth", "musiq.safetensors", "musiq.pth")
QUERY_CHUNK = 2048
WHERE = "the KonIQ-10k MUSIQ checkpoint of pyiqa's model zoo, or Google's converted to PyTorch"


@dataclass
class MUSIQConfig:
    patch_size: int = 32
    stem_channels: int = 64
    hidden_size: int = 384
    mlp_dim: int = 1152
    num_heads: int = 6
    num_layers: int = 14
    grid_size: int = 10  # hash-based spatial embedding grid
    longer_side_lengths: list[int] = field(default_factory=lambda: [224, 384])
    original_resolution: bool = True  # add a scale with every patch of the image as it is
    num_classes: int = 1  # 1: MOS regression (KonIQ); >1: score distribution (AVA: 10)

    @property
    def num_scales(self) -> int:
        return len(self.longer_side_lengths) + int(self.original_resolution)


def _same_pad(x: Tensor, kernel: int, stride: int) -> Tensor:
    """TensorFlow "SAME" padding (the extra pixel goes right/bottom) for ``(B, C, H, W)``."""
    h, w = x.shape[-2:]
    pad_h = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pad_w = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


class StdConv2d(nn.Conv2d):
    """Convolution with weight standardisation (zero mean, unit variance per filter), "SAME" padding."""

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        std = w.std(dim=(1, 2, 3), keepdim=True)
        return F.conv2d(_same_pad(x, self.kernel_size[0], self.stride[0]), (w - mean) / (std + 1e-5), None, self.stride)


class StemBottleneck(nn.Module):
    """The ResNet bottleneck of the patch stem (widths ``c -> c -> c -> 4c``, projection shortcut)."""

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = StdConv2d(channels, channels, 1, bias=False)
        self.gn1 = nn.GroupNorm(32, channels, eps=1e-4)
        self.conv2 = StdConv2d(channels, channels, 3, bias=False)
        self.gn2 = nn.GroupNorm(32, channels, eps=1e-4)
        self.conv3 = StdConv2d(channels, out_channels, 1, bias=False)
        self.gn3 = nn.GroupNorm(32, out_channels, eps=1e-4)
        self.conv_proj = StdConv2d(channels, out_channels, 1, bias=False)
        self.gn_proj = nn.GroupNorm(32, out_channels, eps=1e-4)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.gn_proj(self.conv_proj(x))
        y = F.relu(self.gn1(self.conv1(x)))
        y = F.relu(self.gn2(self.conv2(y)))
        return F.relu(self.gn3(self.conv3(y)) + shortcut)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        """``x (B, N, D)``; ``key_mask (B, N)`` bool, False for padding tokens (never attended)."""
        b, n, d = x.shape
        q, k, v = (proj(x).view(b, n, self.heads, d // self.heads).transpose(1, 2) for proj in (self.query, self.key, self.value))
        mask = key_mask[:, None, None, :]
        # queries in chunks: the original-resolution scale of a 24 MP photo is ~23k tokens, and
        # a full attention matrix would need ~13 GB
        y = torch.cat([F.scaled_dot_product_attention(q[:, :, i : i + QUERY_CHUNK], k, v, attn_mask=mask)
                       for i in range(0, n, QUERY_CHUNK)], dim=2)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, mlp_dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attention = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_dim)

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x), key_mask)
        return x + self.mlp(self.norm2(x))


class PositionEmbedding(nn.Module):
    def __init__(self, grid_size: int, dim: int) -> None:
        super().__init__()
        self.position_emb = nn.Parameter(torch.randn(1, grid_size * grid_size, dim) * 0.02)


class ScaleEmbedding(nn.Module):
    def __init__(self, num_scales: int, dim: int) -> None:
        super().__init__()
        self.scale_emb = nn.Parameter(torch.randn(num_scales, dim) * 0.02)


class Encoder(nn.Module):
    def __init__(self, c: MUSIQConfig) -> None:
        super().__init__()
        self.posembed_input = PositionEmbedding(c.grid_size, c.hidden_size)
        self.scaleembed_input = ScaleEmbedding(c.num_scales, c.hidden_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, c.hidden_size))
        self.transformer = nn.ModuleDict(
            {f"encoderblock_{i}": EncoderBlock(c.hidden_size, c.mlp_dim, c.num_heads) for i in range(c.num_layers)}
        )
        self.encoder_norm = nn.LayerNorm(c.hidden_size, eps=1e-6)

    def forward(self, tokens: Tensor, positions: Tensor, scales: Tensor, mask: Tensor) -> Tensor:
        x = tokens + self.posembed_input.position_emb[0][positions] + self.scaleembed_input.scale_emb[scales]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        key_mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        for block in self.transformer.values():
            x = block(x, key_mask)
        return self.encoder_norm(x[:, 0])


class MUSIQ(nn.Module):
    """``forward(images (B, 3, H, W) on 0..1) -> (B,)`` quality scores (higher is better)."""

    def __init__(self, config: MUSIQConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or MUSIQConfig()
        if c.patch_size % 4:
            raise ValueError("MUSIQ's patch size must be a multiple of 4")
        self.conv_root = StdConv2d(3, c.stem_channels, 7, stride=2, bias=False)
        self.gn_root = nn.GroupNorm(32, c.stem_channels, eps=1e-6)
        self.block1 = StemBottleneck(c.stem_channels, 4 * c.stem_channels)
        self.embedding = nn.Linear(4 * c.stem_channels * (c.patch_size // 4) ** 2, c.hidden_size)
        self.transformer_encoder = Encoder(c)
        self.head = nn.Linear(c.hidden_size, c.num_classes)

    def embed_patches(self, patches: Tensor) -> Tensor:
        """``(B, N, 3, P, P)`` patches on -1..1 -> ``(B, N, hidden)`` tokens."""
        b, n = patches.shape[:2]
        x = F.relu(self.gn_root(self.conv_root(patches.flatten(0, 1))))
        x = F.max_pool2d(_same_pad(x, 3, 2), 3, 2)
        x = self.block1(x)
        return self.embedding(x.permute(0, 2, 3, 1).reshape(b, n, -1))  # channels last, like the TF original

    def forward(self, images: Tensor) -> Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"MUSIQ takes (B, 3, H, W) images, got {tuple(images.shape)}")
        patches, positions, scales, mask = multiscale_patches(images * 2 - 1, self.config)
        features = self.transformer_encoder(self.embed_patches(patches), positions, scales, mask)
        out = self.head(features)
        if self.config.num_classes == 1:
            return out[:, 0]
        bins = torch.arange(1, self.config.num_classes + 1, dtype=out.dtype, device=out.device)
        return (out.softmax(-1) * bins).sum(-1)  # mean opinion score of the predicted distribution


def _hashed_positions(grid: int, rows: int, cols: int) -> Tensor:
    """Index into the ``grid x grid`` embedding for each patch of a ``rows x cols`` patch grid."""
    r = torch.arange(rows) * grid // rows
    c = torch.arange(cols) * grid // cols
    return (r[:, None] * grid + c[None, :]).flatten()


def multiscale_patches(images: Tensor, c: MUSIQConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(B, 3, H, W)`` -> patches ``(B, N, 3, P, P)``, hashed positions, scale ids ``(B, N)``
    and a validity mask ``(B, N)``; each resized scale is zero-padded to ``ceil(L / P)^2`` tokens."""
    b, _, h, w = images.shape
    p = c.patch_size
    scaled: list[tuple[Tensor, int | None]] = []
    for length in sorted(c.longer_side_lengths):
        ratio = length / max(h, w)
        size = (max(round(h * ratio), 1), max(round(w * ratio), 1))
        resized = F.interpolate(images, size=size, mode="bicubic", align_corners=False)
        scaled.append((resized, math.ceil(length / p) ** 2))
    if c.original_resolution:
        scaled.append((images, None))
    parts = []
    for scale_id, (image, max_len) in enumerate(scaled):
        rows, cols = math.ceil(image.shape[-2] / p), math.ceil(image.shape[-1] / p)
        padded = _same_pad(image, p, p)
        patches = F.unfold(padded, p, stride=p).transpose(1, 2).reshape(b, rows * cols, 3, p, p)
        positions = _hashed_positions(c.grid_size, rows, cols).expand(b, -1)
        count = rows * cols if max_len is None else max_len
        mask = torch.zeros(b, count, dtype=torch.bool)
        mask[:, : min(rows * cols, count)] = True
        if count > rows * cols:  # pad the sequence (masked tokens)
            extra = count - rows * cols
            patches = torch.cat([patches, patches.new_zeros(b, extra, 3, p, p)], dim=1)
            positions = torch.cat([positions, positions.new_zeros(b, extra)], dim=1)
        parts.append((patches[:, :count], positions[:, :count], torch.full((b, count), scale_id), mask))
    return tuple(torch.cat(t, dim=1).to(images.device) for t in zip(*parts))  # type: ignore[return-value]


def config_from_state(state: dict[str, Tensor], metadata: dict[str, str]) -> MUSIQConfig:
    """Read the architecture off the tensor shapes (published checkpoints carry no config);
    a safetensors file saved by :func:`save_musiq` stores it in its metadata."""
    if "config" in metadata:
        import json

        return MUSIQConfig(**json.loads(metadata["config"]))
    stem = state["conv_root.weight"].shape[0]
    hidden, embed_in = state["embedding.weight"].shape
    layers = sum(1 for k in state if k.endswith("attention.query.weight"))
    num_scales = state["transformer_encoder.scaleembed_input.scale_emb"].shape[0]
    return MUSIQConfig(
        patch_size=4 * math.isqrt(embed_in // (4 * stem)),
        stem_channels=stem,
        hidden_size=hidden,
        mlp_dim=state["transformer_encoder.transformer.encoderblock_0.mlp.fc1.weight"].shape[0],
        num_heads=max(hidden // 64, 1),
        num_layers=layers,
        grid_size=math.isqrt(state["transformer_encoder.posembed_input.position_emb"].shape[1]),
        original_resolution=num_scales == 3,
        num_classes=state["head.weight"].shape[0],
    )


REQUIRED = ("conv_root.weight", "embedding.weight", "head.weight", "transformer_encoder.scaleembed_input.scale_emb",
            "transformer_encoder.posembed_input.position_emb", "transformer_encoder.transformer.encoderblock_0.mlp.fc1.weight")


def save_musiq(model: MUSIQ, path: Path) -> None:
    """Save ``model`` as safetensors with its config in the metadata."""
    import json

    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata={"config": json.dumps(asdict(model.config))})


def load(path: Path) -> MUSIQ:
    """A MUSIQ model from a checkpoint file (cached per process)."""
    return _load(str(Path(path).resolve()))


@functools.lru_cache(maxsize=2)
def _load(path: str) -> MUSIQ:
    state, metadata = load_state_dict(Path(path))
    state = {k.replace("head.0.", "head."): v for k, v in state.items()}  # AVA heads: Linear + Softmax
    check_keys(state, REQUIRED, Path(path), "MUSIQ")
    model = MUSIQ(config_from_state(state, metadata))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not match the MUSIQ architecture: {str(exc).splitlines()[0]}") from exc
    return model.eval()


def score(image: np.ndarray, weights: Path) -> float:
    """MUSIQ score of one ``(H, W)`` or ``(H, W, 3)`` image on 0..1 (higher is better)."""
    model = load(weights)
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        return float(model(x)[0])
