"""Exposure fusion's pyramid depth on the real brackets of $FUSECLI_DATA/mef, against OpenCV's
Mertens and enfuse.

How deep the Laplacian pyramid goes decides how large-scale tones are blended: a shallow one
mixes the shots patch by patch (flat, blotchy skies, halos around bright windows), a deep one
with weights smoothed over the whole frame. Per dataset, mean MEF-SSIM (`fusecli.metrics`, the
standard convention) of `exposure-fusion` at:

* `16-31 px`: `pyramid_levels`, focus-fusion's and pyramid-vif's depth;
* `4-7 px`: exposure-fusion's depth (`exposure_levels`);
* `2-3 px`: Mertens et al.'s own, `floor(log2(shorter side))` levels;

and of OpenCV's `createMergeMertens` and `enfuse` (default options; left out when not
installed) on the same 8-bit shots. Then how many brackets each depth wins or loses against
the old one and against the peers.

`--sections tiles`: a bracket too large for one tile (DeepFuse Seq_11 upscaled to 9000x6000,
fused by `fusecli.fusion.fuse` with the default `--tile`) against its untiled fusion, with the
tiles sharing the whole frames' coarse levels (the default) and with each tile's own.

    python bench/mef_depth.py            # ~3 min on 2 CPU cores
    python bench/mef_depth.py --sections tiles
"""

from __future__ import annotations

import argparse
import functools
import logging
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from deghost_quality import brackets
from fusecli.fusion import FuseSettings, fuse
from fusecli.fusion.pipeline import TRAINING_FREE_TILE_SCALE, _method_tile
from fusecli.imaging import read_image
from fusecli.metrics.score import score_arrays
from fusecli.methods.exposure import exposure_fusion
from fusecli.methods import exposure_levels, pyramid_levels
from fusecli.fusion.tiling import run_tiled
from data_root import DATA_ROOT

DEPTHS = {
    "16-31 px": pyramid_levels,
    "4-7 px (default)": exposure_levels,
    "2-3 px (Mertens)": lambda shape: exposure_levels(shape) + 1,
}


def peers(frames: list[np.ndarray], work: Path) -> dict[str, np.ndarray]:
    """OpenCV's Mertens and enfuse on the 8-bit shots (RGB float 0..1, or gray)."""
    shots = [(np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8) for f in frames]
    bgr = [cv2.cvtColor(s, cv2.COLOR_RGB2BGR if s.ndim == 3 else cv2.COLOR_GRAY2BGR) for s in shots]
    merged = np.clip(cv2.createMergeMertens().process(bgr), 0, 1).astype(np.float32)
    out = {"OpenCV Mertens": cv2.cvtColor(merged, cv2.COLOR_BGR2RGB) if frames[0].ndim == 3 else merged[..., 0]}
    if shutil.which("enfuse"):
        paths = []
        for i, s in enumerate(bgr):
            paths.append(str(work / f"{i}.png"))
            cv2.imwrite(paths[-1], s)
        subprocess.run(["enfuse", "-o", str(work / "enfuse.tif"), *paths], check=True, capture_output=True)
        out["enfuse"] = read_image(work / "enfuse.tif")[0]
    return out


def depths() -> None:
    rows: dict[str, list[dict[str, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, _, frames in brackets():
            shape = frames[0].shape[:2]
            fused = {label: exposure_fusion(frames, levels=depth(shape)) for label, depth in DEPTHS.items()}
            fused.update(peers(frames, Path(tmp)))
            scores = {label: score_arrays(image, frames, ("MEF-SSIM",))["MEF-SSIM"] for label, image in fused.items()}
            rows[dataset].append(scores)
            rows["all"].append(scores)
    labels = list(rows["all"][0])
    print("Mean MEF-SSIM; exposure-fusion with its pyramid stopping at:\n")
    print("| dataset | brackets | " + " | ".join(labels) + " |\n|---|---|" + "---|" * len(labels))
    for dataset, scores in sorted(rows.items(), key=lambda item: item[0] == "all"):
        print(f"| {dataset} | {len(scores)} | " + " | ".join(f"{np.mean([s[k] for s in scores]):.4f}" for k in labels) + " |")
    every = rows["all"]
    print("\n| depth | better / worse than 16-31 px (worst) | than OpenCV Mertens | than enfuse |\n|---|---|---|---|")
    for label in DEPTHS:
        cells = []
        for other in ("16-31 px", "OpenCV Mertens", "enfuse"):
            if other not in labels or other == label:
                cells.append("—")
                continue
            diff = np.array([s[label] - s[other] for s in every])
            cells.append(f"{(diff > 0).sum()} / {(diff < 0).sum()}" + (f" ({diff.min():+.4f})" if other == "16-31 px" else ""))
        print(f"| {label} | " + " | ".join(cells) + " |")


def tiles() -> None:
    seq = sorted((DATA_ROOT / "mef" / "DeepFuse-ICCV17" / "Seq_11").iterdir())
    frames = [(np.clip(cv2.resize(read_image(p)[0], (9000, 6000), interpolation=cv2.INTER_CUBIC), 0, 1) * 255 + 0.5).astype(np.uint8) for p in seq]
    whole = exposure_fusion(frames)
    settings = FuseSettings()
    shared = fuse(list(frames), task="mef", model="exposure-fusion").image
    tile, overlap = TRAINING_FREE_TILE_SCALE * settings.tile, TRAINING_FREE_TILE_SCALE * settings.overlap
    own = run_tiled(functools.partial(_method_tile, "exposure-fusion", exposure_levels((6000, 9000))), frames, tile, overlap)
    print(f"9000x6000 {len(frames)}-shot bracket in tiles of {tile} px ({overlap} px overlap) against the untiled fusion, 8-bit levels:\n")
    print("| tiles take the coarse levels from | mean | 99th percentile | max |\n|---|---|---|---|")
    for label, tiled in (("the whole frames (default)", shared), ("their own pixels", own)):
        d = np.abs(tiled - whole) * 255
        print(f"| {label} | {d.mean():.3f} | {np.percentile(d, 99):.2f} | {d.max():.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="depths,tiles", help="comma-separated: depths, tiles")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # some sets hold JPEGs named .png: said on every read
    for section in args.sections.split(","):
        {"depths": depths, "tiles": tiles}[section]()
        print()


if __name__ == "__main__":
    main()
