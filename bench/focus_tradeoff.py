"""How focus-fusion's focus window and pyramid depth trade Qcb and MI against Qcv, on the MFF
validation scenes of the quality protocol (never its test set).

A larger focus window gives a cleaner choice map, a shallower pyramid copies more pixels as
they are: both raise Qcb and MI (which reward copying the sharper frame) and worsen Qcv (which
rewards blending where both frames are about as sharp). The table shows whether a setting
wins on all three at once.

    python bench/focus_tradeoff.py        # ~1 min on 2 cores
"""

from __future__ import annotations

import numpy as np

from fusecli.imaging import as_float, read_image
from fusecli.methods.focus import focus_fusion
from fusecli.metrics.score import score_arrays
from quality_protocol import TASKS, scenes

SETTINGS = {  # label: focus_fusion keyword arguments (levels None: the default depth, 16-31 px)
    "window 9, default depth (the default)": {},
    "window 5": {"window": 5},
    "window 15": {"window": 15},
    "window 21": {"window": 21},
    "window 9, 2 levels": {"levels": 2},
    "window 9, no pyramid": {"levels": 1},
}
METRICS = ("Qabf", "Qcb", "Qcv", "MI")


def main() -> None:
    frames = [[as_float(read_image(p)[0]) for p in scene.paths] for scene in scenes(TASKS["mff"], "val")]
    print(f"MFF validation scenes: {len(frames)}\n")
    print("| setting | " + " | ".join(m + (" ↓" if m == "Qcv" else "") for m in METRICS) + " |\n|---|" + "---|" * len(METRICS))
    for label, options in SETTINGS.items():
        rows = []
        for stack in frames:
            fused = np.round(np.clip(focus_fusion(stack, **options), 0, 1) * 255) / 255  # as written to 8 bits
            rows.append(score_arrays(fused, stack, METRICS))
        means = [float(np.mean([r[m] for r in rows])) for m in METRICS]
        print(f"| {label} | " + " | ".join(f"{v:.1f}" if m == "Qcv" else f"{v:.4f}" for m, v in zip(METRICS, means)) + " |", flush=True)


if __name__ == "__main__":
    main()
