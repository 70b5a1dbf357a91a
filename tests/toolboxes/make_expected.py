"""Compute ``expected.json``: the toolboxes' own numbers on the fixture images.

Run once, by hand, with checkouts of the toolboxes (their code is not part of fusecli):

    python tests/toolboxes/make_expected.py --vifb ~/src/VIFB --mefb ~/src/MEFB \
        --tang "~/src/Image-Fusion/General Evaluation Metric/Evaluation" --cddfuse ~/src/MMIF-CDDFuse

VIFB, MEFB and Tang's MATLAB code runs in GNU Octave (``apt install octave octave-image``);
CDDFuse's ``utils/Evaluator.py`` runs in this Python. A toolbox left out keeps its previous
entries. The file records the versions that produced each entry.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fixtures  # noqa: E402

EXPECTED = HERE / "expected.json"

# toolbox function -> fusecli metric (under the toolbox's preset)
VIFB_FUNCTIONS = {
    "metricsAvg_gradient": "AG", "metricsCross_entropy": "CE", "metricsEdge_intensity": "EI",
    "metricsEntropy": "EN", "metricsMutinf": "MI", "metricsPsnr": "PSNR", "metricsQabf": "Qabf",
    "metricsQcb": "Qcb", "metricsQcv": "Qcv", "metricsRmse": "RMSE", "metricsSpatial_frequency": "SF",
    "metricsSsim": "SSIM", "metricsVariance": "SD",
}
MEFB_FUNCTIONS = {
    "metricsAvg_gradient": "AG", "metricsCross_entropy": "CE", "metricsEdge_intensity": "EI",
    "metricsEntropy": "EN", "metricsNMI": "NMI", "metricsPsnr": "PSNR", "metricsQabf": "Qabf",
    "metricsQcb": "Qcb", "metricsQcv": "Qcv", "metricsSD": "SD", "metricsSpatial_frequency": "SF",
    "metricsVIF": "VIF", "metricsMEF_SSIM": "MEF-SSIM", "metricsTE": "TE", "metricsQncie": "Qncie",
    "metricsQy": "Qy", "metricsQc": "Qc", "metricsQw": "Qw", "metricsQp": "Qp",
}

TANG_FUNCTIONS = {
    f"tang_evaluate:{name}": name
    for name in ("EN", "SF", "SD", "PSNR", "MSE", "MI", "VIF", "AG", "CC", "SCD", "Qabf", "Nabf", "SSIM", "MS-SSIM")
}

CDDFUSE_METHODS = {
    "EN": "EN", "SD": "SD", "SF": "SF", "AG": "AG", "MI": "MI", "MSE": "MSE", "CC": "CC", "PSNR": "PSNR",
    "SCD": "SCD", "VIFF": "VIF", "Qabf": "Qabf", "SSIM": "SSIM",
}


def run_cddfuse(root: Path, work: Path) -> tuple[dict, str]:
    """Score the cddfuse cases with CDDFuse's own ``utils/Evaluator.py``, read as its
    ``test_IVF.py`` reads images (``image_read_cv2(path, 'GRAY')``).

    Its SSIM calls skimage's ``structural_similarity`` without ``data_range``; skimage 0.19
    (which CDDFuse pins) then took the float dtype's range, 2, and newer releases refuse.
    The call is made with ``data_range=2``: the number skimage 0.19 gave.
    """
    import functools

    import numpy
    import scipy
    import skimage
    import sklearn

    sys.path.insert(0, str(root))
    from utils import Evaluator as module  # CDDFuse's file

    module.ssim = functools.partial(module.ssim, data_range=2)
    table: dict[str, dict[str, float]] = {}
    for case in fixtures.cases():
        if case.preset != "cddfuse":
            continue
        (ir_path, vi_path), fused_path = fixtures.write_case(case, work / "cddfuse")
        ir, vi, fused = (module.image_read_cv2(str(p), "GRAY") for p in (ir_path, vi_path, fused_path))
        values = {}
        for method, metric in CDDFUSE_METHODS.items():
            function = getattr(module.Evaluator, method)
            values[metric] = float(function(fused) if metric in ("EN", "SD", "SF", "AG") else function(fused, ir, vi))
        table[case.name] = values
    versions = f"Python {platform.python_version()}, numpy {numpy.__version__}, scipy {scipy.__version__}, " \
        f"scikit-image {skimage.__version__} (SSIM with data_range=2, skimage 0.19's default), scikit-learn {sklearn.__version__}"
    return table, versions


def _octave_version() -> str:
    out = subprocess.run(["octave", "--no-gui", "--version"], capture_output=True, text=True, check=True)
    image = subprocess.run(
        ["octave", "--no-gui", "--quiet", "--eval", "p = pkg('describe', 'image'); disp(p{1}.version)"],
        capture_output=True, text=True, check=True,
    )
    return f"{out.stdout.splitlines()[0]}, image package {image.stdout.strip()}"


def _octave_runtime() -> str:
    return _octave_version() + "; MATLAB's rgb2gray, freqspace and blkproc from tests/toolboxes/octave"


def _git_commit(folder: Path, given: str | None) -> str:
    if given:
        return given
    probe = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else "unknown (not a git checkout)"


def run_octave(preset: str, metrics_dir: Path, functions: dict[str, str], work: Path) -> dict:
    """Score the preset's cases with the toolbox's own .m files; returns {case: {metric: value}}."""
    lines = []
    for case in fixtures.cases():
        if case.preset != preset:
            continue
        sources, fused = fixtures.write_case(case, work / preset)
        lines.append("\t".join([case.name, *map(str, sources), str(fused)]))
    listing, results = work / f"{preset}.txt", work / f"{preset}.out"
    listing.write_text("\n".join(lines) + "\n")
    names = "{" + ",".join(f"'{f}'" for f in functions) + "}"
    command = f"score_cases('{metrics_dir}', '{listing}', '{results}', {names})"
    subprocess.run(
        ["octave", "--no-gui", "--quiet", "--path", str(HERE / "octave"), "--eval", command], check=True
    )
    table: dict[str, dict[str, float | str]] = {}
    for row in results.read_text().splitlines():
        name, function, value = row.split("\t", 2)
        table.setdefault(name, {})[functions[function]] = value if value.startswith("error") else float(value)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vifb", type=Path, help="checkout of xingchenzhang/VIFB")
    parser.add_argument("--mefb", type=Path, help="checkout of xingchenzhang/MEFB")
    parser.add_argument("--tang", type=Path, help="Linfeng-Tang/Image-Fusion's 'General Evaluation Metric/Evaluation' folder")
    parser.add_argument("--cddfuse", type=Path, help="checkout of Zhaozixiang1228/MMIF-CDDFuse")
    parser.add_argument("--commit", action="append", default=[], metavar="PRESET=SHA",
                        help="the toolbox's commit, where its folder is not a git checkout")
    args = parser.parse_args()
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {"toolboxes": {}, "cases": {}}
    commits = dict(item.split("=", 1) for item in args.commit)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        toolboxes = (
            ("vifb", args.vifb, "metrics", VIFB_FUNCTIONS),
            ("mefb", args.mefb, "metrics", MEFB_FUNCTIONS),
            ("tang", args.tang, ".", TANG_FUNCTIONS),
            ("cddfuse", args.cddfuse, "utils", None),
        )
        for preset, root, folder, functions in toolboxes:
            if root is None:
                continue
            if functions is None:
                table, runtime = run_cddfuse(root, work)
                code = f"{folder}/Evaluator.py"
            else:
                table, runtime = run_octave(preset, root / folder, functions, work), _octave_runtime()
                code = "*.m" if folder == "." else f"{folder}/*.m"
            expected["toolboxes"][preset] = {
                "code": f"{root.name}/{code} @ {_git_commit(root, commits.get(preset))}",
                "runtime": runtime,
                "date": datetime.date.today().isoformat(),
                "host": f"{platform.system()} {platform.machine()}",
            }
            for case in fixtures.cases():
                if case.name in table:
                    expected["cases"][case.name] = {
                        "preset": preset, "pixels": fixtures.pixel_digest(case), "values": table[case.name]
                    }
    EXPECTED.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED}")


if __name__ == "__main__":
    main()
