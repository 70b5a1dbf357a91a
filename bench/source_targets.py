"""Which source-metric training losses point at the truth: each loss on the truth against the trivial fusions.

A training loss scored against the sources (`fusecli.train.metric_losses`: 1 - Qabf, Qcv / 1000,
1 - Qcb, 1 - the soft minimum per-source SSIM) is a target above a teacher only if the true
image scores better on it than the trivial fusions do. The truth sets of
`bench/degraded_protocol.py` have a true image: `mff-truth` (a synthetic defocus pair of a
photo) and `mef-truth` (two shots of it at -1.5 and +1.5 EV). For each clean scene this scores
the truth, the pixel average of the sources and each source alone with every loss (lower is
better), and counts the scenes where the truth is below all of the others.

    python bench/source_targets.py --split val --every 6
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from degraded_protocol import cases
from fusecli.train.metric_losses import METRIC_LOSS_NAMES
from fusecli.train.objectives import METRIC_TERMS


def candidates(sources: list[np.ndarray], truth: np.ndarray) -> dict[str, np.ndarray]:
    """The truth and the trivial fusions of ``sources``, (H, W) float32 in 0..1 each."""
    found = {"truth": truth, "average": np.mean(sources, 0)}
    found.update({f"source {k + 1}": s for k, s in enumerate(sources)})
    return found


def score(sources: list[np.ndarray], truth: np.ndarray) -> dict[str, dict[str, float]]:
    """Every metric loss (lower is better) of every candidate against ``sources``."""
    stack = torch.from_numpy(np.stack(sources))[None, :, None]  # (1, N, 1, H, W)
    return {name: {loss: float(METRIC_TERMS[loss](torch.from_numpy(image)[None, None], stack)) for loss in METRIC_LOSS_NAMES}
            for name, image in candidates(sources, truth).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="mff-truth,mef-truth")
    parser.add_argument("--split", choices=("test", "val"), default="val")
    parser.add_argument("--every", type=int, default=6)
    parser.add_argument("--max-side", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print("| set | candidate | " + " | ".join(METRIC_LOSS_NAMES) + " |")
    print("|---|---|" + "---|" * len(METRIC_LOSS_NAMES))
    for set_name in args.sets.split(","):
        scored = [score(case.clean, case.truth) for case in cases(set_name, args.every, args.max_side, args.split)]
        for name in scored[0]:
            means = [np.mean([s[name][loss] for s in scored]) for loss in METRIC_LOSS_NAMES]
            print(f"| {set_name} | {name} | " + " | ".join(f"{m:.4f}" for m in means) + " |")
        best = [sum(all(s["truth"][loss] < s[other][loss] for other in s if other != "truth") for s in scored) for loss in METRIC_LOSS_NAMES]
        print(f"| {set_name} | truth below all, scenes of {len(scored)} | " + " | ".join(map(str, best)) + " |")


if __name__ == "__main__":
    main()
