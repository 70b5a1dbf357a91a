"""Training-free fusion methods: exposure fusion (MEF), focus fusion (MFF), pyramid VIF.

Each is a function ``method(frames, levels=None, **options) -> fused`` on ``(H, W)`` or
``(H, W, 3)`` frames, float32 in 0..1 (or stored uint8 / uint16), listed by name in
:data:`fusecli.catalog.CATALOG` with kind ``training-free``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from fusecli.catalog import CATALOG, entries
from fusecli.errors import UnknownNameError
from fusecli.methods.exposure import exposure_coarse, exposure_levels
from fusecli.methods.pyramid import Frames, pyramid_levels

FusionMethod = Callable[..., np.ndarray]

# Methods whose depth is not :func:`pyramid_levels` (catalog names).
_DEPTHS: dict[str, Callable[[tuple[int, int]], int]] = {"exposure-fusion": exposure_levels}


def method_names() -> list[str]:
    """The training-free methods' names, in catalog order."""
    return [entry.name for entry in entries("training-free")]


def get_method(name: str) -> FusionMethod:
    """The function of the training-free method ``name`` (or an alias)."""
    entry = CATALOG.get(name)
    if entry.kind != "training-free":
        raise UnknownNameError(f"{entry.name!r} is a network, not a training-free method; choose from {', '.join(method_names())}")
    return entry.load()


def method_levels(method: str, shape: tuple[int, int]) -> int:
    """The pyramid depth ``method`` uses on a whole image of ``shape``; its tiles are given the
    same, so they blend alike."""
    return _DEPTHS.get(CATALOG.get(method).name, pyramid_levels)(shape)


def fuse_frames(method: str, frames: Frames, levels: int | None = None) -> np.ndarray:
    """Fuse ``frames`` with the training-free method ``method`` (``levels``: its pyramid depth;
    default: the method's own, :func:`method_levels`)."""
    return get_method(method)(frames, levels=levels)


def tile_plan(method: str, frames: Frames, levels: int, overlap: int, options: dict) -> tuple[dict, int]:
    """What the tiles of ``frames`` (overlapping by ``overlap``) need from the whole image, added
    to ``method``'s ``options``, and the grid their starts must keep. Exposure fusion's pyramid
    reaches across the whole frame: its tiles take the levels coarser than an eighth of the
    overlap (finer ones' border effects fade inside it) from one blend of the whole frames."""
    if CATALOG.get(method).name != "exposure-fusion" or levels < 2:
        return options, 1
    level = max(1, min(levels - 1, int(np.log2(max(overlap, 16))) - 3))
    coarse = exposure_coarse(frames, level, levels, deghost=options.get("deghost", False))
    return {**options, "coarse": coarse}, 2**level
