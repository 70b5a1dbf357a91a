"""What every learned fusion model shares: its config dataclass and the ``fuse`` interface.

A model fuses luminance: ``frames`` is ``(B, N, 1, H, W)`` in 0..1 (N >= 2 sources; for VIF
frame 0 is infrared and frame 1 visible), and :meth:`FusionModel.fuse` returns the fused
``(B, 1, H, W)`` plus optional maps for ``--routing-map``. Colour is handled outside.

Mixture-of-experts models put ``maps["experts"]``: ``(B, E, H, W)`` routing weights of the
last forward at full resolution, named by :attr:`FusionModel.expert_names`; the pipeline
blends them across tiles and draws the dominant expert per pixel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusecli.catalog import TASKS


@dataclass
class FuseOptions:
    """Per-call options; models ignore those that do not apply to them."""

    task: str = "vif"
    prompt: str | None = None
    steps: int = 8
    sampler: str = "sde"  # "ode" | "sde"
    gamma: float = 0.5
    method: str = "euler"  # "euler" | "heun"
    bridge: float = 0.0  # > 0: start the flow at this t, from a noised blend of the sources (or of the classical base)
    generator: torch.Generator | None = None
    foreground: Tensor | None = None  # (B, 1, H, W) soft foreground mask for MoE-Fusion
    # all-in-one models: what their classical stage (fusecli.restore.stage) gives the network.
    # base: (B, 1, h, w) the classical fusion of the unpadded frames (or a tile's crop of the whole
    # image's: exposure fusion's pyramid spans the whole frame), edge-padded by the model;
    # evidence: (B, K) which degradations the prompt names, for the correction gate
    base: Tensor | None = None
    evidence: Tensor | None = None


@dataclass
class FusionResult:
    """Fused luminance ``(B, 1, H, W)`` in 0..1 and named diagnostic maps."""

    image: Tensor
    maps: dict[str, Tensor] = field(default_factory=dict)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(cls: type, data: dict[str, Any], where: str = "", error: type[Exception] = ValueError) -> Any:
    """Build dataclass ``cls`` from ``data`` (a TOML table, or weights metadata), nested dataclasses
    from nested tables. Unknown keys and values of the wrong type raise ``error`` naming the key
    (``where``: the prefix of the keys, e.g. ``"model."``); a number becomes its field's type, a
    single value a one-item list, a list a tuple where the field holds one."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise error(f"unknown key(s) in {where or 'the config'}: {', '.join(unknown)}; allowed: {', '.join(fields)}")
    values = {}
    for key, value in data.items():
        f = fields[key]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise error(f"{where}{key} must be a table")
            value = config_from_dict(type(default), value, f"{where}{key}.", error)
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise error(f"{where}{key} must be true or false, got {value!r}")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise error(f"{where}{key} must be a number, got {value!r}")
            value = type(default)(value) if isinstance(default, float) or float(value).is_integer() else value
        elif isinstance(default, list) and isinstance(value, (str, int, float)):
            value = [value]
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        values[key] = value
    return cls(**values)


class FusionModel(nn.Module):
    """Base class: subclasses set ``arch``/``config_class`` and implement :meth:`fuse`."""

    arch: ClassVar[str]
    config_class: ClassVar[type]
    tasks: ClassVar[tuple[str, ...]] = TASKS
    takes_prompt: ClassVar[bool] = False  # conditioned on a text request (FuseOptions.prompt)

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    def fuse(self, frames: Tensor, options: FuseOptions) -> FusionResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def expert_names(self) -> list[str]:
        """Legend for the channels of ``maps["experts"]`` (empty: the model has no such map)."""
        return []

    @property
    def multiple(self) -> int:
        """Input sizes are padded to a multiple of this (downsampling / patching)."""
        return 1

    @property
    def tile_alignment(self) -> int:
        """Tile offsets that keep the model's input partition (patches, windows) unchanged."""
        return self.multiple


def check_frames(frames: Tensor) -> None:
    """Raise a clear error unless ``frames`` is ``(B, N>=2, 1, H, W)``."""
    if frames.ndim != 5 or frames.shape[2] != 1 or frames.shape[1] < 2:
        raise ValueError(f"expected frames of shape (B, N>=2, 1, H, W), got {tuple(frames.shape)}")


def fuse_padded(model: FusionModel, frames: Tensor, options: FuseOptions) -> FusionResult:
    """:meth:`FusionModel.fuse` for any size: pad (edge-replicate) to ``model.multiple``, then crop."""
    check_frames(frames)
    b, n, c, h, w = frames.shape
    m = model.multiple
    ph, pw = (-h) % m, (-w) % m
    padded = frames
    if ph or pw:
        padded = F.pad(frames.reshape(b * n, c, h, w), (0, pw, 0, ph), mode="replicate").view(b, n, c, h + ph, w + pw)
        if options.foreground is not None:
            options = dataclasses.replace(options, foreground=F.pad(options.foreground, (0, pw, 0, ph), mode="replicate"))
    result = model.fuse(padded, options)
    maps = {k: (v[..., :h, :w] if v.ndim >= 3 and v.shape[-2:] == (h + ph, w + pw) else v) for k, v in result.maps.items()}
    return FusionResult(result.image[..., :h, :w], maps)
