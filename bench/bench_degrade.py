"""Benchmark: write a 1,000-sample VIF degradation dataset of 640x480 pairs.

Target (issue "fusecli degrade"): under 60 s on the 2-core dev machine with ``--jobs 2``.
Inputs: 250 IR/visible pairs at 640x480. Taken from RoadScene under $FUSECLI_DATA when it is
there (resized to 640x480), else rendered from scikit-image's photos. ``--per-image 4`` gives
1,000 samples with n drawn from {1, 2, 3}. Timed end to end through the CLI (process start,
reading, degrading, writing 4 PNGs per sample, manifest).

Run: python bench/bench_degrade.py [--jobs 2] [--pairs 250] [--per-image 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from data_root import DATA_ROOT

ROADSCENE = DATA_ROOT / "vif" / "RoadScene"


def make_inputs(root: Path, pairs: int) -> str:
    (root / "ir").mkdir(parents=True)
    (root / "vis").mkdir(parents=True)
    if ROADSCENE.exists():
        names = sorted(p.name for p in (ROADSCENE / "ir").iterdir())
        for i in range(pairs):
            name = names[i % len(names)]
            ir = cv2.resize(cv2.imread(str(ROADSCENE / "ir" / name), cv2.IMREAD_GRAYSCALE), (640, 480))
            vis = cv2.resize(cv2.imread(str(ROADSCENE / "vi" / name)), (640, 480))
            cv2.imwrite(str(root / "ir" / f"{i:04d}.png"), ir)
            cv2.imwrite(str(root / "vis" / f"{i:04d}.png"), vis)
        return "RoadScene pairs resized to 640x480"
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    for i in range(pairs):
        vis = cv2.resize(photos[i % len(photos)], (640, 480))[:, :, ::-1]
        ir = cv2.GaussianBlur(255 - cv2.cvtColor(vis, cv2.COLOR_BGR2GRAY), (0, 0), 2)
        cv2.imwrite(str(root / "ir" / f"{i:04d}.png"), ir)
        cv2.imwrite(str(root / "vis" / f"{i:04d}.png"), vis)
    return "scikit-image photos resized to 640x480"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=250)
    parser.add_argument("--per-image", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = make_inputs(root / "in", args.pairs)
        cmd = [
            sys.executable, "-m", "fusecli.cli.main", "-q", "degrade", "--task", "vif",
            "--ir", str(root / "in" / "ir"), "--vis", str(root / "in" / "vis"), "--out", str(root / "out"),
            "--n", "1,2,3", "--per-image", str(args.per_image), "--seed", "0", "--jobs", str(args.jobs),
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        elapsed = time.perf_counter() - start
        lines = (root / "out" / "manifest.jsonl").read_text().splitlines()
        counts = np.bincount([json.loads(line)["n"] for line in lines], minlength=4)[1:]
    result = {
        "samples": len(lines),
        "n_counts": {"1": int(counts[0]), "2": int(counts[1]), "3": int(counts[2])},
        "seconds": round(elapsed, 1),
        "samples_per_second": round(len(lines) / elapsed, 1),
        "jobs": args.jobs,
        "inputs": source,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
