"""How well `--align` puts a hand-held exposure bracket back together, and what it costs.

1. Accuracy: brackets from the first 12 DeepFuse-ICCV17 sequences (`$FUSECLI_DATA/mef`), the
   middle shot kept as the reference and each other shot moved as a hand-held camera moves it
   (a rotation of up to +-0.6 degree about the centre and a shift of up to +-15 px, seed 0), or
   left as it is. Two kinds of bracket: the sequence's real shots, and the middle shot re-exposed
   x0.25 / x1 / x4 in linear light (gamma 2.2, clipped, noise of 2/255, JPEG 90), whose motion is
   known exactly (the real shots may carry a little motion of their own). Error: how far the
   estimated warp puts the worst corner from where the true one does, in pixels, for the
   bitmaps' translation alone (`rotation=False`) and for fusecli's translation + ECC rotation.
2. Speed: a 24 MP 3-shot JPEG bracket (Seq_11 upscaled, shots turned as above) through
   `fusecli fuse` without and with `--align`, end to end.

Run: python bench/bench_align.py [--sequences 12] [--sections accuracy,speed]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bench_fuse import DATA, best


def hand_held(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """2x3: a small turn about the centre and a shift (scene pixel -> shot pixel)."""
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-0.6, 0.6), 1.0)
    turn[:, 2] += rng.uniform(-15, 15, 2)
    return turn


def re_exposed(shot: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The shot at x0.25, x1 and x4 exposure in linear light, 8-bit JPEG 90."""
    linear = shot**2.2
    out = []
    for gain in (0.25, 1.0, 4.0):
        x = np.clip(linear * gain, 0, 1) ** (1 / 2.2) + rng.normal(0, 2 / 255, shot.shape)
        _, buf = cv2.imencode(".jpg", np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
        out.append(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))
    return out


def accuracy(sequences: int) -> None:
    from fusecli.geometry.align import exposure_warps
    from fusecli.imaging import read_image
    from fusecli.geometry.registration import corner_distance

    print("\n## Worst-corner error of the estimated warp (px), shots other than the reference")
    print("| bracket | motion | shots | translation only: mean / max | translation + rotation (fusecli): mean / max |\n|---|---|---|---|---|")
    for kind in ("real", "re-exposed"):
        for moving in (True, False):
            rng = np.random.default_rng(0)
            errors: dict[bool, list[float]] = {False: [], True: []}
            for seq in sorted((DATA / "mef" / "DeepFuse-ICCV17").glob("Seq_*"))[:sequences]:
                paths = sorted(seq.iterdir())
                if kind == "real":
                    shots = [read_image(p, keep_integers=True)[0] for p in paths]
                else:
                    shots = re_exposed(read_image(paths[len(paths) // 2])[0], rng)
                h, w = shots[0].shape[:2]
                ref = len(shots) // 2
                moved, truth = [], []
                for i, shot in enumerate(shots):
                    turn = hand_held(rng, w, h) if moving and i != ref else np.float64([[1, 0, 0], [0, 1, 0]])
                    # the shot shows scene(turn^-1 x); aligned(x) = shot(W x) = scene(x) needs W = turn
                    moved.append(cv2.warpAffine(shot, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
                    truth.append(turn)
                for rotation in (False, True):
                    warps, _ = exposure_warps(moved, ref, rotation=rotation)
                    errors[rotation] += [corner_distance(truth[i], warps[i], (h, w), worst=True) for i in range(len(shots)) if i != ref]
            cells = [f"{np.mean(errors[r]):.2f} / {np.max(errors[r]):.2f}" for r in (False, True)]
            print(f"| {kind} | {'hand-held' if moving else 'none'} | {len(errors[True])} | {cells[0]} | {cells[1]} |", flush=True)


def speed(repeat: int) -> None:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(prefix="bench_align_") as work:
        paths = []
        for i, src in enumerate(sorted((DATA / "mef" / "DeepFuse-ICCV17" / "Seq_11").iterdir())):
            big = cv2.resize(cv2.imread(str(src)), (6000, 4000), interpolation=cv2.INTER_CUBIC)
            if i != 1:
                big = cv2.warpAffine(big, hand_held(rng, 6000, 4000), (6000, 4000), borderMode=cv2.BORDER_REFLECT)
            paths.append(Path(work) / f"shot{i}.jpg")
            cv2.imwrite(str(paths[-1]), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
        print("\n## 24 MP 3-shot hand-held bracket, end to end")
        print("| command | wall | peak memory |\n|---|---|---|")
        for label, extra in (("fusecli fuse", []), ("fusecli fuse --align", ["--align"])):
            wall, peak = best(["fusecli", "fuse", *map(str, paths), "-o", str(Path(work) / "out.jpg"), "--overwrite", *extra], repeat)
            print(f"| `{label}` | {wall:.2f} s | {peak:.2f} GB |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=12)
    parser.add_argument("--sections", default="accuracy,speed")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    if "accuracy" in sections:
        accuracy(args.sequences)
    if "speed" in sections:
        speed(args.repeat)


if __name__ == "__main__":
    main()
