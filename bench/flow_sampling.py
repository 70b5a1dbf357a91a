"""Does a flow-matching checkpoint's sampler change its output? Seeds, SDE against ODE, steps and
gamma, on the degraded-input benchmark (``bench/degraded_protocol.py``: its frozen test scenes and seeds,
scored against the clean sources and, on the truth sets, against the truth).

Why: a flow model draws a sample. If the samples of different seeds do not differ, the sampler
adds nothing but time; if few steps do as well as many, users can save it. Beside the runs:
``mmaif-reg`` (the regression model ``examples/train/mmaif-flow.toml`` fine-tunes into a flow),
and the seed diversity: the mean PSNR between the outputs of two seeds (higher = less diverse;
∞ = identical).

    fusecli train examples/train/mmaif-flow.toml      # a flow checkpoint of the all-in-one model
    python bench/flow_sampling.py --model runs/mmaif-flow/checkpoints/best.safetensors --scenes 4
    python bench/flow_sampling.py --model FLOW.safetensors --setting gaussian_noise --sets vif,mff-truth
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from degraded_protocol import SETS, cases, degraded, key_metrics, network, settings  # noqa: E402

from fusecli.metrics.score import score_arrays  # noqa: E402

FLOW = "flow"  # stands for the --model checkpoint in RUNS
# (label, model, sampling options)
RUNS = [("mmaif-reg", "mmaif-reg", {}),
        *[(f"SDE 8, seed {s}", FLOW, {"sampler": "sde", "steps": 8, "seed": s}) for s in range(4)],
        ("ODE 8", FLOW, {"sampler": "ode", "steps": 8}),
        ("SDE 4", FLOW, {"sampler": "sde", "steps": 4}),
        ("SDE 2", FLOW, {"sampler": "sde", "steps": 2}),
        ("1 step", FLOW, {"sampler": "ode", "steps": 1}),
        ("SDE 8, γ 0.1", FLOW, {"sampler": "sde", "steps": 8, "gamma": 0.1}),
        ("SDE 8, γ 2", FLOW, {"sampler": "sde", "steps": 8, "gamma": 2.0})]
SEEDS = [label for label, _, _ in RUNS if "seed" in label]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a flow-matching checkpoint of the all-in-one model (.safetensors)")
    parser.add_argument("--setting", default="n=2", help="n=2, n=3 or one degradation family, e.g. gaussian_noise")
    parser.add_argument("--sets", default="vif,mef,mff,mff-truth")
    parser.add_argument("--scenes", type=int, default=6, help="scenes per set (spread over the set)")
    parser.add_argument("--max-side", type=int, default=512)
    args = parser.parse_args()
    print(f"{args.setting} with its prompt; first key metric against the clean sources (truth sets: PSNR to the truth), "
          f"mean over {args.scenes} frozen test scenes; seconds per image on this machine\n")
    header = ["run"]
    columns: dict[str, list[str]] = {label: [] for label, _, _ in RUNS}
    diversity = []
    for set_name in args.sets.split(","):
        task = SETS[set_name]
        metric = "PSNR-ref" if set_name.endswith("truth") else key_metrics(set_name)[0]
        header += [f"{set_name} {metric}", f"{set_name} s"]
        how = dict(settings(task))[args.setting]
        found = cases(set_name, 1, args.max_side)
        found = [found[i] for i in np.linspace(0, len(found) - 1, args.scenes).round().astype(int)]
        scores = {label: [] for label, _, _ in RUNS}
        seconds = {label: 0.0 for label, _, _ in RUNS}
        pairs = []
        for index, case in enumerate(found):
            made = degraded(case, task, index, args.setting, how)
            inputs = [np.asarray(f, np.float32) for f in made.degraded]
            images = {}
            for label, model, sampling in RUNS:
                t0 = time.perf_counter()
                images[label] = np.clip(network(inputs, task, made.prompt, model=args.model if model == FLOW else model, **sampling), 0, 1)
                seconds[label] += time.perf_counter() - t0
                reference = {"reference": case.truth} if case.truth is not None else {}
                scores[label].append(score_arrays(images[label], case.clean, (metric,), **reference)[metric])
            pairs += [psnr(images[a], images[b]) for a, b in itertools.combinations(SEEDS, 2)]
        for label in columns:
            columns[label] += [f"{np.mean(scores[label]):.4f}", f"{seconds[label] / len(found):.2f}"]
        diversity.append(f"{set_name}: {np.mean(pairs):.1f} dB (min {np.min(pairs):.1f})")
    print("| " + " | ".join(header) + " |\n|---|" + "---|" * (len(header) - 1))
    for label, cells in columns.items():
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nPSNR between two seeds' outputs, mean over pairs and scenes:", "; ".join(diversity))


if __name__ == "__main__":
    main()
