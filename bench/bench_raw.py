"""Camera RAW inputs: how long LibRaw takes to develop a 24 MP shot, and a 3-shot RAW bracket
fused end to end, against the same bracket as 16-bit TIFFs.

A real DeepFuse-ICCV17 shot (``$FUSECLI_DATA/mef``), linearised from sRGB and resized to
6000x4000, is written as an RGGB DNG at 1/4, 1 and 4 times its exposure (the tests' DNG writer,
``tests/unit/imaging/test_camera_raw.py``). Seconds are the best of ``--repeat`` runs.

    python bench/bench_raw.py            # ~1.5 min on 2 CPU cores
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))  # conftest, imported by the test module below
sys.path.insert(0, str(ROOT / "tests" / "unit" / "imaging"))
from bench_metrics import best_of  # noqa: E402
from test_camera_raw import write_dng  # noqa: E402

from fusecli.fusion import FuseSettings, fuse_files  # noqa: E402
from fusecli.imaging import read_image, write_image  # noqa: E402
from data_root import DATA_ROOT

SHOT = DATA_ROOT / "mef" / "DeepFuse-ICCV17" / "Seq_11"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shots = sorted(SHOT.iterdir())
    photo = read_image(shots[len(shots) // 2])[0][..., :3]  # the middle exposure
    photo = cv2.resize(photo, (6000, 4000), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    linear = np.where(photo <= 0.04045, photo / 12.92, ((photo + 0.055) / 1.055) ** 2.4).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raws = [write_dng(tmp / f"{k}.dng", np.clip(gain * linear, 0, 1)) for k, gain in enumerate((0.25, 1.0, 4.0))]
        seconds, developed = best_of(lambda: read_image(raws[1])[0], args.repeat)
        print(f"develop one 24 MP DNG (read_image): {seconds:.2f} s, {raws[1].stat().st_size / 1e6:.0f} MB file")
        tiffs = []
        for k, raw in enumerate(raws):
            tiffs.append(tmp / f"{k}.tif")
            write_image(tiffs[-1], read_image(raw)[0], bit_depth=16)
        for name, inputs in (("RAW", raws), ("16-bit TIFF", tiffs)):
            out = tmp / f"fused-{name[:3]}.tif"
            seconds, _ = best_of(lambda: fuse_files(inputs, out, FuseSettings(task="mef"), overwrite=True), args.repeat)
            print(f"fuse a 3-shot 24 MP bracket from {name} files to 16-bit TIFF (fusecli.fusion.fuse_files): {seconds:.2f} s")


if __name__ == "__main__":
    main()
