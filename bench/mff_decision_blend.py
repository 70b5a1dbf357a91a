"""Does `moefusion-mff`'s learned focus map do better inside `focus-fusion`'s blending?

Why: `moefusion-mff` blends its two sources per pixel with its soft map (w A + (1 - w) B) and is
only on par with the training-free `focus-fusion` (docs/models.md). This scores two
variants that keep the learned map but blend like `focus-fusion` (Laplacian pyramid): the soft
map as pyramid weights, and the map thresholded at 0.5, median-filtered (consistency) and
softened as `focus-fusion` does with its own decision. Pairs only (the model fuses two frames);
held-out scenes and the training-split real pairs, which `moefusion-mff` never trained on.

    python bench/mff_decision_blend.py      # ~1 min on 2 CPU cores
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_weights import frames_of, held_out  # noqa: E402

from fusecli.metrics.score import score_arrays  # noqa: E402
from fusecli.fusion.learned import fuse_network  # noqa: E402
from fusecli.models.base import FuseOptions  # noqa: E402
from fusecli.methods import fuse_frames  # noqa: E402
from fusecli.methods.pyramid import pyramid_blend  # noqa: E402
from fusecli.models.weights import load_model  # noqa: E402

METRICS = ("Qabf", "Qcb", "SSIM")


def variants(model, frames: list[np.ndarray]) -> dict[str, np.ndarray]:
    x = torch.from_numpy(np.stack(frames).astype(np.float32))[None, :, None]
    with torch.no_grad():
        result = fuse_network(model, x, FuseOptions(task="mff"))
    h, w = frames[0].shape
    soft = result.maps["weights"][0, 0].numpy()[:h, :w]
    choice = cv2.medianBlur((soft > 0.5).astype(np.uint8), 5)
    hard = np.stack([cv2.GaussianBlur(m.astype(np.float32), (0, 0), 1.0) for m in (choice, 1 - choice)])
    return {
        "focus-fusion": fuse_frames("focus-fusion", frames),
        "moefusion-mff": result.image[0, 0].numpy(),
        "learned map, pyramid blend": pyramid_blend(frames, np.stack([soft, 1 - soft]) + 1e-6),
        "learned decision, consistency, pyramid blend": pyramid_blend(frames, hard + 1e-6),
    }


def main() -> None:
    torch.set_num_threads(2)
    train, val = held_out()
    model = load_model("moefusion-mff")
    for split, scenes in (("held-out", val), ("training-split real", train)):
        rows: dict[str, list[dict]] = {}
        pairs = [frames_of(s) for s in scenes if s.task == "mff" and not s.synthetic and len(s.frames) == 2]
        for frames in pairs:
            for name, fused in variants(model, frames).items():
                rows.setdefault(name, []).append(score_arrays(fused, frames, METRICS))
        print(f"\n**{split} MFF pairs (n = {len(pairs)})**\n\n| method | " + " | ".join(METRICS) + " |\n|---|---|---|---|")
        for name, scores in rows.items():
            print(f"| {name} | " + " | ".join(f"{np.mean([s[m] for s in scores]):.4f}" for m in METRICS) + " |")


if __name__ == "__main__":
    main()
