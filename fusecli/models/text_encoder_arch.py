"""Compact prompt encoder trained with the fusion model (no pretrained language model here).

Tokens are the words of :func:`fusecli.degrade.prompts.prompt_vocabulary`, then any
``extra_words`` taught later (:meth:`TextEncoder.add_words`: free-form wording); any other word
is hashed (CRC-32, stable across runs and machines) into ``buckets`` extra ids, so unseen words
still map somewhere consistent. Learned embeddings + positions -> a small transformer ->
masked mean pooling -> ``(B, dim)``. A missing or empty prompt (or one dropped during training)
becomes a learned null embedding, which is what keeps prompts optional (seed 000 section 5.2).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from fusecli.degrade.prompts import prompt_vocabulary, tokenize

PAD = 0


def _default_vocabulary() -> tuple[str, ...]:
    return tuple(prompt_vocabulary())


@dataclass
class TextEncoderConfig:
    dim: int = 96
    layers: int = 2
    heads: int = 4
    buckets: int = 64
    max_tokens: int = 48
    vocabulary: tuple[str, ...] = field(default_factory=_default_vocabulary)
    extra_words: tuple[str, ...] = ()  # ids after the vocabulary's, before the hashed buckets


class PromptTokenizer:
    """Words -> ids: 0 pad, 1..V known words, V+1..V+buckets hashed unknown words."""

    def __init__(self, vocabulary: tuple[str, ...], buckets: int, max_tokens: int) -> None:
        self.ids = {word: i + 1 for i, word in enumerate(vocabulary)}
        self.buckets, self.max_tokens = buckets, max_tokens
        self.size = len(vocabulary) + buckets + 1

    def encode(self, text: str) -> list[int]:
        out = []
        for word in tokenize(text)[: self.max_tokens]:
            known = self.ids.get(word)
            out.append(known if known is not None else len(self.ids) + 1 + zlib.crc32(word.encode()) % self.buckets)
        return out

    def unknown(self, text: str | None) -> list[str]:
        """The words of ``text`` with no id of their own (read through the shared hashed ids)."""
        return list(dict.fromkeys(w for w in tokenize(text or "")[: self.max_tokens] if w not in self.ids))

    def batch(self, prompts: list[str | None], device: torch.device | None = None) -> Tensor:
        """``(B, L)`` ids, padded with 0; an empty or ``None`` prompt is all padding."""
        rows = [self.encode(p) if p else [] for p in prompts]
        length = max(1, max(len(r) for r in rows))
        ids = torch.zeros(len(rows), length, dtype=torch.long, device=device)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return ids


class TextEncoder(nn.Module):
    def __init__(self, config: TextEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = PromptTokenizer(tuple(config.vocabulary) + tuple(config.extra_words), config.buckets, config.max_tokens)
        self.embed = nn.Embedding(self.tokenizer.size, config.dim, padding_idx=PAD)
        self.position = nn.Parameter(torch.zeros(config.max_tokens, config.dim))
        layer = nn.TransformerEncoderLayer(config.dim, config.heads, 2 * config.dim, dropout=0.0, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.null = nn.Parameter(torch.zeros(config.dim))
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.position, std=0.02)

    def add_words(self, words: list[str]) -> int:
        """Give ``words`` (those not known yet) ids of their own, each starting at the embedding
        of the hashed id it had, so every prompt encodes exactly as before; returns how many."""
        known = set(self.tokenizer.ids)
        new = [w for w in dict.fromkeys(words) if w not in known]
        if not new:
            return 0
        old = self.embed.weight.data
        start = [old[self.tokenizer.encode(w)[0]] for w in new]  # the hashed rows they had
        self.config.extra_words = tuple(self.config.extra_words) + tuple(new)
        self.tokenizer = PromptTokenizer(tuple(self.config.vocabulary) + tuple(self.config.extra_words), self.config.buckets, self.config.max_tokens)
        words_end = len(known) + 1
        weight = torch.cat([old[:words_end], torch.stack(start), old[words_end:]])
        self.embed = nn.Embedding(self.tokenizer.size, self.config.dim, padding_idx=PAD).to(old.device)
        self.embed.weight.data.copy_(weight)
        return len(new)

    def forward(self, prompts: list[str | None]) -> Tensor:
        """Prompts -> ``(B, dim)``; rows with no words (None, empty) get the null embedding."""
        device = self.null.device
        ids = self.tokenizer.batch(prompts, device)
        valid = ids != PAD
        x = self.embed(ids) + self.position[: ids.shape[1]]
        has_words = valid.any(1)
        # Rows without words attend to a dummy key so the transformer never sees an empty mask.
        key_padding = ~valid
        key_padding[~has_words, 0] = False
        x = self.transformer(x, src_key_padding_mask=key_padding)
        weights = valid.to(x.dtype)[..., None]
        pooled = (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return torch.where(~has_words[:, None], self.null.expand_as(pooled), pooled)
