"""Benchmark: CPU time of the learned no-reference metrics (MUSIQ, CLIP-IQA) per image.

The published architectures at full size (MUSIQ: 14-layer ViT on 224/384/original scales,
27.1 M parameters; CLIP-IQA: CLIP RN50, image tower at the image's own resolution plus the
text tower for the prompts, cached after the first image). The weights are random — speed
does not depend on their values, and the pretrained files cannot be downloaded here.

Run: python bench/bench_learned_metrics.py [--threads 2] [--repeat 3] [--size 640x480] [--only musiq]
(the last line printed is the process's peak memory)
"""

from __future__ import annotations

import argparse
import gzip
import platform
import resource
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench_models import best_time  # same folder: run as a script
from fusecli.metrics import clip_iqa, musiq


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the test image")
    parser.add_argument("--only", choices=["musiq", "clip-iqa"], help="time one metric")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    image = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
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
        rows = []
        if args.only in (None, "musiq"):
            rows.append(("MUSIQ", n_musiq, best_time(lambda: musiq.score(image, folder / "musiq.safetensors"), args.repeat)))
        if args.only in (None, "clip-iqa"):
            rows.append(("CLIP-IQA (RN50)", n_clip, best_time(lambda: clip_iqa.score(image, folder / "RN50.pt"), args.repeat)))
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads")
    print(f"| metric | parameters | {args.size} RGB, s/image |")
    print("|---|---|---|")
    for name, n, seconds in rows:
        print(f"| {name} | {n:,} | {seconds:.3f} |")
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
