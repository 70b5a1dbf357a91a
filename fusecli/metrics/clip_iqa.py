"""CLIP-IQA (Wang, Chan & Loy, AAAI 2023): image quality from CLIP with antonym prompts.

The image and a pair of opposite prompts ("Good photo." / "Bad photo.") are embedded with
CLIP; the score is the softmax probability of the positive prompt over the pair, from the
cosine similarities scaled by CLIP's logit scale — 0..1, higher is better. As in the paper,
the image is read at its own resolution by a ResNet CLIP (RN50) whose attention pooling runs
without its positional embedding (which only exists for 224x224 inputs). pyiqa's ``clipiqa``
averages five antonym pairs instead (``PYIQA_PROMPTS``; ``score(..., prompts=...)``).

Weights: OpenAI's CLIP checkpoint (``RN50.pt``, a TorchScript archive, or a state dict /
safetensors with the same tensor names); the tokenizer needs CLIP's BPE merges file
``bpe_simple_vocab_16e6.txt.gz`` beside it, in the metric weights folder, or from an
installed ``clip`` / ``open_clip`` package.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusecli.metrics.checkpoints import CheckpointError, check_keys, load_state_dict, weights_dir
from fusecli.metrics.clip_tokenizer import ClipTokenizer
from fusecli.metrics.model_files import MissingModelError

FILE_NAMES = ("RN50.pt", "clip-rn50.safetensors")
WHERE = "OpenAI's CLIP ResNet-50 checkpoint"
VOCAB = "bpe_simple_vocab_16e6.txt.gz"
PAPER_PROMPTS = (("Good photo.", "Bad photo."),)
PYIQA_PROMPTS = (
    ("Good image", "bad image"), ("Sharp image", "blurry image"), ("sharp edges", "blurry edges"),
    ("High resolution image", "low resolution image"), ("Noise-free image", "noisy image"),
)
MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's input normalisation
STD = (0.26862954, 0.26130258, 0.27577711)


class Bottleneck(nn.Module):
    """CLIP's ResNet block: strided blocks average-pool (anti-aliased) before the last 1x1 conv."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, 4 * planes, 1, bias=False), nn.BatchNorm2d(4 * planes)
        self.stride = stride
        self.downsample = None
        if stride > 1 or inplanes != 4 * planes:
            self.downsample = nn.Sequential()
            self.downsample.add_module("-1", nn.AvgPool2d(stride) if stride > 1 else nn.Identity())
            self.downsample.add_module("0", nn.Conv2d(inplanes, 4 * planes, 1, bias=False))
            self.downsample.add_module("1", nn.BatchNorm2d(4 * planes))

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        if self.stride > 1:
            y = F.avg_pool2d(y, self.stride)
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class AttentionPool(nn.Module):
    def __init__(self, spatial: int, dim: int, heads: int, out_dim: int) -> None:
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spatial * spatial + 1, dim) / dim**0.5)
        self.k_proj, self.q_proj, self.v_proj = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.c_proj = nn.Linear(dim, out_dim)
        self.heads = heads

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, h, w)`` -> ``(B, out_dim)``: the mean token attends to all positions (no
        positional embedding: any resolution, as CLIP-IQA does)."""
        tokens = x.flatten(2).transpose(1, 2)  # (B, hw, C)
        tokens = torch.cat([tokens.mean(1, keepdim=True), tokens], dim=1)
        b, n, c = tokens.shape
        q = self.q_proj(tokens[:, :1]).view(b, 1, self.heads, -1).transpose(1, 2)
        k = self.k_proj(tokens).view(b, n, self.heads, -1).transpose(1, 2)
        v = self.v_proj(tokens).view(b, n, self.heads, -1).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, c)
        return self.c_proj(y)


class ModifiedResNet(nn.Module):
    def __init__(self, layers: Sequence[int], width: int, out_dim: int, heads: int, resolution: int = 224) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width // 2)
        self.conv2, self.bn2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False), nn.BatchNorm2d(width // 2)
        self.conv3, self.bn3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
        inplanes = width
        for i, blocks in enumerate(layers):
            planes, stride = width * 2**i, 1 if i == 0 else 2
            stage = [Bottleneck(inplanes, planes, stride)] + [Bottleneck(4 * planes, planes) for _ in range(blocks - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
            inplanes = 4 * planes
        self.attnpool = AttentionPool(resolution // 32, inplanes, heads, out_dim)
        self.n_layers = len(layers)

    def forward(self, x: Tensor) -> Tensor:
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = F.relu(bn(conv(x)))
        x = F.avg_pool2d(x, 2)
        for i in range(self.n_layers):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.attnpool(x)


class QuickGELU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class TextBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: Tensor, causal: Tensor) -> Tensor:
        """``x (L, B, width)`` (sequence first, like the original)."""
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=causal)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*[TextBlock(width, heads) for _ in range(layers)])


class CLIP(nn.Module):
    """The ResNet variant of CLIP: ``encode_image`` / ``encode_text`` -> unnormalised embeddings."""

    def __init__(self, embed_dim: int, vision_layers: Sequence[int], vision_width: int, context_length: int,
                 vocab_size: int, text_width: int, text_layers: int, resolution: int = 224) -> None:
        super().__init__()
        self.visual = ModifiedResNet(vision_layers, vision_width, embed_dim, vision_width * 32 // 64, resolution)
        self.token_embedding = nn.Embedding(vocab_size, text_width)
        self.positional_embedding = nn.Parameter(torch.zeros(context_length, text_width))
        self.transformer = Transformer(text_width, text_layers, max(text_width // 64, 1))
        self.ln_final = nn.LayerNorm(text_width)
        self.text_projection = nn.Parameter(torch.randn(text_width, embed_dim) / text_width**0.5)
        self.logit_scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))

    def encode_image(self, images: Tensor) -> Tensor:
        """``(B, 3, H, W)`` on 0..1 (any size, multiples of 32 fit best) -> ``(B, embed_dim)``."""
        mean = images.new_tensor(MEAN).view(1, 3, 1, 1)
        std = images.new_tensor(STD).view(1, 3, 1, 1)
        return self.visual((images - mean) / std)

    def encode_text(self, tokens: Tensor) -> Tensor:
        """``(P, context_length)`` token ids -> ``(P, embed_dim)`` (features of the end token)."""
        n = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positional_embedding[:n]
        causal = torch.full((n, n), float("-inf"), device=x.device).triu(1)
        x = x.transpose(0, 1)
        for block in self.transformer.resblocks:
            x = block(x, causal)
        x = self.ln_final(x.transpose(0, 1))
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection


REQUIRED = ("visual.conv1.weight", "visual.layer1.0.conv1.weight", "visual.attnpool.c_proj.weight",
            "token_embedding.weight", "positional_embedding", "ln_final.weight", "text_projection", "logit_scale")


def clip_from_state(state: dict[str, Tensor], path: Path) -> CLIP:
    """Build a ResNet CLIP whose sizes are read off the checkpoint's tensors."""
    if "visual.proj" in state or "visual.class_embedding" in state:
        raise CheckpointError(f"{path} is a ViT CLIP; CLIP-IQA here uses the ResNet CLIP (RN50.pt)")
    check_keys(state, REQUIRED, path, "CLIP (ResNet)")
    layers = [len({k.split(".")[2] for k in state if k.startswith(f"visual.layer{i}.")}) for i in range(1, 5)]
    layers = [n for n in layers if n]
    spatial = round((state["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
    model = CLIP(
        embed_dim=state["text_projection"].shape[1],
        vision_layers=layers,
        vision_width=state["visual.layer1.0.conv1.weight"].shape[0],
        context_length=state["positional_embedding"].shape[0],
        vocab_size=state["token_embedding.weight"].shape[0],
        text_width=state["ln_final.weight"].shape[0],
        text_layers=len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")}),
        resolution=spatial * 32,
    )
    state = {k: v for k, v in state.items() if k not in ("input_resolution", "context_length", "vocab_size")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not match CLIP's ResNet architecture: {str(exc).splitlines()[0]}") from exc
    return model.eval()


def find_vocab(weights: Path) -> Path:
    """CLIP's BPE merges file: beside the weights, in the metric weights folder, or in an installed
    ``clip`` / ``open_clip`` package (found without importing it)."""
    candidates = [Path(weights).parent / VOCAB, weights_dir() / VOCAB]
    for package in ("clip", "open_clip"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            candidates.append(Path(list(spec.submodule_search_locations)[0]) / VOCAB)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingModelError(
        f"CLIP-IQA needs CLIP's tokenizer file {VOCAB} (shipped with OpenAI's clip package): put it next to "
        f"{Path(weights).name} or in {weights_dir()}"
    )


def load(path: Path) -> tuple[CLIP, ClipTokenizer]:
    """The CLIP model and its tokenizer for a checkpoint file (cached per process)."""
    return _load(str(Path(path).resolve()))


@functools.lru_cache(maxsize=2)
def _load(path: str) -> tuple[CLIP, ClipTokenizer]:
    state, _ = load_state_dict(Path(path))
    return clip_from_state(state, Path(path)), ClipTokenizer(find_vocab(Path(path)))


@functools.lru_cache(maxsize=8)
def _prompt_features(path: str, prompts: tuple[tuple[str, str], ...]) -> Tensor:
    model, tokenizer = _load(path)
    texts = [text for pair in prompts for text in pair]
    tokens = torch.from_numpy(tokenizer(texts, model.positional_embedding.shape[0]))
    with torch.inference_mode():
        return F.normalize(model.encode_text(tokens), dim=-1)


def score(image: np.ndarray, weights: Path, prompts: Sequence[tuple[str, str]] = PAPER_PROMPTS) -> float:
    """CLIP-IQA of one ``(H, W)`` or ``(H, W, 3)`` image on 0..1: mean over the antonym pairs
    of ``softmax(s * [cos(I, T+), cos(I, T-)])[0]`` (0..1, higher is better)."""
    path = str(Path(weights).resolve())
    model, _ = _load(path)
    text = _prompt_features(path, tuple((good, bad) for good, bad in prompts))
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    if min(x.shape[-2:]) < 32:
        raise ValueError("CLIP-IQA needs images of at least 32x32 pixels")
    with torch.inference_mode():
        features = F.normalize(model.encode_image(x), dim=-1)
        logits = model.logit_scale.exp() * features @ text.T  # (1, 2 * pairs)
        return float(logits.view(-1, 2).softmax(-1)[:, 0].mean())

