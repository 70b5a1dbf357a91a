"""The names users type in ``fusecli models`` / ``--model``, without importing torch.

Each :class:`ZooEntry` is either a learned network (architecture + weights file in
``weights/``) or a training-free method. Kept free of torch so that training-free fusion and
listing start fast; :mod:`fusecli.models.zoo` builds and loads the networks.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..registry import Registry

TASKS = ("vif", "mef", "mff")


@dataclass(frozen=True)
class ZooEntry:
    """One name in ``fusecli models``: a learned model (arch + weights) or a training-free method."""

    name: str
    kind: str  # "learned" | "training-free" | "component"
    tasks: tuple[str, ...]
    description: str
    arch: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # overrides of the arch's defaults
    prompt: bool = False
    flow: bool = False

    @property
    def weights_file(self) -> str | None:
        return f"{self.name}.safetensors" if self.kind != "training-free" else None


ZOO: Registry[ZooEntry] = Registry("model")


def register(entry: ZooEntry) -> ZooEntry:
    return ZOO.register(entry.name, entry)


# MoE-Fusion as shipped: the paper's structure, made lean enough for a 2-core CPU (see
# bench/RESULTS.md): 12-channel encoders on 2x2 space-to-depth phases (every layer at half
# resolution), a 1x1 first decoder layer, decoder widths 32-16-8.
MOEFUSION_VIF = {"channels": 12, "global_first_kernel": 1, "global_widths": [32, 16, 8], "downscale": 2}

# The same at full resolution (8-channel encoders): better scores, 2.6x slower (weights/MODEL_CARD.md).
MOEFUSION_VIF_FULL = {"channels": 8, "global_first_kernel": 1, "global_widths": [32, 16, 8]}

# Multi-focus: the same lean MoE-Fusion whose decoder outputs a soft decision map (fused =
# w A + (1 - w) B), trained on synthetic defocus pairs with the sharp photo as target.
MOEFUSION_MFF = {**MOEFUSION_VIF, "output": "weights"}

register(ZooEntry("moefusion-vif", "learned", ("vif",), "MoE-Fusion: local (fg/bg) and global mixtures of experts", "moe-fusion", MOEFUSION_VIF))
register(ZooEntry("moefusion-vif-full", "learned", ("vif",), "MoE-Fusion at full resolution: better scores, 2.6x slower", "moe-fusion", MOEFUSION_VIF_FULL))
register(ZooEntry("moefusion-mff", "learned", ("mff",), "MoE-Fusion predicting a soft focus map (synthetic-defocus training): on par with focus-fusion", "moe-fusion", MOEFUSION_MFF))
# The regression model corrects each task's training-free fusion of its inputs (its "base"), and
# passes the base's fine detail that its autoencoder loses through a learned gate.
MMAIF_REG = {
    "variant": "regression",
    "base": {"vif": "pyramid-vif", "mef": "exposure-fusion", "mff": "focus-fusion"},
    "detail": True,
    # a per-image gate on its whole change to the base: an already right base can be kept (stop 28)
    "correction_gate": True,
    # ... which also sees the degradations the prompt names, on layer-normalised inputs (stop 29),
    # and can shut exactly (hard sigmoid, trained on per-image PSNR: stop 31)
    "correction_gate_named": True,
    "correction_gate_hard": True,
    # classical restorations of the base's frames that a prompt can ask for, per task (fusecli.restore)
    "restore": {"vif": ["gaussian_noise", "jpeg", "ir_stripes", "low_contrast", "downsample"], "mef": ["gaussian_noise", "jpeg", "haze", "low_contrast"],
                "mff": ["gaussian_noise", "jpeg", "haze", "low_contrast", "downsample"]},
    # JPEG blocking is undone by the learned full-resolution restorer (stop 24), not non-local
    # means; so is low resolution, on the frames that look up-sampled (stop 30)
    "learned_restore": ["jpeg", "downsample"],
    "restorer": {"ops": ["jpeg", "downsample"]},
}

# The flow variant bridges from the same base: it starts at the base latent plus noise and
# predicts the fused latent (fine-tuned from mmaif-reg, stop 23); its gate is mmaif-reg's kind,
# trained alone for it (stop 31).
MMAIF_FLOW = {**MMAIF_REG, "variant": "flow", "prediction": "target", "start_noise": 0.5}

register(ZooEntry("mmaif-reg", "learned", ("vif", "mef", "mff"), "all-in-one MoE-DiT, regression on the training-free fusion: degraded inputs, prompts", "mmaif", MMAIF_REG, prompt=True))
register(ZooEntry("mmaif-flow", "learned", ("vif", "mef", "mff"), "all-in-one MoE-DiT, flow matching from the training-free fusion + SDE sampler", "mmaif", MMAIF_FLOW, prompt=True, flow=True))
register(ZooEntry("autoencoder", "component", (), "latent autoencoder used by the mmaif models", "autoencoder"))
register(ZooEntry("restorer", "component", (), "full-resolution JPEG / down-sampling frame restorer of mmaif-reg's base", "restorer", {"ops": ["jpeg", "downsample"]}))
register(ZooEntry("exposure-fusion", "training-free", ("mef",), "Mertens exposure fusion, Laplacian pyramid"))
register(ZooEntry("focus-fusion", "training-free", ("mff",), "focus measure + consistency + pyramid blending"))
register(ZooEntry("pyramid-vif", "training-free", ("vif",), "Laplacian pyramid VIF, max-abs detail"))


def weights_dirs() -> list[Path]:
    """Where shipped weights are looked for: ``$FUSECLI_WEIGHTS``, the source tree, the install prefix."""
    dirs = []
    if os.environ.get("FUSECLI_WEIGHTS"):
        dirs.append(Path(os.environ["FUSECLI_WEIGHTS"]))
    dirs.append(Path(__file__).resolve().parents[2] / "weights")
    dirs.append(Path(sys.prefix) / "share" / "fusecli" / "weights")
    return dirs


def weights_path(entry: ZooEntry) -> Path | None:
    """The first existing weights file for ``entry``, or ``None``."""
    if entry.weights_file is None:
        return None
    for folder in weights_dirs():
        candidate = folder / entry.weights_file
        if candidate.is_file():
            return candidate
    return None


