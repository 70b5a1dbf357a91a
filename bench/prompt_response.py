"""Does the all-in-one network itself follow the prompt? The same degraded input with no prompt,
the generator's prompt, a paraphrase the generator never writes, two requests in one sentence,
and a request for a degradation that is not there, through the network alone.

The network alone: `mmaif-reg` with its classical restorations off (its base is the plain
fusion of the degraded inputs, ``bench/degraded_protocol.py``'s ``network +prompt`` row), so
every change comes from the network: its text encoder, and its correction gate's evidence of
which degradations the prompt names (keyword patterns, ``fusecli.restore.prompts``; the
"caught" column says for which paraphrases those patterns fire). Scenes, degradations and seeds
are the degraded-input benchmark's (frozen test scenes, each family alone, heavy); scored
against the clean sources with the task's first key metric.

The paraphrases are written here, not drawn from ``fusecli.degrade.prompts``, and no training
config reads them (``tests`` checks that the generator cannot write them).

    python bench/prompt_response.py                    # ~10 min on 2 cores
    python bench/prompt_response.py --sets vif --scenes 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from degraded_protocol import SETS, cases, degraded, key_metrics, model_base, network, settings  # noqa: E402

from fusecli.metrics.score import score_arrays  # noqa: E402
from fusecli.restore.prompts import PROMPT_PATTERNS, degradations_in_prompt  # noqa: E402

PARAPHRASES = {
    "low_exposure": "Can you make this night shot easier to see? It came out way too gloomy.",
    "low_contrast": "Everything looks grey and lifeless here, give it more punch.",
    "gaussian_blur": "The picture looks soft and smudgy, I would like crisper detail.",
    "motion_blur": "My hand shook when I took this, please steady the smeared edges.",
    "downsample": "This was blown up from a tiny thumbnail, put back the fine detail.",
    "gaussian_noise": "There is speckly static all over it, please smooth that out.",
    "ir_stripes": "The thermal frame has vertical lines running through it, clean them up.",
    "jpeg": "It was saved at a very low quality setting and looks chunky, tidy that up.",
    "rain": "Drops of water are streaking across the view, take the downpour out.",
    "snow": "Flakes are falling all over the scene, clear them away.",
    "haze": "The view is milky and thick with smog, clear the air.",
}
# a request for another degradation than the one applied (it is not in the input)
WRONG = {"low_exposure": "rain", "low_contrast": "gaussian_noise", "gaussian_blur": "haze", "motion_blur": "low_exposure",
         "downsample": "snow", "gaussian_noise": "haze", "ir_stripes": "low_exposure", "jpeg": "rain", "rain": "low_contrast",
         "snow": "gaussian_blur", "haze": "gaussian_noise"}
PROMPTS = ("no prompt", "generator", "paraphrase", "two requests", "wrong request")


def two_requests(op: str) -> str:
    """The paraphrase with a second request (for a degradation that is not there) in one sentence."""
    other = WRONG[op]
    return PARAPHRASES[op].rstrip(".?!") + ", and also " + PARAPHRASES[other][0].lower() + PARAPHRASES[other][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="vif,mef,mff-truth")
    parser.add_argument("--scenes", type=int, default=4, help="scenes per set (spread over the set)")
    parser.add_argument("--max-side", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print("network alone (classical restorations off); first key metric against the clean sources; "
          "moved = mean |output - no-prompt output| (0..255)\n")
    for set_name in args.sets.split(","):
        task = SETS[set_name]
        metric = key_metrics(set_name)[0]
        found = cases(set_name, 1, args.max_side)
        found = [found[i] for i in np.linspace(0, len(found) - 1, args.scenes).round().astype(int)]
        print(f"**{set_name}, {len(found)} scenes: {metric}**\n")
        print("| degradation | " + " | ".join(PROMPTS) + " | moved: generator / paraphrase / wrong | caught |\n|---|" + "---|" * (len(PROMPTS) + 2))
        for op, how in settings(task):
            if op not in PARAPHRASES:
                continue
            scores = {p: [] for p in PROMPTS}
            moved = {p: [] for p in ("generator", "paraphrase", "wrong request")}
            for index, case in enumerate(found):
                made = degraded(case, task, index, op, how)
                inputs = [np.asarray(f, np.float32) for f in made.degraded]
                base = model_base(inputs, task)
                prompts = {"no prompt": None, "generator": made.prompt, "paraphrase": PARAPHRASES[op],
                           "two requests": two_requests(op), "wrong request": PARAPHRASES[WRONG[op]]}
                outs = {p: np.clip(network(inputs, task, text, base=base), 0, 1) for p, text in prompts.items()}
                for p, image in outs.items():
                    scores[p].append(score_arrays(image, case.clean, (metric,))[metric])
                for p in moved:
                    moved[p].append(float(np.mean(np.abs(outs[p] - outs["no prompt"]))) * 255)
            caught = "—" if op not in PROMPT_PATTERNS else "yes" if op in degradations_in_prompt(PARAPHRASES[op]) else "no"
            print(f"| {op} | " + " | ".join(f"{np.mean(scores[p]):.3f}" for p in PROMPTS)
                  + " | " + " / ".join(f"{np.mean(moved[p]):.2f}" for p in moved) + f" | {caught} |", flush=True)
        print()


if __name__ == "__main__":
    main()
