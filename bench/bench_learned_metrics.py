"""Benchmark: CPU time of the learned no-reference metrics (MUSIQ, CLIP-IQA) per image.

The published architectures at full size (MUSIQ: 14-layer ViT on 224/384/original scales,
27.1 M parameters; CLIP-IQA: CLIP RN50, image tower at the image's own resolution plus the
text tower for the prompts, cached after the first image). The weights are random — speed
does not depend on their values, and the pretrained files cannot be downloaded here.

Run: python bench/bench_learned_metrics.py [--threads 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fusecli.metrics import clip_iqa, musiq


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up: loading, kernel selection, the cached prompt features
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = np.random.default_rng(0).random((480, 640, 3), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = musiq.MUSIQ()
        musiq.save_musiq(model, folder / "musiq.safetensors")
        n_musiq = sum(p.numel() for p in model.parameters())
        torch.manual_seed(0)
        rn50 = clip_iqa.CLIP(1024, [3, 4, 6, 3], 64, 77, 49408, 512, 12)
        torch.save(rn50.state_dict(), folder / "RN50.pt")
        n_clip = sum(p.numel() for p in rn50.parameters())
        with gzip.open(folder / clip_iqa.VOCAB, "wt") as f:
            f.write("#version: 0.2\n")
        t_musiq = best_time(lambda: musiq.score(image, folder / "musiq.safetensors"), args.repeat)
        t_clip = best_time(lambda: clip_iqa.score(image, folder / "RN50.pt"), args.repeat)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads")
    print("| metric | parameters | 640x480 RGB, s/image |")
    print("|---|---|---|")
    print(f"| MUSIQ | {n_musiq:,} | {t_musiq:.3f} |")
    print(f"| CLIP-IQA (RN50) | {n_clip:,} | {t_clip:.3f} |")


if __name__ == "__main__":
    main()
