"""Does the all-in-one model's text encoder read free-form wording? On text alone: how close a
paraphrase's embedding comes to the generator's sentence for the same request, and whether the
nearest single-degradation request is the right one.

Paraphrases of the held-out ("test") phrases of ``fusecli.degrade.paraphrases`` (never trained
on; some of their words are in no training phrase), and the hand-written paraphrases of
``bench/prompt_response.py`` (written apart from the grammar). Columns:

- "relative error": |e(paraphrase) - e(generator)|^2 / |e(generator)|^2, mean over requests of
  1 to 3 degradations (0: the same embedding; about 1: no closer than a random other request);
- "nearest right": one-degradation requests whose embedding is nearest to the mean generator
  embedding of their own degradation (of the task's 10 or 11), in percent.

With ``--network SPLIT``, the same question through the network alone (classical restorations
off, as in ``bench/prompt_response.py``) on the example bracket ``examples/mef/coffee_*``, each
family alone at heavy level: the mean absolute error (0..1) of the output to the clean
bracket's exposure fusion, with no prompt, 4 generator sentences and 8 paraphrases of
``SPLIT``'s phrases.

    python bench/prompt_words.py                           # the shipped mmaif-reg, ~20 s
    python bench/prompt_words.py --model A.safetensors --model B.safetensors
    python bench/prompt_words.py --model A.safetensors --model B.safetensors --network val   # ~2 min
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prompt_response import PARAPHRASES  # noqa: E402

from fusecli.degrade.paraphrases import generator_prompt, paraphrase  # noqa: E402
from fusecli.degrade.pipeline import available_ops  # noqa: E402
from fusecli.models.weights import load_weights  # noqa: E402
from fusecli.train.objectives import prompt_pairs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def centroids(text, task: str, rng: np.random.Generator, per: int = 64) -> tuple[list[str], torch.Tensor]:
    """The mean generator embedding of each one-degradation request of ``task``."""
    names = available_ops(task)
    rows = []
    for name in names:
        rows.append(text([generator_prompt([name], rng) for _ in range(per)]).mean(0))
    return names, torch.stack(rows)


def nearest(embeddings: torch.Tensor, names: list[str], centres: torch.Tensor) -> list[str]:
    return [names[i] for i in torch.cdist(embeddings, centres).argmin(1).tolist()]


def evaluate(path: Path, requests: int) -> list[str]:
    model = load_weights(path).eval()
    rows = []
    with torch.no_grad():
        for task in ("vif", "mef", "mff"):
            rng = np.random.default_rng(0)
            generated, paraphrased = prompt_pairs(task, rng, requests, "test")
            target, got = model.text(generated), model.text(paraphrased)
            error = float(((got - target).pow(2).sum(1) / target.pow(2).sum(1)).mean())
            names, centres = centroids(model.text, task, rng)
            # one-degradation requests of the held-out phrases, and the hand-written set
            held = [(name, paraphrase([name], rng, "test")) for name in names for _ in range(20)]
            right = np.mean([a == b for (a, _), b in zip(held, nearest(model.text([p for _, p in held]), names, centres))])
            hand = [(name, PARAPHRASES[name]) for name in names if name in PARAPHRASES]
            hand_right = [a == b for (a, _), b in zip(hand, nearest(model.text([p for _, p in hand]), names, centres))]
            rows.append(f"| {path.name} | {task} | {error:.3f} | {100 * right:.0f} % | {sum(hand_right)} of {len(hand)} |")
    return rows


NETWORK_FAMILIES = ("low_exposure", "haze", "rain", "snow", "gaussian_blur", "motion_blur", "gaussian_noise")


def network_rows(paths: list[Path], split: str) -> list[str]:
    from fusecli.degrade.pipeline import sample
    from fusecli.fusion.learned import fuse_network
    from fusecli.imaging import read_image
    from fusecli.methods import fuse_frames
    from fusecli.models.base import FuseOptions

    frames = [np.squeeze(read_image(ROOT / f"examples/mef/coffee_{k}.jpg", channels=1)[0]).astype(np.float32)[::2, ::2]
              for k in ("under", "normal", "over")]
    clean = fuse_frames("exposure-fusion", frames)
    models = [load_weights(path).eval() for path in paths]
    rows = []
    for family in NETWORK_FAMILIES:
        degraded = [np.asarray(f, np.float32) for f in sample(frames, "mef", 5, ops=[family], level="heavy").degraded]
        base = torch.from_numpy(fuse_frames("exposure-fusion", degraded))[None, None]
        x = torch.from_numpy(np.stack(degraded))[None, :, None]
        rng = np.random.default_rng(1)
        paraphrases = [paraphrase([family], rng, split) for _ in range(8)]
        generated = [generator_prompt([family], rng) for _ in range(4)]
        for path, model in zip(paths, models):
            def error(prompt: str | None) -> float:
                with torch.no_grad():
                    fused = fuse_network(model, x, FuseOptions(task="mef", prompt=prompt, base=base)).image[0, 0].numpy()
                return float(np.abs(fused - clean).mean())

            rows.append(f"| {family} | {path.name} | {error(None):.3f} | {np.mean([error(p) for p in generated]):.3f} "
                        f"| {np.mean([error(p) for p in paraphrases]):.3f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", type=Path, help="weights file(s) (default: the shipped mmaif-reg)")
    parser.add_argument("--requests", type=int, default=300, help="held-out requests per task")
    parser.add_argument("--network", choices=("val", "test"), help="the network-alone check on the example bracket, with this split's phrases")
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = args.model or [ROOT / "weights" / "mmaif-reg.safetensors"]
    if args.network:
        print(f"| degradation | model | no prompt | generator | paraphrase ({args.network} phrases) |\n|---|---|---|---|---|")
        print("\n".join(network_rows(paths, args.network)))
        return
    print("| model | task | relative error, held-out paraphrases | nearest right, held-out | nearest right, hand-written |")
    print("|---|---|---|---|---|")
    for path in paths:
        print("\n".join(evaluate(path, args.requests)))


if __name__ == "__main__":
    main()
