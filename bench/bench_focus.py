"""Benchmark focus stacking: `fusecli fuse` against `align_image_stack` + `enfuse`, in one run.

1. Hand-held focus stacks (`$FUSECLI_DATA/mff/focus-stack/stacks`: `pcb`, 7 shots, and
   `depthmap`, 10 shots, 1024x768 JPEGs that need alignment), end to end (read, align, fuse,
   write a JPEG): `fusecli fuse --align` against `align_image_stack -m -a` (hugin-tools) then
   `enfuse` with its manual's focus-stacking weights. At the stacks' size and upscaled to
   6000x4500 (27 MP, cubic, JPEG quality 92), as a photographer's camera gives them. Wall time
   and peak memory (max RSS of each process; the peers' is the larger of their two).
2. Quality on the registered real pairs and stacks (`MFI-WHU`, `classic`, `classic-extra`):
   Qabf, Qcb and SSIM against the sources (`fusecli.metrics.score_arrays`, what `fusecli
   metrics` runs) of `focus-fusion` and of the same `enfuse` recipe.

Run: python bench/bench_focus.py [--sections handheld,quality] [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bench_fuse import DATA, timed

ENFUSE_FOCUS = ["--exposure-weight=0", "--saturation-weight=0", "--contrast-weight=1", "--hard-mask", "--contrast-window-size=5"]
METRICS = ("Qabf", "Qcb", "SSIM")


def upscaled(frames: list[Path], folder: Path, size: tuple[int, int] = (6000, 4500)) -> list[Path]:
    folder.mkdir(parents=True)
    out = []
    for path in frames:
        target = folder / path.name
        cv2.imwrite(str(target), cv2.resize(cv2.imread(str(path)), size, interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_JPEG_QUALITY, 92])
        out.append(target)
    return out


def size_of(path: str) -> str:
    h, w = cv2.imread(path, cv2.IMREAD_GRAYSCALE).shape
    return f"{w}x{h}"


def best_of(commands: list[list[str]], repeat: int) -> tuple[float, float]:
    """(best total wall, largest peak RSS in GB) of ``commands`` run one after the other."""
    runs = [[timed(cmd) for cmd in commands] for _ in range(repeat)]
    return min(sum(r[0] for r in run) for run in runs), max(r[1] for run in runs for r in run)


def handheld(work: Path, repeat: int, peers: bool = True) -> None:
    print("\n## Hand-held focus stacks, end to end (read, align, fuse, write JPEG)")
    print("| stack | tool | wall | peak memory | output |\n|---|---|---|---|---|")
    for name in ("pcb", "depthmap"):
        native = sorted((DATA / "mff" / "focus-stack" / "stacks" / name).iterdir())
        for size, frames in (("1024x768", native), ("6000x4500", upscaled(native, work / f"{name}_27mp"))):
            label = f"{name}, {len(frames)} x {size}"
            out = work / f"{name}_{size}"
            ours = ["fusecli", "fuse", *map(str, frames), "--align", "-o", f"{out}_fusecli.jpg", "--overwrite"]
            wall, peak = best_of([ours], repeat)
            print(f"| {label} | `fusecli fuse --align` | {wall:.2f} s | {peak:.2f} GB | {size_of(f'{out}_fusecli.jpg')} |", flush=True)
            if not (peers and shutil.which("align_image_stack") and shutil.which("enfuse")):
                continue
            # align_image_stack's default control-point grid finds too few points on the upscaled
            # shots ("reference image has no control points"); a finer grid does.
            grid = ["-c", "32", "-g", "8"] if size != "1024x768" else []
            prefix = work / f"{name}_{size}_al"
            aligned = [f"{prefix}{i:04d}.tif" for i in range(len(frames))]
            theirs = [
                ["align_image_stack", "-m", "-a", str(prefix), *grid, *map(str, frames)],
                ["enfuse", *ENFUSE_FOCUS, "--compression=95", "-o", f"{out}_enfuse.jpg", *aligned],
            ]
            wall, peak = best_of(theirs, repeat if size == "1024x768" else 1)
            print(f"| {label} | `align_image_stack -m -a {' '.join(grid)}` + `enfuse` (focus weights) | {wall:.2f} s | {peak:.2f} GB | {size_of(f'{out}_enfuse.jpg')} |", flush=True)


def registered_sets() -> dict[str, list[list[Path]]]:
    """Real MFF scenes that need no alignment, by dataset: pairs A/B by name, and stacks."""
    sets: dict[str, list[list[Path]]] = {}
    for dataset in ("MFI-WHU", "classic", "classic-extra"):
        root = DATA / "mff" / dataset
        scenes = [[a, root / "B" / a.name] for a in sorted((root / "A").iterdir()) if (root / "B" / a.name).exists()]
        scenes += [sorted(s.iterdir()) for s in sorted((root / "stacks").iterdir())] if (root / "stacks").is_dir() else []
        sets[dataset] = scenes
    return sets


def quality(work: Path) -> None:
    from fusecli.imaging import read_image
    from fusecli.metrics import score_arrays
    from fusecli.methods import fuse_frames

    print("\n## Quality on registered real MFF scenes (against the sources)")
    print("| dataset | scenes | tool | " + " | ".join(METRICS) + " |\n|---|---|---|" + "---|" * len(METRICS))
    for dataset, scenes in registered_sets().items():
        scores: dict[str, list[dict]] = {"fusecli focus-fusion": [], "enfuse (focus weights)": []}
        for k, paths in enumerate(scenes):
            frames = [read_image(p)[0] for p in paths]
            scores["fusecli focus-fusion"].append(score_arrays(fuse_frames("focus-fusion", frames), frames, METRICS))
            if shutil.which("enfuse"):
                out = work / f"{dataset}_{k}.tif"
                subprocess.run(["enfuse", *ENFUSE_FOCUS, "--compression=none", "-o", str(out), *map(str, paths)], check=True, capture_output=True)
                fused = read_image(out, channels=3 if frames[0].ndim == 3 else 1)[0]
                scores["enfuse (focus weights)"].append(score_arrays(fused, frames, METRICS))
        for tool, rows in scores.items():
            if rows:
                means = " | ".join(f"{np.mean([r[m] for r in rows]):.4f}" for m in METRICS)
                print(f"| {dataset} | {len(rows)} | {tool} | {means} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="handheld,quality", help="comma-separated subset of handheld,quality")
    parser.add_argument("--no-peers", action="store_true", help="time fusecli only (e.g. to compare two versions of it)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing (best kept); the peers at 27 MP run once")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    work = Path(tempfile.mkdtemp(prefix="bench_focus_"))
    try:
        print(f"enfuse: {shutil.which('enfuse')}; align_image_stack: {shutil.which('align_image_stack')}")
        if "handheld" in sections:
            handheld(work, args.repeat, not args.no_peers)
        if "quality" in sections:
            quality(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
