"""The learned frame restorer on held-out frames: PSNR against the clean frame, before and after.

Why: the restorer (``weights/restorer.safetensors``) runs inside the all-in-one models' base
when a prompt names JPEG artifacts; this checks it on its own, per degradation and task, on
the same held-out scenes, seeds and degradations as ``bench/eval_weights.py`` (n = 1). Frames
the degradation left clean (a VIF sample degrades one of its two frames) are scored apart:
the restorer is trained on degraded frames only, so it is expected to change them a little.

    python bench/eval_restorer.py            # ~11 s on 2 CPU cores
    python bench/eval_restorer.py --weights runs/restorer/checkpoints/best.safetensors
    python bench/eval_restorer.py --fused    # + what it does to the training-free fusion (~15 s in all)

``--fused`` also scores the training-free fusion (PSNR-ref against the teacher fusion of the
clean frames, as in the model card's degraded tables) of the frames as degraded, restored all
(what the all-in-one model's base does for a JPEG prompt), restored only where the degradation
changed them (an oracle: prompts do not say which frame), and restored where the frame looks
up-sampled (:func:`fusecli.restore.looks_upsampled`: what ``mmaif-reg``'s base does for a
low-resolution prompt): does a better frame make a better fusion?
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_weights import ROOT, TEACHER, degraded_case, held_out  # noqa: E402

from fusecli.metrics.functional import psnr_reference  # noqa: E402
from fusecli.metrics.score import score_arrays  # noqa: E402
from fusecli.methods import fuse_frames  # noqa: E402
from fusecli.models.weights import load_weights  # noqa: E402
from fusecli.restore import looks_upsampled  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights" / "restorer.safetensors")
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--fused", action="store_true", help="also score the training-free fusion of the restored frames")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = load_weights(args.weights).eval()
    _, val = held_out(384)
    print("| degradation | task | degraded frames (n) | PSNR before | after | frames left clean (n) | PSNR after |\n|---|---|---|---|---|---|---|")
    fused_rows = {}
    for op in model.config.ops:
        for task in ("vif", "mef", "mff"):
            degraded, clean, fused = [], [], []
            for index, scene in enumerate([s for s in val if s.task == task][: args.scenes]):
                frames, _, inputs, reference = degraded_case(scene, task, index, f"n=1 {op}", ops=[op])
                with torch.no_grad():
                    restored = list(model(torch.from_numpy(np.stack(inputs)[:, None]))[:, 0].numpy())
                was_clean = [np.array_equal(before, truth) for before, truth in zip(inputs, frames)]
                for before, after, truth, kept in zip(inputs, restored, frames, was_clean):
                    before, after, truth = (255.0 * np.asarray(x, np.float64) for x in (before, after, truth))
                    if kept:
                        clean.append(psnr_reference(after, truth))
                    else:
                        degraded.append((psnr_reference(before, truth), psnr_reference(after, truth)))
                if args.fused:
                    changed_only = [before if kept else after for before, after, kept in zip(inputs, restored, was_clean)]
                    detected = [after if looks_upsampled(before) else before for before, after in zip(inputs, restored)]
                    fused.append([fused_psnr(task, x, frames, reference) for x in (inputs, restored, changed_only, detected)])
            before, after = np.mean(degraded, axis=0)
            kept = f"{len(clean)} | {np.mean(clean):.2f}" if clean else "0 | —"
            print(f"| {op} | {task} | {len(degraded)} | {before:.2f} | {after:.2f} | {kept} |")
            fused_rows[op, task] = fused
    if args.fused:
        print("\n| degradation | task | fusion of the degraded frames | all frames restored | only the changed frames restored | only the frames that look up-sampled |\n|---|---|---|---|---|---|")
        for (op, task), rows in fused_rows.items():
            print(f"| {op} | {task} | " + " | ".join(f"{v:.2f}" for v in np.mean(rows, axis=0)) + " |")


def fused_psnr(task: str, inputs: list[np.ndarray], frames: list[np.ndarray], reference: np.ndarray) -> float:
    """PSNR-ref of the task's training-free fusion of ``inputs`` (the card's degraded-table score)."""
    return score_arrays(fuse_frames(TEACHER[task], inputs), frames, ("PSNR-ref",), reference=reference)["PSNR-ref"]

if __name__ == "__main__":
    main()
