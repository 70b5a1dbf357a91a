"""Benchmark: parameter counts and CPU forward time of every zoo network at 640x480.

Target: each model fuses a 640x480 pair in under 1 s on this 2-core CPU. Weights are the shipped ones when present, else the
untrained default config (speed does not depend on the values).

A second table times the whole ``fusecli.fusion.fuse`` call (tiling, clipping; learned networks
and training-free methods alike) on one gray 640x480 pair per task, so a learned model can be
compared with the training-free method it competes with. A third times ``mmaif-reg`` with
prompts that make it restore its classical base first (``fusecli.restore``), per task.

Run: python bench/bench_models.py [--threads 2] [--repeat 3] [--only blend-vif,energy-vif]
"""

from __future__ import annotations

import argparse
import platform
import time

import cv2
import numpy as np
import torch

from fusecli.fusion import fuse
from fusecli.fusion.learned import fuse_network
from fusecli.restore.stage import ClassicalStage
from fusecli.models.base import FuseOptions
from fusecli.models.weights import CATALOG, build_entry


# prompts for the third table: none, then one per restoration the shipped mmaif-reg runs
PROMPTS = [
    ("vif", ""),
    ("vif", "remove the noise"),
    ("vif", "remove the JPEG artifacts"),
    ("vif", "fix the stripes in the infrared image"),
    ("mef", "remove the haze"),
    ("mff", "increase the contrast"),
    ("vif", "increase the contrast"),
    # the contrast statistics are of the denoised frames: denoising runs once more, on the whole frames
    ("vif", "remove the noise and increase the contrast"),
    # low resolution: every frame is tested (an FFT each); these random frames are
    # detailed, so the restorer does not run (see the last row for a frame that looks up-sampled)
    ("vif", "the image is low resolution"),
]


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up (allocations, oneDNN kernel selection)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="comma-separated zoo names: time just these (the first two tables)")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    torch.set_num_threads(args.threads)
    frames = torch.rand(1, 2, 1, 480, 640, generator=torch.Generator().manual_seed(0))
    print(f"torch {torch.__version__}, {args.threads} threads, {platform.processor() or platform.machine()}")
    print("| model | parameters | 640x480 pair |")
    print("|---|---|---|")
    for name in CATALOG:
        entry = CATALOG.get(name)
        if entry.kind != "learned" or only is not None and name not in only:
            continue
        model = build_entry(name).eval()
        params = sum(p.numel() for p in model.parameters())

        def run() -> None:
            with torch.no_grad():
                fuse_network(model, frames, FuseOptions(task=entry.tasks[0]))

        print(f"| {name} | {params:,} | {best_time(run, args.repeat):.3f} s |")
    print()
    print("| zoo entry | task | fusecli.fusion.fuse, gray 640x480 pair |")
    print("|---|---|---|")
    pair = [np.asarray(f[0]) for f in frames[0].numpy()]
    for name in CATALOG:
        entry = CATALOG.get(name)
        if not entry.tasks or only is not None and name not in only:
            continue
        task = entry.tasks[0]
        seconds = best_time(lambda: fuse(pair, task=task, model=name, steps=8), args.repeat)
        print(f"| {name} | {task} | {seconds:.3f} s |")
    if only is not None:
        return
    print()
    print("| mmaif-reg, prompt | task | restorations | fusecli.fusion.fuse, gray 640x480 pair |")
    print("|---|---|---|---|")
    model = build_entry("mmaif-reg").eval()
    for task, prompt in PROMPTS:
        restorations = ", ".join(ClassicalStage.of(model).describe(task, prompt)) or "none"
        seconds = best_time(lambda: fuse(pair, task=task, model="mmaif-reg", prompt=prompt or None), args.repeat)
        print(f"| {prompt or '(none)'} | {task} | {restorations} | {seconds:.3f} s |")
    # the visible frame shrunk 3x and resized back: the restorer runs on it alone
    shrunk = [pair[0], cv2.resize(cv2.resize(pair[1], (213, 160), interpolation=cv2.INTER_AREA), (640, 480), interpolation=cv2.INTER_CUBIC)]
    prompt = PROMPTS[-1][1]
    seconds = best_time(lambda: fuse(shrunk, task="vif", model="mmaif-reg", prompt=prompt), args.repeat)
    print(f"| {prompt} (visible frame up-sampled) | vif | downsample, restorer on 1 frame | {seconds:.3f} s |")


if __name__ == "__main__":
    main()
