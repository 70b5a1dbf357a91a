"""The quality protocol on degraded inputs: the all-in-one model against every baseline, scored
against the clean sources (never against a fusion of them, which is the model's teacher).

Scenes: the quality protocol's frozen test sets (``bench/quality_protocol.py``; they choose
nothing), every ``--every``-th scene of each clip or dataset, as luminance at a ``--max-side``
long side (the all-in-one models fuse luminance). Two more sets have a true ground truth, made
from the best-exposed shot of each MEF test bracket (scenes no model trained on):

* ``mff-truth``: a synthetic defocus pair of that photo (``fusecli.train.synthetic_focus``);
* ``mef-truth``: a two-shot bracket of it, 1.5 EV under and over (linear light through a
  2.2 gamma, clipped), which no shot copies.

Settings: each degradation family alone at the heavy level, and n = 2 and n = 3 mild families,
made by ``fusecli.degrade.sample`` (what ``fusecli degrade`` writes) with a seed fixed by the
scene and the setting.

Rows:

* ``default``: the task's default fusion of the degraded inputs;
* ``restore + default``: classical restoration told the true degradations (``fusecli.restore``),
  then the default;
* the task's best peer installed here on the degraded inputs (MEF: OpenCV Mertens; MFF:
  OpenFocus StackMFF-V3, or enfuse's focus weights without ``--peers-bin``; VIF: none);
* ``mmaif-reg``: no prompt; ``mmaif-reg +prompt``: its classical stage and the network;
  ``network +prompt``: the network alone, its classical restorations off (its base is its
  training-free fusion of the degraded inputs, nothing restored; the prompt still conditions it);
* ``clean (ceiling)``: the default fusion of the clean inputs.

Metrics against the clean sources (VIF: Qabf, Qcb, VIF, min SSIM; MEF: MEF-SSIM, Qabf, Qcb; MFF:
Qabf, Qcb, VIF, min SSIM), the truth sets' PSNR and SSIM to the truth, and the outputs'
no-reference NIQE, BRISQUE and PIQE (lower is better).

Targets (``verdicts``): per setting, ``mmaif-reg +prompt`` beats every baseline (not the
ceiling) on most key metrics; ``mmaif-reg`` without a prompt is never below ``default`` on a key
metric. Both count a difference only beyond ``TIE`` (round-off of an 8-bit image): a tie is no win.

    python bench/degraded_protocol.py --set vif          # -> runs/degraded_protocol_vif.json, 6-15 min a set on 2 cores
    python bench/degraded_protocol.py --set mff-truth --peers-bin /path/to/venv/bin
    python bench/degraded_protocol.py --set vif --split val --model runs/NAME/checkpoints/best.safetensors  # a candidate
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_protocol import ENFUSE_FOCUS, TASKS, TRAINED_ON_TEST, enfuse, mertens, min_source_ssim, openfocus, scenes  # noqa: E402
from fusecli.degrade.pipeline import available_ops, sample  # noqa: E402
from fusecli.fusion.learned import fuse_network  # noqa: E402
from fusecli.catalog import is_training_free  # noqa: E402
from fusecli.fusion import fuse  # noqa: E402
from fusecli.fusion.task import default_model  # noqa: E402
from fusecli.methods import fuse_frames  # noqa: E402
from fusecli.metrics.score import score_arrays  # noqa: E402
from fusecli.models.base import FuseOptions  # noqa: E402
from fusecli.models.weights import load_weights  # noqa: E402
from fusecli.restore import restore_stack  # noqa: E402
from fusecli.restore.stage import ClassicalStage  # noqa: E402
from fusecli.train.data import _load_luma  # noqa: E402
from fusecli.train.synthetic_focus import defocus_pair, sharpest_frame  # noqa: E402

KEY = {"vif": ("Qabf", "Qcb", "VIF", "min SSIM"), "mef": ("MEF-SSIM", "Qabf", "Qcb"), "mff": ("Qabf", "Qcb", "VIF", "min SSIM")}
NO_REFERENCE = ("NIQE", "BRISQUE", "PIQE")
TRUTH = ("PSNR-ref", "SSIM-ref")
LOWER_IS_BETTER = set(NO_REFERENCE)
TIE = 0.002  # relative: what 8-bit round-off of the same image moves a metric by
SETS = {"vif": "vif", "mef": "mef", "mff": "mff", "mef-truth": "mef", "mff-truth": "mff"}
MODEL = "mmaif-reg"


@dataclass
class Case:
    name: str
    clean: list[np.ndarray]  # (H, W) float32 luminance in 0..1; VIF: [ir, vis]
    truth: np.ndarray | None = None


def synthetic_bracket(photo: np.ndarray, stops: tuple[float, ...] = (-1.5, 1.5)) -> list[np.ndarray]:
    """Shots of one ``(H, W)`` photo in 0..1 at ``stops`` EV: its linear light (a 2.2 gamma)
    scaled by 2^EV and clipped, as a camera would record it."""
    linear = np.clip(photo, 0, 1).astype(np.float32) ** 2.2
    return [(np.clip(linear * np.float32(2.0**ev), 0, 1) ** (1 / 2.2)).astype(np.float32) for ev in stops]


def cases(name: str, every: int, max_side: int, split: str = "test") -> list[Case]:
    """The clean scenes of set ``name`` (module docstring), each with its truth where it has one;
    ``split="val"``: the quality protocol's validation scenes instead, for choosing settings."""
    task = SETS[name]
    source = TASKS["mef" if name.endswith("truth") else task]
    found = []
    for k, scene in enumerate(scenes(source, split, every)):
        frames = [f.astype(np.float32) for f in _load_luma(scene.paths, max_side, infrared=task == "vif")]
        if name == "mff-truth":
            photo = sharpest_frame(frames)
            near, far, _ = defocus_pair(photo, np.random.default_rng([7, k]))
            found.append(Case(scene.name, [near, far], photo))
        elif name == "mef-truth":
            photo = sharpest_frame(frames)
            found.append(Case(scene.name, synthetic_bracket(photo), photo))
        else:
            if task != "vif" and len(frames) > 3:  # the all-in-one models' stacks: 3 shots
                frames = [frames[i] for i in np.linspace(0, len(frames) - 1, 3).round().astype(int)]
            found.append(Case(scene.name, frames))
    return found


def settings(task: str) -> list[tuple[str, dict]]:
    return [(op, {"ops": [op]}) for op in available_ops(task)] + [("n=2", {"n": 2}), ("n=3", {"n": 3})]


def peer(task: str, bin_dir: Path | None) -> tuple[str, Callable] | None:
    """The task's best installed peer (quality protocol test set) as ``(row, run)``."""
    if task == "mef":
        return "OpenCV Mertens", mertens
    if task == "mff":
        if bin_dir and (bin_dir / "openfocus").exists():
            return "OpenFocus StackMFF-V3", openfocus("stackmffv3", bin_dir)
        return "enfuse (focus weights)", enfuse(ENFUSE_FOCUS)
    return None


# ------------------------------------------------------------------------------ one scene

_MODELS: dict[str, torch.nn.Module] = {}


def shipped(name: str = MODEL) -> torch.nn.Module:
    """A shipped model by name, or a weights file by path, loaded once per process (one thread:
    the pool runs a process per core)."""
    if name not in _MODELS:
        torch.set_num_threads(1)
        path = Path(name) if name.endswith(".safetensors") else ROOT / "weights" / f"{name}.safetensors"
        _MODELS[name] = load_weights(path)
    return _MODELS[name]


def network(frames: list[np.ndarray], task: str, prompt: str | None, base: np.ndarray | None = None,
            model: str = MODEL, **sampling) -> np.ndarray:
    """A shipped all-in-one model on ``(H, W)`` frames; ``base`` given: its classical restorations
    are skipped. ``sampling``: the flow sampler's options (``steps``, ``sampler``, ``gamma``, ``seed``)."""
    x = torch.from_numpy(np.stack(frames).astype(np.float32))[None, :, None]
    given = None if base is None else torch.from_numpy(base.astype(np.float32))[None, None]
    seed = sampling.pop("seed", 0)
    options = FuseOptions(task=task, prompt=prompt, base=given, generator=torch.Generator().manual_seed(seed), **sampling)
    with torch.no_grad():
        return fuse_network(shipped(model), x, options).image[0, 0].numpy()


def base_method(task: str, model: str = MODEL) -> str:
    """The training-free method a shipped all-in-one model corrects (its classical base)."""
    return ClassicalStage.of(shipped(model)).method(task)


def model_base(frames: list[np.ndarray], task: str, model: str = MODEL) -> np.ndarray:
    """The plain classical base of a shipped all-in-one model (its training-free fusion of
    ``frames``, nothing restored): what ``network +prompt`` corrects."""
    return fuse_frames(base_method(task, model), frames)


def fuse_default(task: str, frames: list[np.ndarray]) -> np.ndarray:
    """The task's default fusion of luminance ``frames`` (a network or a training-free method)."""
    method = default_model(task)
    if is_training_free(method):
        return fuse_frames(method, frames)
    return np.asarray(fuse(frames, task=task, model=method).image, np.float32)


def degraded(case: Case, task: str, index: int, label: str, how: dict):
    """The degraded sample of one case and setting, with its seed fixed by both."""
    return sample(case.clean, task, np.random.default_rng([11, index, sum(map(ord, label))]), **how)


def outputs(case: Case, task: str, made, peer_run: tuple[str, Callable] | None, work: Path, model: str = MODEL) -> dict[str, np.ndarray]:
    """Every row's fused image of one degraded case; ``model``: the all-in-one weights to judge
    (a shipped name or a ``.safetensors`` path; its rows keep the shipped model's names)."""
    inputs = [np.asarray(f, np.float32) for f in made.degraded]
    ops = [op.name for op in made.ops]
    method = default_model(task)
    plain = fuse_default(task, inputs)
    out = {"default": plain, "restore + default": fuse_default(task, restore_stack(inputs, ops, task))}
    if peer_run is not None:
        out[peer_run[0]] = np.asarray(peer_run[1](inputs, work), np.float32)
    out[MODEL] = network(inputs, task, None, model=model)
    out[f"{MODEL} +prompt"] = network(inputs, task, made.prompt, model=model)
    base = plain if base_method(task, model) == method else model_base(inputs, task, model)
    out["network +prompt"] = network(inputs, task, made.prompt, base=base, model=model)
    out["clean (ceiling)"] = fuse_default(task, case.clean)
    return out


def score(fused: np.ndarray, case: Case, task: str) -> dict[str, float]:
    fused = (np.round(np.clip(fused, 0, 1) * 255) / 255).astype(np.float32)  # as written to an 8-bit PNG
    if fused.ndim == 3:  # a peer's colour output of gray frames
        fused = fused.mean(axis=-1)
    key = [m for m in KEY[task] if m != "min SSIM"]
    values = score_arrays(fused, case.clean, (*key, *NO_REFERENCE))
    if "min SSIM" in KEY[task]:
        values["min SSIM"] = min_source_ssim(fused, case.clean)
    if case.truth is not None:
        values.update(score_arrays(fused, [], TRUTH, reference=case.truth))
    return values


def run_case(job: tuple) -> tuple[str, int, dict[str, dict[str, float]]]:
    set_name, index, case, label, how, peers_bin, model = job
    task = SETS[set_name]
    made = degraded(case, task, index, label, how)
    peer_run = peer(task, peers_bin)
    with tempfile.TemporaryDirectory() as tmp:
        fused = outputs(case, task, made, peer_run, Path(tmp), model)
    return label, index, {row: score(image, case, task) for row, image in fused.items()}


# ------------------------------------------------------------------------------ verdicts


def better(metric: str, a: float, b: float) -> bool:
    return a < b if metric in LOWER_IS_BETTER else a > b


def clearly_better(metric: str, a: float, b: float) -> bool:
    """``a`` better than ``b`` by more than round-off (``TIE``, relative)."""
    return better(metric, a, b) and abs(a - b) > TIE * max(abs(b), 1e-6)


def key_metrics(set_name: str) -> tuple[str, ...]:
    return (*KEY[SETS[set_name]], *(TRUTH if set_name.endswith("truth") else ()))


def verdicts(set_name: str, table: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict]:
    """Per setting: the key metrics on which ``mmaif-reg +prompt`` beats every baseline, and
    those on which ``mmaif-reg`` without a prompt falls below ``default``, each by more than
    round-off (``TIE``)."""
    keys = key_metrics(set_name)
    found = {}
    for label, rows in table.items():
        baselines = [r for r in rows if r not in (MODEL, f"{MODEL} +prompt", "network +prompt", "clean (ceiling)")]
        ours = rows[f"{MODEL} +prompt"]
        wins = [k for k in keys if all(clearly_better(k, ours[k], rows[b][k]) for b in baselines)]
        worse = [k for k in keys if clearly_better(k, rows["default"][k], rows[MODEL][k])]
        net = rows["network +prompt"]
        net_wins = [k for k in keys if better(k, net[k], rows["default"][k])]
        found[label] = {"prompt wins": wins, "most": len(wins) > len(keys) / 2, "no prompt worse than default on": worse,
                        "network alone above default on": net_wins}
    return found


def fmt(metric: str, value: float) -> str:
    return f"{value:.2f}" if metric == "PSNR-ref" else f"{value:.3f}"


def report_markdown(report: dict) -> str:
    """The docs' tables of one set: every key metric per cell, the verdicts, the no-reference
    scores averaged over the settings, and the summary counts."""
    set_name, table = report["set"], report["table"]
    keys = key_metrics(set_name)
    rows = list(next(iter(table.values())))
    checks = verdicts(set_name, table)
    seen = (report["task"], MODEL) in TRAINED_ON_TEST and not set_name.endswith("truth")
    lines = [f"**{set_name}**{' †' if seen else ''} ({report['scenes']} {'validation' if report.get('split') == 'val' else 'test'} scenes; cells: {' / '.join(keys)}; "
             f"`{report['command']}`, {report['seconds'] / 60:.0f} min)", "",
             "| setting | " + " | ".join(rows) + " | +prompt beats all baselines on | no prompt below default on |",
             "|---|" + "---|" * (len(rows) + 2)]
    for label, values in table.items():
        check = checks[label]
        wins = f"{len(check['prompt wins'])} of {len(keys)}" + (" ✓" if check["most"] else "")
        lines.append(f"| {label} | " + " | ".join(" / ".join(fmt(k, values[r][k]) for k in keys) for r in rows)
                     + f" | {wins} | {', '.join(check['no prompt worse than default on']) or '—'} |")
    most = sum(c["most"] for c in checks.values())
    worse = sum(bool(c["no prompt worse than default on"]) for c in checks.values())
    lines += ["", ("† `mmaif-reg` trained on these scenes (degraded at random): not a test of it. " if seen else "")
              + f"With the prompt, `{MODEL}` beats every baseline on most key metrics in {most} of {len(checks)} settings; "
              f"without one it is below the plain default on some key metric in {worse} of {len(checks)}.", "",
              "| no-reference, mean over the settings (lower is better) | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for metric in NO_REFERENCE:
        lines.append(f"| {metric} | " + " | ".join(f"{np.mean([table[s][r][metric] for s in table]):.2f}" for r in rows) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="vif")
    parser.add_argument("--every", type=int, help="every N-th scene per clip or dataset (default: VIF 7, MEF, MFF and the truth sets 2)")
    parser.add_argument("--max-side", type=int, default=512)
    parser.add_argument("--split", choices=("test", "val"), default="test", help="val: the validation scenes, for choices")
    parser.add_argument("--settings", help="comma-separated settings (default: every family, n=2, n=3)")
    parser.add_argument("--peers-bin", type=Path, default=os.environ.get("FUSECLI_PEERS_BIN"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--model", default=MODEL, help="the all-in-one weights to judge: a shipped name or a .safetensors path (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="default: runs/degraded_protocol_<set>.json")
    parser.add_argument("--report", type=Path, help="print the docs' tables of this result file and exit")
    args = parser.parse_args()
    if args.report:
        print(report_markdown(json.loads(args.report.read_text())))
        return
    task = SETS[args.set]
    every = args.every or (2 if args.set.endswith("truth") else {"vif": 7, "mef": 2, "mff": 2}[task])
    found = cases(args.set, every, args.max_side, args.split)
    chosen = [s for s in settings(task) if not args.settings or s[0] in args.settings.split(",")]
    model = str(Path(args.model).resolve()) if args.model.endswith(".safetensors") else args.model
    jobs = [(args.set, k, case, label, how, args.peers_bin, model) for label, how in chosen for k, case in enumerate(found)]
    started = time.time()
    per_scene: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for label, index, rows in pool.imap_unordered(run_case, jobs):
            for row, values in rows.items():
                per_scene[label][row].append(values)
            print(label, index, flush=True)
    order = [label for label, _ in chosen]
    row_order = list(next(iter(per_scene.values())))
    table = {label: {row: {m: float(np.mean([v[m] for v in per_scene[label][row]])) for m in per_scene[label][row][0]}
                     for row in row_order} for label in order}
    report = {"set": args.set, "split": args.split, "task": task, "model": args.model, "scenes": len(found), "every": every, "max_side": args.max_side,
              "table": table, "verdicts": verdicts(args.set, table), "seconds": round(time.time() - started, 1),
              "command": " ".join(["python", "bench/degraded_protocol.py", *sys.argv[1:]])}
    out = args.out or ROOT / "runs" / f"degraded_protocol_{args.set}{'_val' if args.split == 'val' else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(report_markdown(report))


if __name__ == "__main__":
    main()
