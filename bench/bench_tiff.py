"""TIFF output: file size and encode time of fusecli's compression against the alternatives.

A 24 MP (6000x4000) fused photo: a 5 x 5 mosaic of real DeepFuse-ICCV17 brackets
(``$FUSECLI_DATA/mef``), each exposure level resized to 1200 px wide, fused with fusecli's
``exposure-fusion``, then encoded as fusecli writes TIFFs (``fusecli.imaging.encode_image``) at 8 and
16 bits and as 32-bit float (its seconds include quantising the float image), and by tifffile
directly with the other settings for comparison. Seconds are the best of ``--repeat`` runs.

    python bench/bench_tiff.py            # ~1 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_metrics import best_of  # noqa: E402

from fusecli.imaging.write import _quantise

from fusecli.imaging import encode_image, read_image, tiff_compression  # noqa: E402
from fusecli.methods.exposure import exposure_fusion  # noqa: E402
from data_root import DATA_ROOT

DATA = DATA_ROOT / "mef" / "DeepFuse-ICCV17"
SETTINGS = {
    "zlib (level 6, no predictor)": lambda dtype: {"compression": "zlib"},
    "zlib level 6 + predictor": lambda dtype: {"compression": "zlib", "predictor": np.dtype(dtype).kind in "ui"},
    "none": lambda dtype: {},
}


def mosaic(tiles: int = 5, width: int = 1200) -> list[np.ndarray]:
    """The 3 exposure levels of a tiles x tiles mosaic of real brackets, float RGB in 0..1."""
    import cv2

    scenes = sorted(p for p in DATA.iterdir() if p.is_dir())[: tiles * tiles]
    levels: list[list[np.ndarray]] = [[], [], []]
    for scene in scenes:
        frames = sorted(f for f in scene.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
        picks = [frames[i] for i in np.linspace(0, len(frames) - 1, 3).round().astype(int)]
        for level, path in zip(levels, picks):
            image = read_image(path, channels=3)[0]
            level.append(cv2.resize(image, (width, width * 2 // 3), interpolation=cv2.INTER_AREA))
    return [np.vstack([np.hstack(level[r * tiles : (r + 1) * tiles]) for r in range(tiles)]) for level in levels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    fused = exposure_fusion(mosaic())
    print(f"fused mosaic {fused.shape[1]}x{fused.shape[0]}\n")
    print("| pixels | settings | MB | s |\n|---|---|---|---|")
    for depth in (8, 16, 32):
        pixels = _quantise(fused, depth)
        seconds, data = best_of(lambda: encode_image(fused, "tiff", depth), args.repeat)
        shown = ", ".join(f"{k}={v}" for k, v in tiff_compression(pixels.dtype).items())
        print(f"| {depth}-bit | fusecli ({shown}) | {len(data) / 1e6:.1f} | {seconds:.2f} |")
        for name, settings in SETTINGS.items():
            if name == "zlib level 6 + predictor" and pixels.dtype.kind == "f":
                continue  # tifffile's floating-point predictor needs imagecodecs
            def encode() -> bytes:
                buffer = io.BytesIO()
                tifffile.imwrite(buffer, pixels, photometric="rgb", **settings(pixels.dtype))
                return buffer.getvalue()

            seconds, data = best_of(encode, args.repeat)
            print(f"| {depth}-bit | {name} | {len(data) / 1e6:.1f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
