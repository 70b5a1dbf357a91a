"""The quality protocol: every method of a task, the trivial baselines and the installable peers
on a frozen test set, judged by metrics that copying one source cannot win.

Splits (``--split``; docs/benchmarks.md, "Quality protocol"). The test sets are frozen: they never
choose a checkpoint, a setting or a default; those are chosen on the validation sets.

* VIF: test = M3SVD (131 pairs from 5 clips of a campus rig; no VIF training config reads it, so
  for the shipped models, all trained on RoadScene, it is the leave-one-dataset-out test);
  validation = the training configs' held-out RoadScene scenes. Means are over clips (the
  frames of one clip are near-duplicates).
* MEF: test = DeepFuse-ICCV17, Merianos2016 and MEFNet-sample (34 brackets; no training config
  reads them: leave-one-dataset-out for the learned models); validation = Ma-MEF, HDRPS-ds8,
  PMEF-dataset3 and PMEF-misc (104 brackets). Means are over brackets.
* MFF: test = MFI-WHU (30 pairs); validation = classic, classic-extra and SESF-tid (25 pairs, one
  3-shot stack). The shipped learned MFF models saw MFI-WHU scenes (the all-in-one models in
  training; `moefusion-mff`, trained on synthetic defocus only, in choosing its checkpoint):
  their test rows are marked † and the decision rule skips them. Means are over scenes.

Rows: each source alone, their pixel average, the best single frame (per scene, the frame
that scores best on the task's first metric: an oracle no copying method can beat), every
fusecli method of the task, and the peers found here: OpenCV's Mertens (MEF), ``enfuse`` (MEF;
MFF with the enfuse manual's focus weights), OpenFocus's StackMFF-V3 and guided-filter
fusion and rawhdr's focus fusion (MFF; ``pip install openfocus rawhdr`` into another virtual
environment and pass its ``bin`` folder as ``--peers-bin`` or ``$FUSECLI_PEERS_BIN``, since
OpenFocus pins older NumPy and OpenCV). Each output is written as an 8-bit PNG and scored as
``fusecli metrics`` scores it (standard conventions), plus SSIM with each source and its
minimum (11×11 Gaussian, L = 255, on luminance).

Decision rules (``passes``): a default beats each source alone, the average and (MEF, MFF) the
best single frame on the task's deciding metrics (VIF: Qabf and Qcv, and both frames on min
SSIM; MEF: MEF-SSIM and Qabf; MFF: Qabf, Qcb and Qcv), and a learned default also beats the task's training-free method on them (VIF adds
VIF). Qcb and VIF do not decide VIF: a copied source scores VIF ≥ 1 and copying the infrared
frame wins Qcb on M3SVD, so there they reward copying, like MI. ``targets`` prints the peer
targets: MEF Qabf ≥ enfuse's with MEF-SSIM ≥ Mertens' and enfuse's; MFF Qcb and MI ≥ the best
peer's with Qabf ≥ and Qcv ≤ the best peer's.

    python bench/quality_protocol.py --task vif          # -> runs/quality_protocol_vif.json, ~17 min on 2 cores
    python bench/quality_protocol.py --task mef --split val --rows exposure-fusion,enfuse
    python bench/quality_protocol.py --task vif --split val --rows pyramid-vif,runs/x/checkpoints/best.safetensors
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data_root import DATA_ROOT  # noqa: E402
from fusecli.catalog import entries  # noqa: E402
from fusecli.fusion import fuse  # noqa: E402
from fusecli.imaging import as_float, read_image, write_image  # noqa: E402
from fusecli.metrics.functional import ssim_pair  # noqa: E402
from fusecli.metrics.score import ScoreItem, ScoreOptions, score_items, to_gray255  # noqa: E402
from fusecli.train.data import discover, is_validation  # noqa: E402

ENFUSE_FOCUS = ["--exposure-weight=0", "--saturation-weight=0", "--contrast-weight=1", "--hard-mask", "--contrast-window-size=5"]


@dataclass(frozen=True)
class Scene:
    group: str  # clip or dataset: what a mean is taken over first
    name: str
    paths: tuple[Path, ...]  # VIF: (infrared, visible); MEF: dark to bright; MFF: near to far


@dataclass(frozen=True)
class Task:
    name: str
    metrics: tuple[str, ...]  # the first chooses the best single frame
    columns: tuple[str, ...]
    deciding: tuple[str, ...]  # metrics a default must win (Qcv: lower is better)
    training_free: str
    sources: tuple[str, ...]  # labels of the single-source rows
    test: tuple[str, ...]  # datasets
    val: tuple[str, ...]
    mean_over_groups: bool


TASKS = {
    "vif": Task("vif", ("Qabf", "Qcb", "Qcv", "VIF", "MI"), ("Qabf", "Qcb", "Qcv", "VIF", "SSIM(F,1)", "SSIM(F,2)", "min SSIM", "MI"),
                ("Qabf", "Qcv"), "pyramid-vif", ("infrared alone", "visible alone"), ("M3SVD",), ("RoadScene",), True),
    "mef": Task("mef", ("MEF-SSIM", "Qabf", "Qcb", "MI"), ("MEF-SSIM", "Qabf", "Qcb", "min SSIM", "MI"),
                ("MEF-SSIM", "Qabf"), "exposure-fusion", ("darkest frame", "brightest frame"),
                ("DeepFuse-ICCV17", "Merianos2016", "MEFNet-sample"), ("Ma-MEF", "HDRPS-ds8", "PMEF-dataset3", "PMEF-misc"), False),
    "mff": Task("mff", ("Qabf", "Qcb", "Qcv", "VIF", "MI"), ("Qabf", "Qcb", "Qcv", "VIF", "min SSIM", "MI"),
                ("Qabf", "Qcb", "Qcv"), "focus-fusion", ("near frame alone", "far frame alone"),
                ("MFI-WHU",), ("classic", "classic-extra", "SESF-tid"), False),
}
# Learned models that saw scenes of a test set (in training or checkpoint selection): not a test there.
TRAINED_ON_TEST = {("mff", "moefusion-mff"), ("mff", "mmaif-reg")}


def scenes(task: Task, split: str, every: int = 1) -> list[Scene]:
    """The frozen test scenes or the validation scenes of ``task``, every ``every``-th per group."""
    found: list[Scene] = []
    for dataset in task.test if split == "test" else task.val:
        folder = DATA_ROOT / task.name / dataset
        for name, paths in discover(task.name, folder):
            if task.name == "vif" and split == "val" and not is_validation(name, 0.1):
                continue  # only the training configs' held-out RoadScene scenes
            group = name.split("/")[1].rsplit("_", 1)[0] if dataset == "M3SVD" else dataset
            if task.name == "mef":
                paths = sorted(paths, key=lambda p: float(as_float(read_image(p)[0]).mean()))
            found.append(Scene(group, name, tuple(paths)))
    by_group: dict[str, list[Scene]] = defaultdict(list)
    for scene in found:
        by_group[scene.group].append(scene)
    return [s for group in by_group.values() for s in group[::every]]


# ------------------------------------------------------------------------------ rows


def as_colour(frame: np.ndarray) -> np.ndarray:
    return np.repeat(frame[..., None], 3, axis=-1) if frame.ndim == 2 else frame


def average(frames: list[np.ndarray]) -> np.ndarray:
    if len({f.ndim for f in frames}) > 1:
        frames = [as_colour(f) for f in frames]
    return np.mean(frames, axis=0)


def to_uint8_bgr(frame: np.ndarray) -> np.ndarray:
    shot = (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)
    return cv2.cvtColor(shot, cv2.COLOR_RGB2BGR) if shot.ndim == 3 else cv2.cvtColor(shot, cv2.COLOR_GRAY2BGR)


def mertens(frames: list[np.ndarray], work: Path) -> np.ndarray:
    merged = cv2.createMergeMertens().process([to_uint8_bgr(f) for f in frames])
    return cv2.cvtColor(np.clip(merged, 0, 1).astype(np.float32), cv2.COLOR_BGR2RGB)


def _shots(frames: list[np.ndarray], work: Path) -> list[str]:
    paths = []
    for i, frame in enumerate(frames):
        paths.append(str(work / f"shot{i}.png"))
        cv2.imwrite(paths[-1], to_uint8_bgr(frame))
    return paths


def enfuse(options: list[str]) -> Callable[[list[np.ndarray], Path], np.ndarray]:
    def run(frames: list[np.ndarray], work: Path) -> np.ndarray:
        out = work / "enfuse.tif"
        subprocess.run(["enfuse", *options, "-o", str(out), *_shots(frames, work)], check=True, capture_output=True)
        return read_image(out)[0]

    return run


def openfocus(method: str, bin_dir: Path) -> Callable[[list[np.ndarray], Path], np.ndarray]:
    def run(frames: list[np.ndarray], work: Path) -> np.ndarray:
        out = work / "openfocus.png"
        cmd = [str(bin_dir / "openfocus"), "-i", *_shots(frames, work), "-m", method, "--cpu", "-o", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        return read_image(out)[0]

    return run


RAWHDR_FOCUS = """
import sys, numpy as np, tifffile
from rawhdr import common, focus_fusion
frames = [common.load_image(p) for p in sys.argv[2:]]
fused = focus_fusion.fuse_focal_stack(frames, pca=True, in_memory=True)
gap = np.isnan(fused)  # where every weight is 0 (flat 8-bit areas): the frames' mean
fused[gap] = np.mean(frames, axis=0)[gap]
tifffile.imwrite(sys.argv[1], np.clip(fused, 0, 1).astype(np.float32))
"""


def rawhdr_focus(bin_dir: Path) -> Callable[[list[np.ndarray], Path], np.ndarray]:
    def run(frames: list[np.ndarray], work: Path) -> np.ndarray:
        out = work / "rawhdr.tif"
        subprocess.run([str(bin_dir / "python"), "-c", RAWHDR_FOCUS, str(out), *_shots(frames, work)], check=True, capture_output=True)
        return read_image(out)[0]

    return run


def peers(task: Task, bin_dir: Path | None) -> dict[str, Callable[[list[np.ndarray], Path], np.ndarray]]:
    """The peers installed here, by row name."""
    found: dict[str, Callable] = {}
    if task.name == "mef":
        found["OpenCV Mertens"] = mertens
        if shutil.which("enfuse"):
            found["enfuse"] = enfuse([])
    if task.name == "mff":
        if shutil.which("enfuse"):
            found["enfuse (focus weights)"] = enfuse(ENFUSE_FOCUS)
        if bin_dir and (bin_dir / "openfocus").exists():
            found["OpenFocus StackMFF-V3"] = openfocus("stackmffv3", bin_dir)
            found["OpenFocus guided filter"] = openfocus("guided_filter", bin_dir)
        if bin_dir and subprocess.run([str(bin_dir / "python"), "-c", "import rawhdr"], capture_output=True).returncode == 0:
            found["rawhdr focus"] = rawhdr_focus(bin_dir)
    return found


def methods(task: Task) -> list[str]:
    return [entry.name for entry in entries() if task.name in entry.tasks and entry.kind != "component"]


# ------------------------------------------------------------------------------ scoring


@functools.lru_cache(maxsize=16)
def source_gray(path: Path) -> np.ndarray:
    """A source's luminance on 0..255, read once for all the rows that are scored against it."""
    return to_gray255(as_float(read_image(path)[0]))


def per_source_ssim(fused: Path, sources: tuple[Path, ...]) -> list[float]:
    f = to_gray255(as_float(read_image(fused)[0]))
    return [ssim_pair(source_gray(s), f) for s in sources]


def min_source_ssim(fused: np.ndarray, sources: list[np.ndarray]) -> float:
    """The smallest SSIM of ``fused`` with a source, all arrays in 0..1, scored as
    :func:`per_source_ssim` scores files (luminance on 0..255, 11x11 Gaussian)."""
    f = to_gray255(fused)
    return min(ssim_pair(to_gray255(s), f) for s in sources)


def score_folder(task: Task, items: list[ScoreItem], jobs: int) -> list[dict[str, float]]:
    scored = score_items(items, ScoreOptions(metrics=task.metrics, task=task.name), jobs=jobs)
    rows = []
    for item, result in zip(items, scored):
        if result.error:
            raise SystemExit(f"{item.name}: {result.error}")
        ssims = per_source_ssim(item.fused, item.sources)
        extra = {f"SSIM(F,{i + 1})": s for i, s in enumerate(ssims)} if task.name == "vif" else {}
        rows.append({**result.metrics, **extra, "min SSIM": min(ssims)})
    return rows


def summarise(task: Task, test_scenes: list[Scene], per_scene: list[dict[str, float]]) -> dict:
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for scene, values in zip(test_scenes, per_scene):
        groups[scene.group].append(values)
    keys = list(per_scene[0])
    by_group = {g: {k: float(np.mean([v[k] for v in vs])) for k in keys} for g, vs in groups.items()}
    if task.mean_over_groups:
        mean = {k: float(np.mean([g[k] for g in by_group.values()])) for k in keys}
    else:
        mean = {k: float(np.mean([v[k] for v in per_scene])) for k in keys}
    return {"mean": mean, "groups": by_group}


def better(metric: str, a: float, b: float) -> bool:
    return a < b if metric == "Qcv" else a > b


def run_rows(task: Task, test_scenes: list[Scene], rows: list[str], peer_runs: dict[str, Callable], jobs: int, work: Path) -> dict:
    """Fuse every scene with every row and score it; the single-frame rows share one scoring."""
    results: dict[str, dict] = {}
    singles = [r for r in rows if r in (*task.sources, "best single frame")]
    if singles:  # every frame of every scene scored once, then picked per row
        folder = work / "frames"
        folder.mkdir()
        items, owners = [], []
        for k, scene in enumerate(test_scenes):
            for i, path in enumerate(scene.paths):
                out = folder / f"{k}_{i}.png"
                write_image(out, as_colour(as_float(read_image(path)[0])) if task.name == "vif" else as_float(read_image(path)[0]), bit_depth=8)
                items.append(ScoreItem(f"{scene.name}#{i}", out, scene.paths))
                owners.append((k, i))
        scored = score_folder(task, items, jobs)
        frames: dict[int, list[dict[str, float]]] = defaultdict(list)
        for (k, _), values in zip(owners, scored):
            frames[k].append(values)
        first = task.metrics[0]
        picks = {task.sources[0]: lambda fs: fs[0], task.sources[1]: lambda fs: fs[-1],
                 "best single frame": lambda fs: max(fs, key=lambda v: v[first] if first != "Qcv" else -v[first])}
        for row in singles:
            results[row] = summarise(task, test_scenes, [picks[row](frames[k]) for k in range(len(test_scenes))])
            results[row]["seconds_per_scene"] = 0.0
    for row in rows:
        if row in results:
            continue
        if row not in ("average", *peer_runs, *methods(task)) and not Path(row).is_file():
            print(f"{row}: not available here, left out", flush=True)
            continue
        folder = work / f"row{len(results)}"
        folder.mkdir()
        items, seconds = [], 0.0
        for k, scene in enumerate(test_scenes):
            frames_ = [as_float(read_image(p)[0]) for p in scene.paths]
            scratch = folder / f"scratch{k}"
            scratch.mkdir()
            t0 = time.perf_counter()
            if row == "average":
                out = average(frames_)
            elif row in peer_runs:
                out = peer_runs[row](frames_, scratch)
            else:
                out = fuse(frames_, task=task.name, model=row).image
            seconds += time.perf_counter() - t0
            shutil.rmtree(scratch)
            path = folder / f"{k}.png"
            write_image(path, np.clip(out, 0, 1), bit_depth=8)
            items.append(ScoreItem(scene.name, path, scene.paths))
        results[row] = summarise(task, test_scenes, score_folder(task, items, jobs))
        results[row]["seconds_per_scene"] = seconds / len(test_scenes)
        print(row, {k: round(v, 4) for k, v in results[row]["mean"].items()}, flush=True)
    return results


# ------------------------------------------------------------------------------ verdicts


def passes(task: Task, results: dict, split: str = "test") -> list[str]:
    """The methods that may be the default under the decision rule (module docstring)."""
    mean = {row: value["mean"] for row, value in results.items()}
    oracle = ("best single frame",) if task.name != "vif" else ()  # VIF: a per-pair choice of camera, shown only
    trivial = [mean[r] for r in (*task.sources, "average", *oracle) if r in mean]
    frames = [mean[r] for r in task.sources if r in mean]
    learned = {e.name for e in entries() if e.kind == "learned"}
    winners = []
    for row in methods(task):
        if row not in mean or (split == "test" and (task.name, row) in TRAINED_ON_TEST):
            continue
        m = mean[row]
        ok = all(better(k, m[k], b[k]) for b in trivial for k in task.deciding)
        if task.name == "vif":
            ok = ok and all(m["min SSIM"] > f["min SSIM"] for f in frames)
        if row in learned and task.training_free in mean:
            free = mean[task.training_free]
            deciding = (*task.deciding, "VIF") if task.name == "vif" else task.deciding
            ok = ok and all(better(k, m[k], free[k]) for k in deciding)
        if ok:
            winners.append(row)
    return winners


def targets(task: Task, results: dict) -> dict[str, bool]:
    """The peer targets of the training-free method (module docstring); empty without peers."""
    mean = {row: value["mean"] for row, value in results.items()}
    ours = mean.get(task.training_free)
    if ours is None:
        return {}
    if task.name == "mef" and "enfuse" in mean and "OpenCV Mertens" in mean:
        return {"Qabf ≥ enfuse": ours["Qabf"] >= mean["enfuse"]["Qabf"],
                "MEF-SSIM ≥ Mertens and enfuse": ours["MEF-SSIM"] >= max(mean["enfuse"]["MEF-SSIM"], mean["OpenCV Mertens"]["MEF-SSIM"])}
    peer_rows = [r for r in mean if r.startswith(("enfuse", "OpenFocus", "rawhdr"))]
    if task.name == "mff" and peer_rows:
        best = {k: (min if k == "Qcv" else max)(mean[r][k] for r in peer_rows) for k in ("Qabf", "Qcb", "Qcv", "MI")}
        return {f"{k} {'≤' if k == 'Qcv' else '≥'} best peer": not better(k, best[k], ours[k]) for k in best}
    return {}


def table(task: Task, results: dict, split: str = "test") -> str:
    """The protocol's Markdown table; ↓ marks lower-is-better, † a model that saw test scenes.
    (Seconds per scene are in the JSON; speed is measured alone by bench/bench_models.py.)"""
    lines = ["| method | " + " | ".join(c + (" ↓" if c == "Qcv" else "") for c in task.columns) + " |",
             "|---|" + "---|" * len(task.columns)]
    for row, value in results.items():
        cells = [f"{value['mean'][c]:.1f}" if c == "Qcv" else f"{value['mean'][c]:.4f}" for c in task.columns]
        mark = " †" if split == "test" and (task.name, row) in TRAINED_ON_TEST else ""
        lines.append(f"| {row}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="vif")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--every", type=int, default=1, help="use every N-th scene of each group")
    parser.add_argument("--rows", help="comma-separated rows to run (default: all)")
    parser.add_argument("--peers-bin", type=Path, default=os.environ.get("FUSECLI_PEERS_BIN"),
                        help="bin folder of a virtual environment with openfocus and rawhdr")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="default: runs/quality_protocol_<task>[_val].json")
    args = parser.parse_args()
    task = TASKS[args.task]
    test_scenes = scenes(task, args.split, args.every)
    peer_runs = peers(task, args.peers_bin)
    all_rows = [*task.sources, "average", "best single frame", *methods(task), *peer_runs]
    rows = args.rows.split(",") if args.rows else all_rows
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        results = run_rows(task, test_scenes, rows, peer_runs, args.jobs, Path(tmp))
    report = {
        "task": task.name,
        "split": args.split,
        "datasets": list(task.test if args.split == "test" else task.val),
        "scenes": len(test_scenes),
        "every": args.every,
        "results": results,
        "seconds": round(time.time() - started, 1),
        "command": " ".join(["python", "bench/quality_protocol.py", *sys.argv[1:]]),
        "passes": passes(task, results, args.split),
        "targets": targets(task, results),
    }
    out = args.out or ROOT / "runs" / f"quality_protocol_{task.name}{'_val' if args.split == 'val' else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(table(task, results, args.split))
    print("methods that pass the decision rule:", ", ".join(report["passes"]) or "none")
    for target, met in report["targets"].items():
        print(f"target {target}: {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
