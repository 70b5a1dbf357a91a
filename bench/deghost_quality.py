"""`--deghost` on the real brackets of $FUSECLI_DATA/mef: what it leaves out, and what it costs
on MEF-SSIM.

Most of these brackets were shot on a tripod of a still scene, where deghosting should change
nothing; some have people, water or leaves moving. Per dataset: mean MEF-SSIM of exposure
fusion without and with `--deghost` (MEF-SSIM rewards blending every shot, so it can only drop
where something was left out) and the largest share of a shot left out; then the brackets
where the most was left out, to look at.

    python bench/deghost_quality.py            # ~1 min on 2 CPU cores
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from fusecli.geometry.deghost import plan_deghost
from fusecli.errors import FusecliError
from fusecli.fusion.task import mean_brightness as _mean_brightness
from fusecli.imaging import is_image_file, read_image
from fusecli.metrics.score import score_arrays
from fusecli.methods.exposure import exposure_fusion
from data_root import DATA_ROOT

DATA = DATA_ROOT / "mef"


def brackets():
    """(dataset, scene, frames dark to bright) for every readable bracket of one size."""
    for dataset in sorted(p for p in DATA.iterdir() if p.is_dir()):
        for scene in sorted(p for p in dataset.iterdir() if p.is_dir()):
            files = sorted(f for f in scene.iterdir() if is_image_file(f))
            try:
                frames = [read_image(f)[0] for f in files]
            except FusecliError:
                continue
            if len(frames) >= 2 and len({f.shape for f in frames}) == 1:
                yield dataset.name, scene.name, sorted(frames, key=_mean_brightness)


def main() -> None:
    logging.disable(logging.WARNING)  # some sets hold JPEGs named .png: said on every read
    rows: dict[str, list[tuple[float, float, float]]] = {}
    found = []
    for dataset, scene, frames in brackets():
        plan = plan_deghost(frames)
        plain = score_arrays(exposure_fusion(frames), frames, ("MEF-SSIM",))["MEF-SSIM"]
        clean = score_arrays(exposure_fusion(frames, deghost=plan), frames, ("MEF-SSIM",))["MEF-SSIM"]
        rows.setdefault(dataset, []).append((plain, clean, max(plan.moving)))
        found.append((max(plan.moving), f"{dataset}/{scene}", plan.reference + 1, len(frames)))
    print("| dataset | brackets | MEF-SSIM | with --deghost | largest drop | median share left out | largest |\n|---|---|---|---|---|---|---|")
    every = []
    for dataset, values in rows.items():
        v = np.array(values)
        every.append(v)
        print(f"| {dataset} | {len(v)} | {v[:, 0].mean():.4f} | {v[:, 1].mean():.4f} | {np.max(v[:, 0] - v[:, 1]):.4f} | {np.median(v[:, 2]):.1%} | {v[:, 2].max():.1%} |")
    v = np.concatenate(every)
    print(f"| all | {len(v)} | {v[:, 0].mean():.4f} | {v[:, 1].mean():.4f} | {np.max(v[:, 0] - v[:, 1]):.4f} | {np.median(v[:, 2]):.1%} | {v[:, 2].max():.1%} |")
    print("\nMost left out (largest share of one shot; reference shot, dark to bright):")
    for share, name, reference, count in sorted(found, reverse=True)[:8]:
        print(f"- {name}: {share:.1%} (reference {reference} of {count})")


if __name__ == "__main__":
    main()
