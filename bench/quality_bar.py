"""The quality bar of docs/models.md, clause by clause, from the scores ``bench/eval_weights.py`` wrote.

Why: the bar has four clauses (clean VIF / MFF defaults beat the training-free methods on most of
their task's metrics, the MEF default is on par with exposure fusion on MEF-SSIM, the all-in-one
models beat classical restoration + fusion on every degradation family, prompts help), and the
verdict should be read off the same JSON as the tables, not re-typed. Scores nothing
itself: it only compares the means already in the file.

    python bench/quality_bar.py                      # runs/eval_weights.json
    python bench/quality_bar.py --scores runs/eval_weights.json runs/eval_weights_mff_train.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_weights import TEACHER as TRAINING_FREE  # noqa: E402  (the training-free method per task)

from fusecli.metrics.table import METRICS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALL_IN_ONE = ("mmaif-reg",)


def clean_wins(clean: dict, task: str, model: str) -> tuple[list[str], list[str]]:
    """The metrics on which ``model`` is ahead of / not ahead of the task's training-free method."""
    ours, theirs = clean[f"{task}|{model}"], clean[f"{task}|{TRAINING_FREE[task]}"]
    ahead, behind = [], []
    for metric in (m for m in ours if m != "n"):
        better = ours[metric] > theirs[metric] if METRICS.get(metric).higher_better else ours[metric] < theirs[metric]
        (ahead if better else behind).append(metric)
    return ahead, behind


def degraded_rows(degraded: dict, task: str, model: str) -> list[dict]:
    """One row per degradation setting of ``task``: the model's PSNR-ref with and without prompt
    and the two classical columns', and in how many scenes +prompt beats the better classical column."""
    rows = []
    for key in degraded:
        t, setting, method = key.split("|")
        if t != task or method != "restore+" + TRAINING_FREE[task] or f"{task}|{setting}|{model}" not in degraded:
            continue
        prompted = degraded[f"{task}|{setting}|{model} +prompt"]

        def psnr(method: str) -> float:
            return degraded[f"{task}|{setting}|{method}"]["PSNR-ref"]

        rows.append({"task": task.upper(), "setting": setting, "restore": psnr("restore+" + TRAINING_FREE[task]),
                     "plain": psnr(TRAINING_FREE[task] + " (no restoration)"), "blind": psnr(model), "prompt": prompted["PSNR-ref"],
                     "scenes": prompted["n"], "scenes_ahead": round(prompted["ahead"] * prompted["n"])})
    return rows


def clean_lines(scores: dict) -> list[str]:
    """The clean clauses, for the scenes of one scores file (its split and scene counts)."""
    clean, lines = scores["clean"], []
    split = "held-out" if scores.get("split", "val") == "val" else "training-split (unseen by it)"
    for task, model in (("vif", "moefusion-vif"), ("vif", "moefusion-vif-full"), ("mff", "moefusion-mff")):
        if f"{task}|{model}" in clean:
            ahead, behind = clean_wins(clean, task, model)
            met = len(ahead) > len(ahead + behind) / 2
            lines.append(f"| clean {task.upper()}: beats `{TRAINING_FREE[task]}` on most metrics | `{model}` | "
                         f"{clean[f'{task}|{model}']['n']} {split} scenes: ahead on {len(ahead)} of {len(ahead + behind)} "
                         f"({', '.join(ahead) or 'none'}) | {'met' if met else 'not met'} |")
    if "mef|mmaif-reg" in clean:
        ours, theirs = clean["mef|mmaif-reg"]["MEF-SSIM"], clean["mef|exposure-fusion"]["MEF-SSIM"]
        lines.append(f"| clean MEF: on par with `exposure-fusion` on MEF-SSIM | `exposure-fusion` (default), `mmaif-reg` "
                     f"| {clean['mef|mmaif-reg']['n']} {split} scenes: {theirs:.4f}, {ours:.4f} | {'met' if ours >= theirs - 5e-4 else 'not met'} |")  # on par: within 5e-4
    return lines


def degraded_lines(degraded: dict) -> list[str]:
    """The degraded-input clauses: every setting won against restoration + fusion, and prompts help."""
    lines = []
    for model in ALL_IN_ONE:
        rows = [row for task in TRAINING_FREE for row in degraded_rows(degraded, task, model)]
        if not rows:
            continue
        best = [max(row["blind"], row["prompt"]) for row in rows]
        over_restore = [row for row, b in zip(rows, best) if b > row["restore"]]
        over_both = [row for row, b in zip(rows, best) if b > max(row["restore"], row["plain"])]
        short = [f"{row['task']} {row['setting'].removeprefix('n=1 ')} {b:.2f} vs {row['restore']:.2f}"
                 for row, b in zip(rows, best) if b <= row["restore"]]
        lines.append(f"| degraded: beats restoration + fusion on every setting | `{model}` | {len(over_restore)} of {len(rows)} "
                     f"settings ({len(over_both)} of {len(rows)} against the better of it and plain fusion; +prompt ahead in "
                     f"{sum(r['scenes_ahead'] for r in rows)} of {sum(r['scenes'] for r in rows)} scene cells); short: "
                     f"{'; '.join(short) or 'none'} | {'met' if len(over_restore) == len(rows) else 'not met'} |")
        gains = sorted(row["prompt"] - row["blind"] for row in rows)
        helped, median = sum(g > 0 for g in gains), gains[len(gains) // 2]
        lines.append(f"| prompts help | `{model}` | +prompt above no prompt in {helped} of {len(rows)} settings, "
                     f"median {median:+.2f} dB | {'met' if helped > len(rows) / 2 and median > 0 else 'not met'} |")
    return lines


def verdict(files: list[dict]) -> str:
    """The markdown verdict for the card, from one or more scores files."""
    lines = ["| clause | model | result | verdict |", "|---|---|---|---|"]
    order = {"VIF": 0, "MEF": 1, "MFF": 2}
    lines += sorted((line for scores in files for line in clean_lines(scores)), key=lambda line: order[line.split()[2].rstrip(":")])
    for scores in files:
        lines += degraded_lines(scores.get("degraded", {}))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scores", type=Path, nargs="+", default=[ROOT / "runs/eval_weights.json"])
    args = parser.parse_args()
    files = [json.loads(path.read_text()) for path in args.scores]
    for path, scores in zip(args.scores, files):
        print(f"- {path.name}: `{scores['command'].strip()}` ({scores['seconds']} s)")
    print()
    print(verdict(files))


if __name__ == "__main__":
    main()
