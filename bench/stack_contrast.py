"""Low contrast on MEF / MFF stacks: each frame's own contrast stretch against one gain shared by the stack.

Why: ``fusecli.degrade`` (like a flat lens or a flat picture profile) compresses every frame of a
stack by the same ``c``, and a frame's own stretch can only fall short of it (it reaches it where
that frame's scene reached black or white). ``fusecli.restore.restore_stack`` takes the stack's
largest estimate for every frame. This scores both, fused with the training-free method, against
the teacher fusion of the clean frames (PSNR-ref, the model card's reference), per scene, on the
held-out scenes and on real training-split scenes (same degradation seeds as
``bench/eval_weights.py``'s low-contrast setting).

    python bench/stack_contrast.py            # ~10 s on 2 CPU cores
    python bench/stack_contrast.py --scenes 16 --split train
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_weights import TEACHER, degraded_case, held_out  # noqa: E402

from fusecli.metrics.score import score_arrays  # noqa: E402
from fusecli.methods import fuse_frames  # noqa: E402
from fusecli.restore import restore, restore_stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=6, help="scenes per task (the held-out tables use 6)")
    parser.add_argument("--split", choices=("val", "train"), default="val")
    parser.add_argument("--max-side", type=int, default=384)
    args = parser.parse_args()
    train, val = held_out(args.max_side)
    ops = ["low_contrast"]
    for task in ("mef", "mff"):
        if args.split == "val":
            scenes = [s for s in val if s.task == task][: args.scenes]
        else:
            real = [s for s in train if s.task == task and not s.synthetic]
            scenes = real[:: max(1, len(real) // args.scenes)][: args.scenes]
        print(f"\n{task.upper()} low contrast, {args.split} split: PSNR-ref (dB) of restoration + {TEACHER[task]}")
        print("| scene | each frame's own stretch | the stack's shared stretch |\n|---|---|---|")
        rows = []
        for index, scene in enumerate(scenes):
            _, _, inputs, reference = degraded_case(scene, task, index, "n=1 low_contrast", ops=ops)
            psnr = lambda image: score_arrays(image, [], ["PSNR-ref"], reference=reference)["PSNR-ref"]  # noqa: E731
            rows.append((psnr(fuse_frames(TEACHER[task], [restore(f, ops) for f in inputs])),
                         psnr(fuse_frames(TEACHER[task], restore_stack(inputs, ops, task)))))
            print(f"| {scene.name} | {rows[-1][0]:.2f} | {rows[-1][1]:.2f} |")
        alone, shared = np.array(rows).T
        print(f"| mean | {alone.mean():.2f} | {shared.mean():.2f} |  (shared higher in {(shared > alone + 1e-6).sum()}, lower in {(shared < alone - 1e-6).sum()} of {len(rows)})")


if __name__ == "__main__":
    main()
