"""The colours of a contrast restoration: the examples made flat (contrast 0.5), fused by an
all-in-one model with "increase the contrast", against the same model on the clean examples.

Why: the models fuse luminance and take chroma from their inputs, and a contrast loss squeezes
chroma about neutral by the same factor as the tones; ``fusecli fuse`` stretches the inputs'
chroma by the restoration's gain (``fusecli.restore.chroma_gain``). "as stored" is the same run
with that gain forced to 1 (what fusecli did before stop 37).

    python bench/contrast_colour.py            # ~3 s on 2 CPU cores
"""

from __future__ import annotations

import argparse
from pathlib import Path
from unittest import mock

import numpy as np

import fusecli.fuse as fusing
from fusecli.color import rgb_to_ycbcr
from fusecli.degrade.ops import apply
from fusecli.io import read_image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASES = {
    "mef": ["mef/coffee_under.jpg", "mef/coffee_normal.jpg", "mef/coffee_over.jpg"],
    "mff": ["mff/motorcycle_near.jpg", "mff/motorcycle_far.jpg"],
    "vif": ["vif/astronaut_ir.png", "vif/astronaut_vis.jpg"],
}


def colour(image: np.ndarray) -> float:
    """Mean distance of Cb, Cr from neutral."""
    return float(np.abs(rgb_to_ycbcr(image)[..., 1:] - 0.5).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / max(float(np.mean((a - b) ** 2)), 1e-14)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mmaif-reg")
    parser.add_argument("--contrast", type=float, default=0.5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| task | clean fusion: colour | flat, as stored: colour / RGB PSNR | flat, stretched: colour / RGB PSNR |\n|---|---|---|---|")
    for task, names in CASES.items():
        frames = [read_image(EXAMPLES / name)[0] for name in names]
        flat = [f if task == "vif" and k == 0 else apply("low_contrast", f, rng, {"contrast": args.contrast}) for k, f in enumerate(frames)]
        clean = fusing.fuse(frames, task=task, model=args.model).image
        stretched = fusing.fuse(flat, task=task, model=args.model, prompt="increase the contrast").image
        with mock.patch.object(fusing, "chroma_gain", lambda stats: 1.0):
            stored = fusing.fuse(flat, task=task, model=args.model, prompt="increase the contrast").image
        print(f"| {task} | {colour(clean):.4f} | {colour(stored):.4f} / {psnr(stored, clean):.2f} dB | {colour(stretched):.4f} / {psnr(stretched, clean):.2f} dB |")


if __name__ == "__main__":
    main()
