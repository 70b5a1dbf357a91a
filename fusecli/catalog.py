"""Everything a user picks by name to fuse with: one table of learned models and training-free methods.

``fusecli models``, ``fusecli fuse --model``, the defaults and the training teachers all read
:data:`CATALOG`. Each :class:`Entry` has a ``kind``:

* ``learned``: a network, built from ``arch`` (a name in
  :data:`fusecli.models.weights.ARCHITECTURES`) and ``config`` (overrides of that
  architecture's config dataclass), with its weights file in ``weights/``;
* ``training-free``: a function ``frames -> fused`` named by ``function`` (``module:attribute``),
  imported when first used;
* ``component``: a network that other models are built from (not a fusion model by itself).

Adding a model or method means adding its file and one line here. This module imports neither
torch nor OpenCV, so listing names and resolving defaults stay fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fusecli.errors import UnknownNameError
from fusecli.registry import Registry

TASKS = ("vif", "mef", "mff")
KINDS = ("learned", "training-free", "component")


@dataclass(frozen=True)
class Entry:
    """One name in ``fusecli models``."""

    name: str
    kind: str  # one of KINDS
    tasks: tuple[str, ...]
    description: str
    arch: str | None = None  # learned / component: the architecture
    config: dict[str, Any] = field(default_factory=dict)  # learned / component: overrides of the arch's defaults
    function: str | None = None  # training-free: "module:attribute" of the fusion function
    prompt: bool = False  # reads a text request
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if (self.kind == "training-free") != (self.function is not None):
            raise ValueError(f"{self.name}: a training-free method names its function; a network does not")

    @property
    def weights_file(self) -> str | None:
        return f"{self.name}.safetensors" if self.kind != "training-free" else None

    def load(self) -> Callable:
        """The fusion function of a training-free method."""
        if self.function is None:
            raise UnknownNameError(f"{self.name!r} is a network, not a training-free method")
        module, attribute = self.function.split(":")
        return getattr(importlib.import_module(module), attribute)


CATALOG: Registry[Entry] = Registry("model")


def register(entry: Entry) -> Entry:
    return CATALOG.register(entry.name, entry, aliases=entry.aliases)


# MoE-Fusion made lean enough for a 2-core CPU: 12-channel encoders on 2x2 space-to-depth
# phases (every layer at half resolution), a 1x1 first decoder layer, decoder widths 32-16-8.
MOEFUSION_VIF = {"channels": 12, "global_first_kernel": 1, "global_widths": [32, 16, 8], "downscale": 2}

# The same at full resolution (8-channel encoders).
MOEFUSION_VIF_FULL = {"channels": 8, "global_first_kernel": 1, "global_widths": [32, 16, 8]}

# Multi-focus: the lean MoE-Fusion whose decoder outputs a soft decision map (fused =
# w A + (1 - w) B), trained on synthetic defocus pairs with the sharp photo as target.
MOEFUSION_MFF = {**MOEFUSION_VIF, "output": "weights"}

# The all-in-one regression model corrects each task's training-free fusion of its inputs (its
# "base"), passes the base's fine detail that its autoencoder loses through a learned gate, and
# weighs its whole change to the base by a per-image gate that can shut (a base that is already
# right is returned as it is). Before the network, the frames are restored classically for the
# degradations a prompt names (``restore``); JPEG blocking and low resolution are undone by the
# learned full-resolution restorer instead (``learned_restore``).
MMAIF_REG = {
    "variant": "regression",
    "base": {"vif": "pyramid-vif", "mef": "exposure-fusion", "mff": "focus-fusion"},
    "detail": True,
    "correction_gate": True,
    "restore": {
        "vif": ["gaussian_noise", "jpeg", "ir_stripes", "low_contrast", "downsample"],
        "mef": ["gaussian_noise", "jpeg", "haze", "low_contrast"],
        "mff": ["gaussian_noise", "jpeg", "haze", "low_contrast", "downsample"],
    },
    "learned_restore": ["jpeg", "downsample"],
    "restorer": {"ops": ["jpeg", "downsample"]},
}

# Learned blend weights over energy-vif's Laplacian pyramid: small heads that correct the
# rule's per-pixel, per-level weights, trained on the quality protocol's metrics (Qabf, Qcv,
# Qcb, min per-source SSIM) against the sources; the output is always a blend of the sources.
BLEND_VIF: dict[str, Any] = {}

register(Entry("moefusion-vif", "learned", ("vif",), "MoE-Fusion: local (fg/bg) and global mixtures of experts", "moe-fusion", MOEFUSION_VIF))
register(Entry("moefusion-vif-full", "learned", ("vif",), "MoE-Fusion at full resolution (8-channel encoders)", "moe-fusion", MOEFUSION_VIF_FULL))
register(Entry("moefusion-mff", "learned", ("mff",), "MoE-Fusion predicting a soft focus map (synthetic-defocus training)", "moe-fusion", MOEFUSION_MFF))
register(Entry("blend-vif", "learned", ("vif",), "learned per-pixel blend weights over energy-vif's pyramid (metric-trained)", "blend-vif", BLEND_VIF))
register(Entry("mmaif-reg", "learned", TASKS, "all-in-one MoE-DiT, regression on the training-free fusion: degraded inputs, prompts", "mmaif", MMAIF_REG, prompt=True))
register(Entry("autoencoder", "component", (), "latent autoencoder used by the mmaif models", "autoencoder"))
register(Entry("restorer", "component", (), "full-resolution JPEG / down-sampling frame restorer of the mmaif models", "restorer", {"ops": ["jpeg", "downsample"]}))
register(Entry("exposure-fusion", "training-free", ("mef",), "Mertens exposure fusion, Laplacian pyramid", function="fusecli.methods.exposure:exposure_fusion", aliases=("mertens",)))
register(Entry("focus-fusion", "training-free", ("mff",), "focus measure + consistency + pyramid blending", function="fusecli.methods.focus:focus_fusion", aliases=("focus-stack",)))
register(Entry("pyramid-vif", "training-free", ("vif",), "Laplacian pyramid VIF, max-abs detail", function="fusecli.methods.vif:pyramid_vif"))
register(Entry("energy-vif", "training-free", ("vif",), "Laplacian pyramid VIF, local-energy detail, brighter-leaning base", function="fusecli.methods.vif:energy_vif"))


def entries(kind: str | None = None) -> list[Entry]:
    """Every entry, or those of one ``kind``, in table order."""
    return [entry for _, entry in CATALOG.items() if kind is None or entry.kind == kind]


def is_training_free(name: str) -> bool:
    return name in CATALOG and CATALOG.get(name).kind == "training-free"


def weights_dirs() -> list[Path]:
    """Where shipped weights are looked for: ``$FUSECLI_WEIGHTS``, the source tree, the install prefix."""
    dirs = []
    if os.environ.get("FUSECLI_WEIGHTS"):
        dirs.append(Path(os.environ["FUSECLI_WEIGHTS"]))
    dirs.append(Path(__file__).resolve().parents[1] / "weights")
    dirs.append(Path(sys.prefix) / "share" / "fusecli" / "weights")
    return dirs


def weights_path(entry: Entry) -> Path | None:
    """The first existing weights file for ``entry``, or ``None``."""
    if entry.weights_file is None:
        return None
    for folder in weights_dirs():
        candidate = folder / entry.weights_file
        if candidate.is_file():
            return candidate
    return None
