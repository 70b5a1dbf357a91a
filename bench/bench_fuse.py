"""Benchmark `fusecli fuse` against the tools users would otherwise run, in one run.

1. MEF, a 24 MP (6000x4000) 2-frame JPEG bracket, end to end (read, fuse, write):
   `fusecli fuse --model exposure-fusion` (also with `--deghost`), `fusecli fuse --task mef` (the default), OpenCV's
   `createMergeMertens` (read/merge/write in Python), and `enfuse` (Debian package).
   Wall time and peak memory (max RSS of the child process).
2. Memory: a 24 MP 5-frame bracket through `fusecli fuse` (target: peak < 3 GB), and a 7-frame
   one of 16-bit TIFFs (a RAW developer's output).
3. VIF: 640x480 pairs through `fusecli fuse --jobs 2` (default model, and a learned model
   file when given with --vif-model), seconds per pair; and the same pairs as a rig records
   them (320x256 infrared frames with a narrower, rolled view) registered with `--ir-warp`.
4. The all-in-one model at 24 MP (`--sections learned`): the 2-frame bracket through
   `fusecli fuse --model mmaif-reg`, without and with a restoring prompt; wall and peak memory.
5. Quality on the real brackets (`$FUSECLI_DATA/mef/DeepFuse-ICCV17`, full size): MEF-SSIM
   of each tool's output via `fusecli metrics`.

The bracket is made by upscaling a real DeepFuse sequence (Seq_11) to 6000x4000 (cubic).
Run: python bench/bench_fuse.py [--pairs 200] [--vif-model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from data_root import DATA_ROOT

DATA = DATA_ROOT
MERTENS = """
import sys, cv2, numpy as np
frames = [cv2.imread(p) for p in sys.argv[2:]]
fused = cv2.createMergeMertens().process(frames)
cv2.imwrite(sys.argv[1], np.clip(fused * 255, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95] if sys.argv[1].endswith('.jpg') else [])
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in GB) of ``cmd`` run as its own process (via /usr/bin/time)."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as log:
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", log.name, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        peak_kb = float(Path(log.name).read_text().strip().splitlines()[-1])
    return wall, peak_kb / 1e6


def best(cmd: list[str], repeat: int = 3) -> tuple[float, float]:
    runs = [timed(cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def make_bracket(folder: Path, frames: int, tiff16: bool = False) -> list[Path]:
    """``frames`` 24 MP shots: quality-92 JPEGs, or 16-bit TIFFs (as a RAW developer writes them)."""
    seq = sorted((DATA / "mef" / "DeepFuse-ICCV17" / "Seq_11").iterdir())
    paths = []
    for i in range(frames):
        image = cv2.imread(str(seq[i % len(seq)]))
        if i >= len(seq):  # more frames than the sequence has: darker/brighter variants
            image = cv2.convertScaleAbs(image, alpha=0.6 + 0.3 * i)
        if tiff16:
            image = image.astype(np.uint16) * 257
        big = cv2.resize(image, (6000, 4000), interpolation=cv2.INTER_CUBIC)
        path = folder / f"shot{i}.{'tif' if tiff16 else 'jpg'}"
        cv2.imwrite(str(path), big, [] if tiff16 else [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--vif-model", help="a .safetensors file to time besides the default VIF model")
    parser.add_argument("--sequences", type=int, default=8, help="real MEF brackets to score for quality")
    parser.add_argument("--sections", default="mef,five,vif,quality", help="comma-separated subset of mef,five,vif,learned,quality")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    fusecli = [shutil.which("fusecli") or "fusecli"]
    work = Path(tempfile.mkdtemp(prefix="bench_fuse_"))
    try:
        print(f"machine: {os.cpu_count()} cores; enfuse: {shutil.which('enfuse')}")
        rows = []
        shots = make_bracket(work, 2) if sections & {"mef", "learned"} else []
        for label, cmd in [] if "mef" not in sections else [
            ("fusecli --model exposure-fusion", [*fusecli, "fuse", *map(str, shots), "--model", "exposure-fusion", "-o", str(work / "ef.jpg"), "--overwrite"]),
            ("fusecli --task mef (default)", [*fusecli, "fuse", *map(str, shots), "--task", "mef", "-o", str(work / "default.jpg"), "--overwrite"]),
            ("fusecli --model exposure-fusion --deghost", [*fusecli, "fuse", *map(str, shots), "--model", "exposure-fusion", "--deghost", "-o", str(work / "deghost.jpg"), "--overwrite"]),
            ("OpenCV createMergeMertens", [sys.executable, "-c", MERTENS, str(work / "mertens.jpg"), *map(str, shots)]),
            ("enfuse", ["enfuse", "-o", str(work / "enfuse.jpg"), *map(str, shots)]),
        ]:
            if cmd[0] == "enfuse" and not shutil.which("enfuse"):
                continue
            wall, peak = best(cmd)
            rows.append((label, wall, peak))
        if rows:
            print("\n## MEF 24 MP, 2 frames, end to end")
            print("| tool | wall | peak memory |\n|---|---|---|")
            for label, wall, peak in rows:
                print(f"| {label} | {wall:.2f} s | {peak:.2f} GB |")
        if "five" in sections:
            five_frames(fusecli, work)
        if "vif" in sections:
            vif_batch(fusecli, work, args)
        if "learned" in sections:
            learned_model(fusecli, work, shots)
        if "quality" in sections:
            quality(fusecli, work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def five_frames(fusecli: list[str], work: Path) -> None:
    (work / "five").mkdir()
    five = make_bracket(work / "five", 5)
    wall, peak = timed([*fusecli, "fuse", *map(str, five), "--task", "mef", "-o", str(work / "five.jpg"), "--overwrite"])
    print(f"\n## MEF 24 MP, 5 frames: {wall:.2f} s, peak {peak:.2f} GB")
    wall, peak = timed([*fusecli, "fuse", *map(str, five), "--task", "mef", "--deghost", "-o", str(work / "five.jpg"), "--overwrite"])
    print(f"## MEF 24 MP, 5 frames, --deghost: {wall:.2f} s, peak {peak:.2f} GB")
    (work / "seven").mkdir()
    seven = make_bracket(work / "seven", 7, tiff16=True)
    wall, peak = timed([*fusecli, "fuse", *map(str, seven), "--task", "mef", "-o", str(work / "seven.tif"), "--overwrite"])
    print(f"## MEF 24 MP, 7 frames of 16-bit TIFF: {wall:.2f} s, peak {peak:.2f} GB")


def learned_model(fusecli: list[str], work: Path, shots: list[Path]) -> None:
    """The all-in-one model on the 24 MP bracket: tiles of 1024 px, its classical base fused once
    from the whole frames; with a prompt the frames are restored (non-local means) before it."""
    print("\n## MEF 24 MP, 2 frames, mmaif-reg, end to end (one run each)")
    print("| prompt | wall | peak memory |\n|---|---|---|")
    for prompt in (None, "remove the noise"):
        extra = ["--prompt", prompt] if prompt else []
        wall, peak = timed([*fusecli, "fuse", *map(str, shots), "--task", "mef", "--model", "mmaif-reg", *extra, "-o", str(work / "learned.jpg"), "--overwrite"])
        print(f"| {prompt or '(none)'} | {wall:.2f} s | {peak:.2f} GB |")


def vif_batch(fusecli: list[str], work: Path, args: argparse.Namespace) -> None:
    ir_dir, vis_dir, rig_dir = work / "ir", work / "vis", work / "rig_ir"
    ir_dir.mkdir(), vis_dir.mkdir(), rig_dir.mkdir()
    roll = np.vstack([cv2.getRotationMatrix2D((320, 240), 2.0, 1.0), [0, 0, 1]])
    rig = roll @ np.array([[0.8 * 640 / 319, 0, 64], [0, 0.8 * 480 / 255, 48], [0, 0, 1]])  # infrared pixel -> visible pixel
    np.savetxt(work / "rig.txt", rig)
    road = sorted((DATA / "vif" / "RoadScene" / "ir").iterdir())
    for i in range(args.pairs):
        src = road[i % len(road)]
        ir = cv2.resize(cv2.imread(str(src), cv2.IMREAD_GRAYSCALE), (640, 480))
        vis = cv2.resize(cv2.imread(str(DATA / "vif" / "RoadScene" / "vi" / src.name)), (640, 480))
        cv2.imwrite(str(ir_dir / f"{i:04d}.png"), ir)
        cv2.imwrite(str(vis_dir / f"{i:04d}.png"), vis)
        cv2.imwrite(str(rig_dir / f"{i:04d}.png"), cv2.warpPerspective(ir, np.linalg.inv(rig), (320, 256), flags=cv2.INTER_LINEAR))
    print(f"\n## VIF {args.pairs} pairs of 640x480, --jobs 2, end to end")
    print("| model | wall | per pair |\n|---|---|---|")
    models = [("default", ir_dir, [])] + ([(args.vif_model, ir_dir, ["--model", args.vif_model])] if args.vif_model else [])
    models.append(("default, 320x256 rig infrared, --ir-warp", rig_dir, ["--ir-warp", str(work / "rig.txt")]))
    for k, (label, infrared, extra) in enumerate(models):
        out = work / f"vif_{k}"
        wall, _ = timed([*fusecli, "fuse", "--task", "vif", "--ir", str(infrared), "--vis", str(vis_dir), "-o", str(out), "--jobs", "2", *extra])
        print(f"| {label} | {wall:.1f} s | {wall / args.pairs:.3f} s |")


def quality(fusecli: list[str], work: Path, args: argparse.Namespace) -> None:
    print("\n## Quality: MEF-SSIM on the real DeepFuse brackets (full size)")
    scores: dict[str, list[float]] = {}
    for seq in sorted((DATA / "mef" / "DeepFuse-ICCV17").iterdir())[: args.sequences]:
        frames = sorted(str(p) for p in seq.iterdir())
        outs = {
            "fusecli exposure-fusion": ([*fusecli, "fuse", *frames, "--model", "exposure-fusion"], work / f"{seq.name}_ef.png"),
            "OpenCV Mertens": ([sys.executable, "-c", MERTENS], work / f"{seq.name}_cv.png"),
            "enfuse": (["enfuse"], work / f"{seq.name}_en.png"),
        }
        for label, (cmd, out) in outs.items():
            if cmd[0] == "enfuse" and not shutil.which("enfuse"):
                continue  # not installed: scored without it, as the speed table is
            if cmd[0] == "enfuse":
                subprocess.run(["enfuse", "-o", str(out), *frames], check=True, capture_output=True)
            elif cmd[0] == sys.executable and "-c" in cmd:
                subprocess.run([*cmd, str(out), *frames], check=True)
            else:
                subprocess.run([*cmd, "-o", str(out), "--overwrite"], check=True)
            report = work / "scores.json"
            subprocess.run([*fusecli, "metrics", "--fused", str(out), "--sources", *frames, "--metrics", "MEF-SSIM", "--json", str(report)], check=True, capture_output=True)
            scores.setdefault(label, []).append(json.loads(report.read_text())["mean"]["MEF-SSIM"])
            report.unlink()
    print(f"| tool | mean MEF-SSIM over {len(next(iter(scores.values())))} sequences |\n|---|---|")
    for label, values in scores.items():
        print(f"| {label} | {np.mean(values):.4f} |")


if __name__ == "__main__":
    main()
