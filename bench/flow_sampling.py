"""How much `mmaif-flow`'s output depends on the sampler: seeds, SDE against ODE, and steps.

Why: a flow model draws a sample; if samples differ a lot, one evaluation seed says little, and
if few steps do as well as many, users can halve the time. Scored like the model-card tables
(``bench/eval_weights.py``: the same held-out scenes, seeds and degradations, PSNR-ref against
the teacher fusion of the clean frames), on the n = 2 setting with its prompt.

    python bench/flow_sampling.py            # ~1 min on 2 CPU cores
    python bench/flow_sampling.py --weights runs/x/checkpoints/best.safetensors --setting n=3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_weights import degraded_case, setting_study  # noqa: E402

from fusecli.metrics.score import score_arrays  # noqa: E402
from fusecli.fusion.learned import fuse_network  # noqa: E402
from fusecli.models.base import FuseOptions  # noqa: E402

# (label, sampler, steps, seed)
RUNS = [("SDE 8, seed 0", "sde", 8, 0), ("SDE 8, seed 1", "sde", 8, 1), ("SDE 8, seed 2", "sde", 8, 2), ("SDE 8, seed 3", "sde", 8, 3),
        ("ODE 8", "ode", 8, 0), ("SDE 4", "sde", 4, 0), ("SDE 2", "sde", 2, 0), ("1 step", "ode", 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", default="n=2", help="n=2, n=3 or one degradation, e.g. gaussian_noise")
    args, scenes_of, model = setting_study(parser, "mmaif-flow.safetensors")
    label, how = (args.setting, {"n": int(args.setting[2:])}) if args.setting.startswith("n=") else (f"n=1 {args.setting}", {"ops": [args.setting]})
    print(f"PSNR-ref (dB), {label} +prompt, mean over {args.scenes} {args.split} scenes; spread = largest per-scene range over the 4 SDE seeds\n")
    print("| task | " + " | ".join(run[0] for run in RUNS) + " | seed spread |\n|---|" + "---|" * (len(RUNS) + 1))
    for task in ("vif", "mef", "mff"):
        table = []
        for index, scene in enumerate(scenes_of(task)):
            frames, made, inputs, reference = degraded_case(scene, task, index, label, **how)
            x = torch.from_numpy(np.stack(inputs).astype(np.float32))[None, :, None]
            row = []
            for _, sampler, steps, seed in RUNS:
                options = FuseOptions(task=task, prompt=made.prompt, steps=steps, sampler=sampler, generator=torch.Generator().manual_seed(seed))
                with torch.no_grad():
                    fused = fuse_network(model, x, options).image[0, 0].numpy()
                row.append(score_arrays(fused, frames, ("PSNR-ref",), reference=reference)["PSNR-ref"])
            table.append(row)
        t = np.array(table)
        spread = (t[:, :4].max(1) - t[:, :4].min(1)).max()
        print(f"| {task} | " + " | ".join(f"{v:.2f}" for v in t.mean(0)) + f" | {spread:.3f} |")


if __name__ == "__main__":
    main()
