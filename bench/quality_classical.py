"""Quality of the training-free methods on the bundled examples (the numbers in README).

Run: python bench/quality_classical.py
"""

from __future__ import annotations

from pathlib import Path

from fusecli.imaging import read_image
from fusecli.metrics import score_arrays
from fusecli.methods import fuse_frames

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    shots = [read_image(EXAMPLES / "mef" / f"coffee_{n}.jpg")[0] for n in ("under", "normal", "over")]
    fused = fuse_frames("exposure-fusion", shots)
    print("MEF-SSIM exposure-fusion", round(score_arrays(fused, shots, ["MEF-SSIM"])["MEF-SSIM"], 3))
    for name, shot in zip(("under", "normal", "over"), shots):
        print(f"MEF-SSIM shot {name}", round(score_arrays(shot, shots, ["MEF-SSIM"])["MEF-SSIM"], 3))
    pair = [read_image(EXAMPLES / "mff" / f"motorcycle_{n}.jpg")[0] for n in ("near", "far")]
    fused = fuse_frames("focus-fusion", pair)
    print("Qabf focus-fusion", round(score_arrays(fused, pair, ["Qabf"])["Qabf"], 3))
    for name, frame in zip(("near", "far"), pair):
        print(f"Qabf frame {name}", round(score_arrays(frame, pair, ["Qabf"])["Qabf"], 3))


if __name__ == "__main__":
    main()
