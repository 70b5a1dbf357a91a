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

from .catalog import TASKS  # noqa: F401  (re-exported)
from ..restore import RestoreStats, stack_restoration_stats


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
    # (B, 1, h, w) the classical base of these frames, fused beforehand from the whole image's
    # frames (a tile's crop of it: exposure fusion's pyramid spans the whole frame, so a tile's own
    # fusion differs); unpadded (``valid_size`` or the frames' size). None: fused from the frames
    base: Tensor | None = None
    # whole-image statistics per frame for a base that restores the frames (fusecli.restore);
    # None: from the frames given. Set from the unpadded frames (or the whole image, for a tile)
    restore_stats: list[RestoreStats] | None = None
    # (H, W) of the image inside the padding (fuse_padded): a classical base is fused from that
    # part and padded like the frames, so it is the unpadded fusion exactly (a pyramid fusion of
    # the padded frames differs along the padded borders: 41 dB against 137 on a 384x251 frame)
    valid_size: tuple[int, int] | None = None


@dataclass
class FusionResult:
    """Fused luminance ``(B, 1, H, W)`` in 0..1 and named diagnostic maps."""

    image: Tensor
    maps: dict[str, Tensor] = field(default_factory=dict)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys are an error (wrong architecture)."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
    values = {}
    for key, value in data.items():
        default = names[key].default_factory() if names[key].default_factory is not dataclasses.MISSING else names[key].default  # type: ignore[misc]
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = config_from_dict(type(default), value)
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

    def base_restorations(self, task: str, prompt: str | None) -> list[str]:
        """Degradations the prompt names that the model restores classically before fusing
        (:mod:`fusecli.restore`); those need whole-image statistics (``FuseOptions.restore_stats``)."""
        return []

    def describe_restorations(self, task: str, prompt: str | None, stats: list[RestoreStats] | None = None) -> list[str]:
        """:meth:`base_restorations` as the user is told them (a model may say how each is done,
        and, from the frames' whole-image ``stats``, on which frames)."""
        return self.base_restorations(task, prompt)

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
        options = dataclasses.replace(options, valid_size=(h, w))
        ops = model.base_restorations(options.task, options.prompt)
        if options.restore_stats is None and b == 1 and ops:
            options = dataclasses.replace(options, restore_stats=stack_restoration_stats([f[0].float().cpu().numpy() for f in frames[0]], ops, options.task))
    result = model.fuse(padded, options)
    maps = {k: (v[..., :h, :w] if v.ndim >= 3 and v.shape[-2:] == (h + ph, w + pw) else v) for k, v in result.maps.items()}
    return FusionResult(result.image[..., :h, :w], maps)
