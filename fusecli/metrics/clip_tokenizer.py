"""CLIP's byte-level BPE tokenizer (Radford et al. 2021), for CLIP-IQA's text prompts.

Reads the merges file CLIP was trained with (``bpe_simple_vocab_16e6.txt.gz``, distributed
with OpenAI's ``clip`` and ``open_clip`` packages). The vocabulary is the 256 byte symbols,
the same with the end-of-word mark ``</w>``, one entry per merge, then the start and end
tokens. Text is lower-cased and whitespace-normalised (the original also runs ``ftfy`` to
repair mojibake, which prompts written by hand do not need).
"""

from __future__ import annotations

import functools
import gzip
import html
import re
from pathlib import Path

import numpy as np

START, END = "<|startoftext|>", "<|endoftext|>"
# letters, single digits, runs of other non-space characters (the original uses \p{L} / \p{N})
_PATTERN = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+", re.IGNORECASE)
N_MERGES = 49152 - 256 - 2


@functools.lru_cache(maxsize=1)
def byte_symbols() -> dict[int, str]:
    """Every byte -> a printable unicode character (printable latin-1 bytes map to themselves)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in symbols:
            symbols[b] = chr(256 + extra)
            extra += 1
    return {b: symbols[b] for b in [*printable, *(b for b in range(256) if b not in printable)]}


class ClipTokenizer:
    def __init__(self, merges_file: Path) -> None:
        lines = gzip.open(merges_file, "rt", encoding="utf-8").read().split("\n")
        merges = [tuple(line.split()) for line in lines[1 : N_MERGES + 1] if line.strip()]
        symbols = list(byte_symbols().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [START, END]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache: dict[str, str] = {START: START, END: END}

    def _bpe(self, token: str) -> list[str]:
        if token in self.cache:
            return self.cache[token].split(" ")
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self.cache[token] = " ".join(word)
        return word

    def encode(self, text: str) -> list[int]:
        text = re.sub(r"\s+", " ", html.unescape(html.unescape(text))).strip().lower()
        table = byte_symbols()
        ids = []
        for token in _PATTERN.findall(text):
            token = "".join(table[b] for b in token.encode("utf-8"))
            ids += [self.encoder[t] for t in self._bpe(token)]
        return ids

    def __call__(self, texts: list[str], context_length: int = 77) -> np.ndarray:
        """``(len(texts), context_length)`` int64 token ids: start, text, end, zero padding."""
        out = np.zeros((len(texts), context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.encoder[START], *self.encode(text), self.encoder[END]]
            if len(ids) > context_length:
                raise ValueError(f"prompt too long for CLIP ({len(ids)} > {context_length} tokens): {text!r}")
            out[row, : len(ids)] = ids
        return out
