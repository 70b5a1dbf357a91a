"""One degraded setting of the model-card tables, scene by scene, for `mmaif-reg`.

Why: the tables average PSNR-ref over 6 scenes, and one easy scene can decide a setting. This
prints, per held-out scene (same scenes, seeds and degradations as ``bench/eval_weights.py``;
``--split train``: training-split scenes instead),
PSNR-ref of plain fusion, classical restoration + fusion, the model without and with the
prompt, the latter with its detail gate forced open too, the detail gate's mean (is the gate or
the latent correction what costs it?) and the correction gate's value (the share of the change to
the base that is kept; nan for a file without one). "best scale" is the factor ``a`` that brings the model's
base + ``a`` x its correction (+prompt) closest to the reference, and the PSNR-ref it reaches:
an oracle, only to tell a useful correction that is too strong (0 < a < 1, a gain) from one
that is mostly noise (a near 0, no gain). "oracle gate" is the correction gate's best value in
0..1 for the image (fitted to the network's whole change, the gate forced open) and the PSNR-ref
it reaches: what a perfect gate would score.

    python bench/diagnose_setting.py mff low_contrast      # ~30 s on 2 CPU cores
    python bench/diagnose_setting.py vif downsample --weights runs/x/checkpoints/best.safetensors
    python bench/diagnose_setting.py vif downsample --split train --scenes 12   # on scenes it trained on
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_weights import classical_columns, degraded_case, learned, setting_study  # noqa: E402

from fusecli.metrics.score import score_arrays  # noqa: E402
from fusecli.restore.stage import ClassicalStage  # noqa: E402


def base_image(model, inputs, task, prompt) -> np.ndarray | None:
    """The model's classical base for these (degraded) frames and prompt, ``(H, W)``; None without one."""
    x = torch.from_numpy(np.stack(inputs))[None, :, None]
    with torch.no_grad():
        stage = ClassicalStage.of(model)
        base = None if stage is None else stage.fuse_base(x, task, prompts=[prompt])
    return None if base is None else base[0, 0].numpy()


def fit_scale(base, change, reference) -> float:
    """The least-squares factor ``a`` that brings ``base + a change`` closest to ``reference``."""
    return float((change * (reference - base)).sum() / max(float((change**2).sum()), 1e-12))


@contextmanager
def forced_open(gate):
    """Within the block, ``gate`` (a gate with a ``proj`` linear layer) is fully open; restored after."""
    bias = gate.proj.bias.data.clone()
    gate.proj.bias.data += 100.0
    try:
        yield
    finally:
        gate.proj.bias.data.copy_(bias)


def best_scale(base, fused, reference, psnr) -> tuple[float, float]:
    """The oracle factor ``a`` for the correction ``fused - base`` and the PSNR-ref of ``base + a (fused - base)``."""
    if base is None:
        return float("nan"), float("nan")
    scale = fit_scale(base, fused - base, reference)
    return scale, psnr(np.clip(base + scale * (fused - base), 0, 1))


def oracle_gate(model, inputs, task, prompt, base, reference, psnr) -> tuple[float, float]:
    """The correction gate's best value in 0..1 for this image (the share of the network's whole
    change to the base that brings the output closest to the reference, which a gate could
    give) and the PSNR-ref it reaches: tells a gate that chose badly from a correction that is
    of no use."""
    if base is None or model.correction_gate is None:
        return float("nan"), float("nan")
    with forced_open(model.correction_gate):  # the network's whole change
        change = learned(model, inputs, task, prompt) - base
    share = min(max(fit_scale(base, change, reference), 0.0), 1.0)
    return share, psnr(np.clip(base + share * change, 0, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=("vif", "mef", "mff"))
    parser.add_argument("op", help="one degradation, e.g. downsample, low_contrast, jpeg")
    args, scenes_of, model = setting_study(parser, "mmaif-reg.safetensors")
    gate = model.detail_gate
    print("| scene | plain | restore+ | no prompt | +prompt | +prompt, gate open | mean gate | correction gate | best scale | +prompt, best scale | oracle gate | +prompt, oracle gate |\n" + "|---" * 12 + "|")
    rows = []
    for index, scene in enumerate(scenes_of(args.task)):
        frames, made, inputs, reference = degraded_case(scene, args.task, index, f"n=1 {args.op}", ops=[args.op])

        def psnr(fused: np.ndarray) -> float:
            return score_arrays(fused, frames, ("PSNR-ref",), reference=reference)["PSNR-ref"]

        restored, plain = classical_columns(args.task, inputs, [args.op]).values()
        blind = psnr(learned(model, inputs, args.task))
        fused = learned(model, inputs, args.task, made.prompt)  # last: the gate's value is of this call
        row = [psnr(plain), psnr(restored), blind, psnr(fused)]
        kept = float("nan") if model.correction_gate is None else float(model.correction_gate.value.mean())
        mean_gate = float("nan")
        if gate is not None:
            mean_gate = float(gate.value.mean())
            with forced_open(gate):
                row.append(psnr(learned(model, inputs, args.task, made.prompt)))
        else:
            row.append(float("nan"))
        base = base_image(model, inputs, args.task, made.prompt)
        rows.append(row + [mean_gate, kept, *best_scale(base, fused, reference, psnr),
                           *oracle_gate(model, inputs, args.task, made.prompt, base, reference, psnr)])
        print(f"| {scene.name} | " + " | ".join(f"{v:.2f}" for v in rows[-1]) + " |")
    print("| mean | " + " | ".join(f"{v:.2f}" for v in np.mean(rows, axis=0)) + " |")


if __name__ == "__main__":
    main()
