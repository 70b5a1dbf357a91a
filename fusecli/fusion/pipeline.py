"""The fusion pipeline: frames in, fused image out, with any zoo model or training-free method.

``fuse(frames, ...)`` checks the inputs, infers the task when not given, orders exposure
brackets by brightness, optionally aligns hand-held stacks, runs the method in overlapping
tiles (bounded memory, no seams) and restores colour:

* learned models fuse luminance (BT.601 Y); VIF takes the visible image's chroma, MEF/MFF
  blend the frames' chroma weighted by saturation ``|C - 0.5|`` (Prabhakar et al.'s DeepFuse
  rule: the most colourful, i.e. best exposed / least washed-out, frame dominates), which
  avoids the grey casts of plain averaging;
* training-free methods work on the frames directly (they handle colour themselves).

``fuse_files`` adds reading, bit-depth bookkeeping and atomic writing; the CLI calls it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field, replace
from typing import Sequence

import cv2
import numpy as np

from fusecli.geometry.deghost import plan_deghost
from fusecli.errors import InputMismatchError, UnknownNameError
from fusecli.imaging.infrared import display_infrared, infrared_index
from fusecli.methods import method_levels, tile_plan
from fusecli.catalog import TASKS, CATALOG
from fusecli.geometry.registration import IrWarp, describe_box, register_pair
from fusecli.fusion.tiling import is_tiled, run_tiled
from fusecli.geometry.warp_estimation import resolve_warp

from fusecli.fusion.task import default_model, infer_task, mean_brightness
from fusecli.catalog import is_training_free
from fusecli.fusion.learned import fuse_learned
from fusecli.methods import get_method

log = logging.getLogger(__name__)


TRAINING_FREE_TILE_SCALE = 6  # training-free methods use tiles this many times --tile


@dataclass
class FuseSettings:
    """Everything besides the frames that decides the result."""

    task: str | None = None
    model: str | None = None
    prompt: str | None = None
    steps: int = 8
    sampler: str = "sde"
    gamma: float = 0.5
    seed: int = 0
    device: str = "auto"
    tile: int = 1024
    overlap: int = 64
    align: bool = False
    resize: bool = False
    foreground: np.ndarray | None = None  # (H, W) mask in 0..1 for MoE-Fusion's local experts
    routing: bool = False  # also collect the model's per-pixel expert weights (for --routing-map)
    ir_range: str = "auto"  # VIF: "auto" stretches raw 16-bit infrared counts (fusecli.imaging.infrared), "stored" keeps them
    deghost: bool = False  # MEF with exposure-fusion: leave out what moved between shots (fusecli.geometry.deghost)
    deghost_reference: int | None = None  # the shot kept where things moved (0-based, in the order given); implies deghost
    ir_warp: IrWarp | str | None = None  # VIF from a user's rig: infrared -> visible warp (fusecli.geometry.registration), or "auto": estimated per pair
    workers: int = 0  # a network's tiles fused at a time (0: one per core); the output's bytes do not depend on it


@dataclass
class FuseResult:
    image: np.ndarray  # (H, W) or (H, W, 3) float32 in 0..1
    task: str
    model: str
    notes: list[str] = field(default_factory=list)  # what was inferred / aligned, for the user
    experts: np.ndarray | None = None  # (H, W, E) expert weights (settings.routing, MoE models)
    expert_names: list[str] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)  # as fused: VIF infrared first (stretched), MEF dark to bright, aligned
    ir_warp: IrWarp | None = None  # the infrared -> visible warp used (given, or estimated: --ir-warp auto)


def _method_tile(name: str, levels: int, frames: list[np.ndarray], where: tuple[slice, slice], **options) -> np.ndarray:
    """Training-free methods take the stored 8/16-bit or float pixels and convert what they
    need; a whole-image coarse blend (``coarse``) is cropped to the tile."""
    if "coarse" in options:
        options["coarse"] = options["coarse"].crop(where)
    return get_method(name)(frames, levels=levels, **options)


def check_frames(frames: Sequence[np.ndarray], resize: bool, names: Sequence[str] | None = None) -> list[np.ndarray]:
    """At least two frames of one size (or resized to the first with ``resize``); errors call
    the frames by ``names`` (e.g. their files) where given."""
    frames = list(frames)
    if len(frames) < 2:
        raise InputMismatchError(f"fusion needs at least 2 images, got {len(frames)}")
    names = list(names) if names is not None else [f"image {i}" for i in range(1, len(frames) + 1)]
    h, w = frames[0].shape[:2]
    for i, f in enumerate(frames[1:], start=2):
        if f.ndim == 3 and f.shape[2] not in (1, 3, 4):
            raise InputMismatchError(f"{names[i - 1]} has {f.shape[2]} channels; expected gray, RGB or RGBA")
        if f.shape[:2] != (h, w):
            if not resize:
                raise InputMismatchError(f"{names[i - 1]} is {f.shape[1]}x{f.shape[0]} but {names[0]} is {w}x{h} (use --resize to resample)")
            if abs(np.log((f.shape[1] / f.shape[0]) / (w / h))) > 0.01:  # e.g. a 16:9 visible frame onto a 5:4 infrared one
                log.warning(
                    "%s (%dx%d) is resampled to %dx%d, another aspect ratio: it is stretched, not registered; "
                    "crop the images to the same field of view first",
                    names[i - 1], f.shape[1], f.shape[0], w, h,
                )
            frames[i - 1] = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
    return [f[..., :3] if f.ndim == 3 and f.shape[2] == 4 else (f[..., 0] if f.ndim == 3 and f.shape[2] == 1 else f) for f in frames]


def fuse(frames: Sequence[np.ndarray], settings: FuseSettings | None = None, *, names: Sequence[str] | None = None, release_inputs: bool = False, **overrides) -> FuseResult:
    """Fuse ``frames`` (``(H, W)`` / ``(H, W, 3)``, uint8/uint16/float in 0..1; VIF: infrared first).

    ``names``: what errors call the frames (e.g. their files). ``release_inputs``: empty the
    ``frames`` list at once, so that frames replaced on the way (aligned, registered) are freed
    rather than held twice; for a caller that read them for this call only (:func:`fuse_files`:
    a deep 24 MP focus stack of 8-bit shots holds 72 MB less per shot). Keyword ``overrides`` set
    :class:`FuseSettings` fields, e.g. ``fuse(frames, model="exposure-fusion")``.
    """
    settings = settings or FuseSettings()
    if overrides:
        settings = FuseSettings(**{**settings.__dict__, **overrides})
    if release_inputs and isinstance(frames, list):
        frames, given = list(frames), frames
        given.clear()  # this call's own list holds them now
    notes: list[str] = []
    if settings.ir_warp is not None:
        frames, settings = _register(frames, settings, notes)
    frames = check_frames(frames, settings.resize, names)
    task = settings.task
    if task is None:
        task, why = infer_task(frames, settings.model)
        notes.append(f"task {task} inferred: {why}")
    if task not in TASKS:
        raise UnknownNameError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    name = settings.model or default_model(task)
    if settings.model is None:
        notes.append(f"model {name} (default for {task})")
    learned = not is_training_free(name)  # a catalog network or a weights file
    entry = CATALOG.get(name) if name in CATALOG else None
    if entry is not None and task not in entry.tasks:
        raise InputMismatchError(f"model {CATALOG.get_name(name)} does not do {task} (it does {', '.join(CATALOG.get(name).tasks)})")
    if task == "vif" and len(frames) != 2:
        raise InputMismatchError(f"VIF fuses one infrared and one visible image, got {len(frames)} images")
    if task == "vif" and infrared_index(frames) == 1:
        frames = [frames[1], frames[0]]
        notes.append("the second image is the gray one: used as infrared")
    if task == "vif":
        infrared, note = display_infrared(frames[0], settings.ir_range)
        frames = [infrared, frames[1]]
        notes += [note] if note else []
    order = list(range(len(frames)))  # frames[k] is input order[k]
    if task == "mef":
        brightness = [mean_brightness(f) for f in frames]
        order.sort(key=lambda i: brightness[i])
        frames = [frames[i] for i in order]
    if settings.align:
        from fusecli.geometry.align import align_exposures, align_focus

        frames, motions = (align_exposures if task == "mef" else align_focus)(frames)
        notes.append("aligned: " + "; ".join(f"frame {i + 1} {m.describe()}" for i, m in enumerate(motions)))
    options = {}
    if settings.deghost or settings.deghost_reference is not None:
        options["deghost"] = _plan_deghost(task, name, frames, notes, settings.deghost_reference, order)
    expert_names: list[str] = []
    experts = None
    if learned:
        image, experts, expert_names = fuse_learned(name, task, frames, settings, notes)
    else:
        if settings.prompt:
            notes.append(f"warning: {name} is training-free and takes no prompt; ignored")
        # Training-free methods are cheap per pixel: 6x larger tiles, far fewer tile borders
        # (a 24 MP frame is one tile with the default --tile; 5 such frames fit in 2 GB).
        tile, overlap = TRAINING_FREE_TILE_SCALE * settings.tile, TRAINING_FREE_TILE_SCALE * settings.overlap
        levels, align = method_levels(name, frames[0].shape[:2]), 1
        if is_tiled(frames[0].shape[:2], tile):
            options, align = tile_plan(name, frames, levels, overlap, options)
        work = functools.partial(_method_tile, name, levels, **options)
        image = run_tiled(work, frames, tile, overlap, align=align)
    shown = CATALOG.get_name(name) if entry is not None else name
    image = np.clip(image, 0, 1, out=image if image.dtype == np.float32 else None).astype(np.float32, copy=False)
    return FuseResult(image, task, shown, notes, experts if expert_names else None, expert_names, list(frames), settings.ir_warp)


def _register(frames: Sequence[np.ndarray], settings: FuseSettings, notes: list[str]) -> tuple[list[np.ndarray], FuseSettings]:
    """A rig's pair with the infrared frame warped onto the visible one and both (and the
    foreground mask, in visible pixels) cropped to what both cameras see; the task is VIF."""
    whole = frames[1 - infrared_index(frames)].shape if len(frames) == 2 else None  # the visible frame, uncropped
    if settings.foreground is not None and whole is not None and settings.foreground.shape != whole[:2]:
        raise InputMismatchError(
            f"the foreground mask is {settings.foreground.shape[1]}x{settings.foreground.shape[0]}; with a warp it is in "
            f"the visible frame's pixels, {whole[1]}x{whole[0]}"
        )
    warp = resolve_warp(settings.ir_warp, frames, settings.task)
    frames, box = register_pair(list(frames), warp.matrix, settings.task)
    if settings.task is None:
        notes.append("task vif: a warp registers infrared onto visible")
    notes.append(f"infrared warped onto the visible frame by {warp.description}; fused where both see: {describe_box(box, whole)}")
    foreground = settings.foreground[box] if settings.foreground is not None else None
    return frames, replace(settings, task="vif", foreground=foreground, ir_warp=warp)


def _plan_deghost(task: str, name: str, frames: list[np.ndarray], notes: list[str], chosen: int | None = None, order: Sequence[int] = ()):
    """The whole bracket's deghosting plan (so tiles agree), and a note of what it found.
    ``chosen``: the reference as the user numbered the shots (0-based, in the order given);
    ``order[k]`` is that number of ``frames[k]`` (sorted dark to bright)."""
    if task != "mef":
        raise InputMismatchError(f"--deghost is for exposure brackets (task mef), not {task}")
    if not is_training_free(name) or CATALOG.get(name).name != "exposure-fusion":  # or its alias mertens
        raise InputMismatchError(f"--deghost works with exposure-fusion; {name} does not deghost")
    if chosen is not None and not 0 <= chosen < len(frames):
        raise InputMismatchError(f"--deghost-reference {chosen + 1}: the bracket has {len(frames)} shots")
    plan = plan_deghost(frames, None if chosen is None else list(order).index(chosen))
    why = "the best exposed" if chosen is None else f"input {chosen + 1}, as asked"
    left_out = ", ".join(f"{share:.1%} of shot {k + 1}" for k, share in enumerate(plan.moving) if k != plan.reference)
    notes.append(f"deghosted against shot {plan.reference + 1} of {len(frames)} (dark to bright; {why}): left out where something moved, {left_out}")
    return plan
