"""Which detail and base rules should a Laplacian-pyramid VIF fusion use? The grid that chose
``energy-vif``'s, on the quality protocol's VIF **validation** scenes (RoadScene held-out; the
frozen test set chooses nothing).

Detail levels: per-pixel choice of the larger magnitude (``pyramid-vif``), or weights from the
local energy (mean square over a ``window``) as ``e^p / (e_ir^p + e_vis^p)`` (``power`` p).
Base: the average (``pyramid-vif``), the maximum, or a sigmoid of the difference toward the
brighter frame (``softness``). Scored on luminance as the protocol scores (Qabf, Qcb, Qcv, VIF,
min per-source SSIM; means over clips), outputs rounded to 8 bits.

    python bench/vif_rules.py                 # ~8 min on 2 cores -> runs/vif_rules_val.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_protocol import TASKS, min_source_ssim, scenes  # noqa: E402
from fusecli.imaging import as_float, read_image  # noqa: E402
from fusecli.imaging.color import luminance  # noqa: E402
from fusecli.methods.pyramid import _levels, collapse, laplacian_pyramid  # noqa: E402
from fusecli.methods.vif import energy_weight  # noqa: E402
from fusecli.metrics.score import score_arrays  # noqa: E402

METRICS = ("Qabf", "Qcb", "Qcv", "VIF")


def fuse_rule(ir: np.ndarray, vis: np.ndarray, window: int, power: float | None, base: str, softness: float) -> np.ndarray:
    """One rule on ``(H, W)`` luminances: ``power`` None = per-pixel choice of the larger local
    energy (``window`` 1: of the larger magnitude); ``base`` average | max | sigmoid."""
    n = _levels(ir.shape)
    a, b = laplacian_pyramid(ir, n), laplacian_pyramid(vis, n)
    fused = []
    for x, y in zip(a[:-1], b[:-1]):
        if power is None:
            fused.append(np.where(cv2.blur(x * x, (window, window)) >= cv2.blur(y * y, (window, window)), x, y))
        else:
            w = energy_weight(x, y, window, power)
            fused.append(w * x + (1 - w) * y)
    A, B = a[-1], b[-1]
    if base == "average":
        fused.append(0.5 * (A + B))
    elif base == "max":
        fused.append(np.maximum(A, B))
    else:
        w = 1 / (1 + np.exp(-(A - B) / softness))
        fused.append(w * A + (1 - w) * B)
    return np.clip(collapse(fused), 0, 1).astype(np.float32)


def rules() -> list[dict]:
    details = [(1, None), *[(w, p) for w in (3, 5) for p in (None, 1.0, 1.5, 2.0)]]
    bases = [("average", 0.0), ("max", 0.0), *[("sigmoid", s) for s in (0.15, 0.3, 0.5)]]
    return [{"window": w, "power": p, "base": b, "softness": s} for (w, p), (b, s) in itertools.product(details, bases)]


def label(rule: dict) -> str:
    detail = "max-abs" if rule["window"] == 1 else f"energy {rule['window']} px" + ("" if rule["power"] is None else f", power {rule['power']}")
    base = rule["base"] + (f" {rule['softness']}" if rule["base"] == "sigmoid" else "")
    return f"{detail} / {base}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "vif_rules_val.json")
    args = parser.parse_args()
    found = scenes(TASKS["vif"], "val")
    grid = rules()
    per_group: list[dict[tuple[str, str], list[float]]] = [defaultdict(list) for _ in grid]
    for scene in found:
        ir, vis = (luminance(as_float(read_image(p)[0])) for p in scene.paths)
        for k, rule in enumerate(grid):
            fused = np.round(fuse_rule(ir, vis, **rule) * 255) / 255
            values = score_arrays(fused.astype(np.float32), [ir, vis], METRICS)
            values["min SSIM"] = min_source_ssim(fused.astype(np.float32), [ir, vis])
            for metric, value in values.items():
                per_group[k][(scene.group, metric)].append(value)
    groups = sorted({s.group for s in found})
    table = []
    for rule, values in zip(grid, per_group):
        mean = {m: float(np.mean([np.mean(values[(g, m)]) for g in groups])) for m in (*METRICS, "min SSIM")}
        table.append({"rule": label(rule), **rule, **mean})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"scenes": len(found), "table": table}, indent=1))
    print("| detail / base | Qabf | Qcb | Qcv ↓ | VIF | min SSIM |\n|---|---|---|---|---|---|")
    for row in table:
        print(f"| {row['rule']} | {row['Qabf']:.4f} | {row['Qcb']:.4f} | {row['Qcv']:.1f} | {row['VIF']:.4f} | {row['min SSIM']:.4f} |")


if __name__ == "__main__":
    main()
