"""Validation tables of docs/models.md: shipped models vs training-free methods.

Held-out scenes = the training configs' scene-disjoint split (``data.val_fraction`` of
``examples/train/mmaif-reg.toml``; the same split every config uses). Everything is scored on
luminance with ``fusecli.metrics`` (standard convention).

* clean: each model against the task's training-free method on its task's metrics;
* degraded (``fusecli.degrade``, fixed seeds): per degradation family (n = 1, heavy) and for
  n = 2, 3 (mild, random families): the all-in-one models with and without the prompt against
  oracle classical restoration (fusecli.restore) + the training-free fusion, scored
  against the clean sources and against the teacher fusion of the clean frames (PSNR-ref).
  Learned models also get, per setting, the number of scenes where their PSNR-ref beats the
  better of the two classical columns (``ahead``): a mean of PSNRs can hang on one easy scene.

    python bench/eval_weights.py                                  # -> runs/eval_weights.json, ~4 min on 2 CPU cores
    python bench/eval_weights.py --tasks mff --clean-only --out /tmp/mff.json   # one quick table

``--split train`` scores the training split instead: only meaningful for a model that never saw
those scenes (``moefusion-mff`` trains on synthetic defocus pairs, not on real MFF pairs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
from fusecli.degrade.pipeline import available_ops, sample
from fusecli.metrics.score import score_arrays
from fusecli.fusion.learned import fuse_network
from fusecli.models.base import FuseOptions
from fusecli.methods import fuse_frames
from fusecli.models.weights import load_weights
from fusecli.restore import restore_stack
from fusecli.train import load_config
from fusecli.train.data import load_scenes

CLEAN_METRICS = {
    "vif": ("MI", "VIF", "Qabf", "SSIM", "Qcb", "Nabf"),
    "mef": ("MEF-SSIM", "Qabf", "NIQE"),
    "mff": ("Qabf", "Qcb", "SSIM"),
}
DEGRADED_METRICS = ("Qabf", "SSIM", "PSNR-ref")
TEACHER = {"vif": "pyramid-vif", "mef": "exposure-fusion", "mff": "focus-fusion"}
MODELS = {
    "vif": ("moefusion-vif", "moefusion-vif-full", "mmaif-reg"),
    "mef": ("mmaif-reg",),
    "mff": ("moefusion-mff", "mmaif-reg"),
}


def learned(model, frames, task, prompt=None, steps=8):
    x = torch.from_numpy(np.stack(frames).astype(np.float32))[None, :, None]
    options = FuseOptions(task=task, prompt=prompt, steps=steps, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return fuse_network(model, x, options).image[0, 0].numpy()


def setting_study(parser: argparse.ArgumentParser, weights: str):
    """For the per-setting script (diagnose_setting): parse ``parser`` with the
    shared ``--weights`` (default ``weights/WEIGHTS``), ``--scenes``, ``--max-side`` and
    ``--split`` options and return the arguments, a function ``task -> scenes`` and the loaded
    model. ``--split train`` takes real training-split scenes spread over the list (did the model
    learn the setting on scenes it saw, or not at all?)."""
    parser.add_argument("--weights", type=Path, default=ROOT / "weights" / weights)
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--max-side", type=int, default=384)
    parser.add_argument("--split", choices=("val", "train"), default="val")
    args = parser.parse_args()
    torch.set_num_threads(2)
    train, val = held_out(args.max_side)

    def scenes_of(task: str) -> list:
        if args.split == "val":
            return [s for s in val if s.task == task][: args.scenes]
        real = [s for s in train if s.task == task and not s.synthetic]
        return real[:: max(1, len(real) // args.scenes)][: args.scenes]

    return args, scenes_of, load_weights(args.weights)


def held_out(max_side: int = 384, config_path: Path = ROOT / "examples/train/mmaif-reg.toml"):
    """The training configs' (training, held-out) scenes at ``max_side`` px."""
    return load_scenes(load_config(config_path, [f"data.max_side={max_side}"]))


def frames_of(scene, max_frames=3):
    frames = [f.astype(np.float32) for f in scene.frames]
    if scene.task != "vif" and len(frames) > max_frames:
        frames = [frames[i] for i in np.linspace(0, len(frames) - 1, max_frames).round().astype(int)]
    return frames


def degraded_case(scene, task: str, index: int, label: str, **how):
    """The clean frames of held-out ``scene``, its degraded sample (fixed seed from the scene's
    index and the setting's ``label``; ``how``: ``ops=[...]`` or ``n=k``), the degraded frames
    as float32, and the reference: the teacher fusion of the clean frames."""
    frames = frames_of(scene)
    made = sample(frames, task, np.random.default_rng([11, index, len(label)]), **how)
    inputs = [np.asarray(f, np.float32) for f in made.degraded]
    return frames, made, inputs, teacher_fusion(task, frames)


def classical_columns(task: str, inputs, ops) -> dict[str, np.ndarray]:
    """The two baselines: oracle restoration of ``ops`` + the training-free fusion, and that fusion alone."""
    return {"restore+" + TEACHER[task]: teacher_fusion(task, restore_stack(inputs, ops, task)),
            TEACHER[task] + " (no restoration)": teacher_fusion(task, inputs)}


def teacher_fusion(task: str, frames) -> np.ndarray:
    """The all-in-one models' teacher and classical base (at the depth they were trained with)."""
    return fuse_frames(TEACHER[task], frames)


def mean_table(rows):
    out = {}
    for key, values in rows.items():
        out[key] = {m: float(np.nanmean([v[m] for v in values])) for m in values[0]}
        out[key]["n"] = len(values)
    return out


def markdown(result: dict) -> str:
    """The docs/models.md tables: one per task (clean) and one per task (degraded, rows = settings)."""
    lines = []
    split = "held-out" if result.get("split", "val") == "val" else "training-split"
    for task in ("vif", "mef", "mff"):
        rows = {k.split("|")[1]: v for k, v in result["clean"].items() if k.startswith(task + "|")}
        if not rows:
            continue
        metrics = [m for m in next(iter(rows.values())) if m != "n"]
        lines += [f"**{task.upper()}, clean {split} scenes (n = {next(iter(rows.values()))['n']})**", "",
                  "| method | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
        lines += [f"| {name} | " + " | ".join(f"{row[m]:.4f}" for m in metrics) + " |" for name, row in rows.items()]
        lines.append("")
    for task in ("vif", "mef", "mff"):
        keys = [k for k in result["degraded"] if k.startswith(task + "|")]
        if not keys:
            continue
        settings = list(dict.fromkeys(k.split("|")[1] for k in keys))
        methods = list(dict.fromkeys(k.split("|")[2] for k in keys))
        lines += [f"**{task.upper()}, degraded held-out scenes: PSNR-ref (dB, against the teacher fusion of the clean frames) / Qabf against the clean sources"
                  " (learned models: in how many scenes their PSNR-ref beats the better classical column)**", "",
                  "| degradation | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        for setting in settings:
            cells = []
            for method in methods:
                row = result["degraded"].get(f"{task}|{setting}|{method}")
                ahead = "" if row is None or "ahead" not in row else f" ({round(row['ahead'] * row['n'])}/{row['n']})"
                cells.append("—" if row is None else f"{row['PSNR-ref']:.2f} / {row['Qabf']:.3f}{ahead}")
            lines.append(f"| {setting} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--config", type=Path, default=ROOT / "examples/train/mmaif-reg.toml")
    parser.add_argument("--scenes", type=int, default=6, help="held-out scenes per task for the degraded tables")
    parser.add_argument("--max-side", type=int, default=384)
    parser.add_argument("--out", type=Path, default=ROOT / "runs/eval_weights.json")
    parser.add_argument("--tasks", nargs="+", choices=("vif", "mef", "mff"), default=["vif", "mef", "mff"])
    parser.add_argument("--clean-only", action="store_true", help="skip the degraded-input tables")
    parser.add_argument("--split", choices=("val", "train"), default="val",
                        help="which scenes to score (train: for models that never saw them)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    train, val = held_out(args.max_side, args.config)
    models = {}
    val = [s for s in (val if args.split == "val" else train) if s.task in args.tasks]
    for name in sorted({m for t in args.tasks for m in MODELS[t]}):
        path = args.weights / f"{name}.safetensors"
        if path.is_file():
            models[name] = load_weights(path)
    began = time.perf_counter()
    clean = defaultdict(list)
    for scene in val:
        frames = frames_of(scene)
        methods = {TEACHER[scene.task]: fuse_frames(TEACHER[scene.task], frames)}
        for name in MODELS[scene.task]:
            if name in models:
                methods[name] = learned(models[name], frames, scene.task)
        for method, fused in methods.items():
            clean[f"{scene.task}|{method}"].append(score_arrays(fused, frames, CLEAN_METRICS[scene.task]))
    degraded = defaultdict(list)
    for task in [] if args.clean_only else args.tasks:
        scenes = [s for s in val if s.task == task][: args.scenes]
        settings = [(f"n=1 {op}", {"ops": [op]}) for op in available_ops(task)] + [("n=2", {"n": 2}), ("n=3", {"n": 3})]
        for label, how in settings:
            for index, scene in enumerate(scenes):
                frames, made, inputs, reference = degraded_case(scene, task, index, label, **how)
                methods = classical_columns(task, inputs, [op.name for op in made.ops])
                if "mmaif-reg" in models:
                    methods["mmaif-reg"] = learned(models["mmaif-reg"], inputs, task)
                    methods["mmaif-reg +prompt"] = learned(models["mmaif-reg"], inputs, task, made.prompt)
                scores = {method: score_arrays(fused, frames, DEGRADED_METRICS, reference=reference) for method, fused in methods.items()}
                baseline = max(scores[m]["PSNR-ref"] for m in list(scores)[:2])  # the better classical one
                for method, row in scores.items():
                    if method.startswith("mmaif"):  # a mean of PSNRs can hang on one scene: count them too
                        row["ahead"] = float(row["PSNR-ref"] > baseline)
                    degraded[f"{task}|{label}|{method}"].append(row)
    result = {
        "split": args.split,
        "validation_scenes": {t: sum(s.task == t for s in val) for t in args.tasks},
        "clean": mean_table(clean),
        "degraded": mean_table(degraded),
        "seconds": round(time.perf_counter() - began, 1),
        "command": "python bench/eval_weights.py " + " ".join(sys.argv[1:]),
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(markdown(result))
    print(f"{result['seconds']} s")


if __name__ == "__main__":
    main()
