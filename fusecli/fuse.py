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
from concurrent.futures import ThreadPoolExecutor
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .color import brightness_gain, colorize, denoise_chroma, is_gray, luminance, rgb_to_ycbcr, stretch_chroma, tone_gain, ycbcr_to_rgb
from .deghost import plan_deghost
from .errors import InputMismatchError, UnknownNameError
from .infrared import display_infrared, infrared_index
from .io import ImageMeta, as_float, check_output_free, frame_names, image_format, output_meta, read_stack, write_image
from .models.classical import FUSION_METHODS, fuse_frames, method_levels, tile_plan
from .models.catalog import TASKS, ZOO, weights_path
from .registration import IrWarp, describe_box, register_pair
from .restore import RestoreStats, chroma_gain, degradations_in_prompt, restore, stack_restoration_stats, tone_requests
from .tiling import is_tiled, run_tiled
from .warp_estimation import resolve_warp

log = logging.getLogger(__name__)

# Preferred model per task: the first whose weights are present wins, the training-free
# method being the fallback. Chosen by the held-out validation of weights/MODEL_CARD.md: the
# shipped MoE-Fusion beats pyramid-vif on 5 of 6 VIF metrics; for MEF and MFF the shipped
# all-in-one models do not yet beat exposure-fusion / focus-fusion on clean inputs.
DEFAULTS: dict[str, tuple[str, ...]] = {
    "vif": ("moefusion-vif", "pyramid-vif"),
    "mef": ("exposure-fusion",),
    "mff": ("focus-fusion",),
}


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
    ir_range: str = "auto"  # VIF: "auto" stretches raw 16-bit infrared counts (fusecli.infrared), "stored" keeps them
    deghost: bool = False  # MEF with exposure-fusion: leave out what moved between shots (fusecli.deghost)
    deghost_reference: int | None = None  # the shot kept where things moved (0-based, in the order given); implies deghost
    ir_warp: IrWarp | str | None = None  # VIF from a user's rig: infrared -> visible warp (fusecli.registration), or "auto": estimated per pair


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


def default_model(task: str) -> str:
    for name in DEFAULTS[task]:
        entry = ZOO.get(name)
        if entry.kind == "training-free" or weights_path(entry) is not None:
            return name
    return DEFAULTS[task][-1]


def _mean_brightness(frame: np.ndarray) -> float:
    sample = as_float(frame[:: max(1, frame.shape[0] // 256), :: max(1, frame.shape[1] // 256)])
    return float(luminance(sample).mean())


def infer_task(frames: Sequence[np.ndarray], model: str | None) -> tuple[str, str]:
    """Guess the task: from a single-task model, else from the frames. Returns (task, reason)."""
    if model is not None and model in ZOO and len(ZOO.get(model).tasks) == 1:
        return ZOO.get(model).tasks[0], f"model {ZOO.get_name(model)} only does it"
    gray = [is_gray(f) for f in frames]
    if len(frames) == 2 and gray[0] != gray[1]:
        return "vif", "one gray (infrared) and one colour (visible) frame"
    means = [_mean_brightness(f) for f in frames]
    if max(means) - min(means) > 0.12 or min(means) > 0 and max(means) / min(means) > 1.6:
        return "mef", f"mean brightness differs between frames ({', '.join(f'{m:.2f}' for m in means)})"
    return "mff", "frames have similar brightness"


@functools.lru_cache(maxsize=4)
def _cached_model(name: str, device: str):
    from .models.zoo import load_model  # imports torch: only when a network is used

    return load_model(name, device)


def blend_chroma(frames: Sequence[np.ndarray], gains: Sequence[float] | None = None, denoise_guide: np.ndarray | None = None) -> np.ndarray | None:
    """``(H, W, 2)`` Cb/Cr of the colour frames weighted by ``|C - 0.5|`` (None if all gray);
    ``gains``: per frame, a stretch of its chroma about neutral first (:func:`fusecli.restore.chroma_gain`);
    ``denoise_guide``: the fused ``(H, W)`` luminance, to smooth each frame's chroma noise along
    its edges first (:func:`fusecli.color.denoise_chroma`), before the weights favour noisy frames."""
    gains = [1.0] * len(frames) if gains is None else list(gains)
    colour = [(f, g) for f, g in zip(frames, gains) if f.ndim == 3]
    if not colour:
        return None

    def frame_chroma(frame: np.ndarray, gain: float) -> np.ndarray:
        chroma = stretch_chroma(rgb_to_ycbcr(frame[..., :3])[..., 1:], gain)
        return chroma if denoise_guide is None else denoise_chroma(chroma, denoise_guide)

    chroma = np.stack([frame_chroma(f, g) for f, g in colour])  # (N, H, W, 2)
    weight = np.abs(chroma - 0.5) + 1e-3
    return (chroma * weight).sum(0) / weight.sum(0)


def denoises_colour(model, prompt: str | None) -> bool:
    """Whether the inputs' chroma is denoised too: a noise request to a model that reads prompts
    (sensor noise is per RGB channel, so in Cb/Cr as well, which a luminance model never sees)."""
    return bool(model.takes_prompt) and "gaussian_noise" in degradations_in_prompt(prompt)


def _whole_image_base(model, task: str, prompt: str | None, ys: list[np.ndarray], stats: list | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """For a model whose base is a classical fusion (of the frames' luminances ``ys``, restored for
    the ``prompt`` with the whole image's ``stats``): that ``(H, W)`` base of the whole image and, for an MEF / MFF
    request to brighten or dehaze, the plain fusion its chroma is measured against
    (:func:`_tone_reference`); (None, None) otherwise. Fused once, before the tiles, which take
    crops: exposure fusion's pyramid spans the whole frame, so a tile's own fusion would differ."""
    import torch

    method = (getattr(getattr(model, "config", None), "base", None) or {}).get(task)
    if not method:
        return None, None
    with torch.inference_mode():
        base = model.classical_base(torch.from_numpy(np.stack(ys))[None, :, None], task, prompts=[prompt], stats=None if stats is None else [stats])
    reference = _tone_reference(method, ys, stats) if task != "vif" and tone_requests(prompt) else None
    return base[0, 0].float().cpu().numpy(), reference


def _learned_tile(
    model, task: str, settings: FuseSettings, base: np.ndarray | None, reference: np.ndarray | None, stats: list | None,
    frames: list[np.ndarray], where: tuple[slice, slice],
):
    """Fused tile (VIF: its luminance, coloured after the tiles by :func:`_vif_colour`), or
    ``(fused, (H, W, E) expert weights)`` with ``settings.routing``; ``base``, ``reference``
    (:func:`_whole_image_base`) and ``stats``: the whole image's classical base, tone reference and
    restoration statistics, for a model whose base is a classical fusion (of restored frames)."""
    import torch

    from .models.base import FuseOptions, fuse_padded

    frames = [as_float(f) for f in frames]
    ys = np.stack([luminance(f) for f in frames])
    device = next(model.parameters()).device
    x = torch.from_numpy(ys)[None, :, None].to(device)
    foreground = None
    if settings.foreground is not None:
        foreground = torch.from_numpy(np.ascontiguousarray(settings.foreground[where], np.float32))[None, None].to(device)
    generator = torch.Generator(device=device).manual_seed(settings.seed + 7919 * where[0].start + where[1].start)
    given = None if base is None else torch.from_numpy(np.ascontiguousarray(base[where]))[None, None].to(device)
    options = FuseOptions(task=task, prompt=settings.prompt, steps=settings.steps, sampler=settings.sampler, gamma=settings.gamma, generator=generator, foreground=foreground, base=given, restore_stats=stats)
    with torch.inference_mode():
        result = fuse_padded(model, x, options)
    y = result.image[0, 0].float().cpu().numpy()
    if task == "vif":
        image = y  # coloured once for the whole image (_vif_colour): its gain is one number
    else:
        gains = [chroma_gain(frame) for frame in stats] if stats else [1.0] * len(frames)  # the colours of a contrast restoration
        chroma = blend_chroma(frames, gains, y if denoises_colour(model, settings.prompt) else None)
        requests = tone_requests(settings.prompt)
        if chroma is not None and reference is not None and requests:
            chroma = stretch_chroma(chroma, _tone_colour_gain(requests, y, reference[where]))
        image = y if chroma is None else ycbcr_to_rgb(np.concatenate([y[..., None], chroma], axis=2))
    if not settings.routing:
        return image
    experts = result.maps.get("experts")
    if experts is None:  # not a mixture-of-experts model: no expert channels
        return image, np.zeros((*y.shape, 0), np.float32)
    return image, experts[0].float().permute(1, 2, 0).cpu().numpy()


def _tone_colour_gain(requests: list[str], y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """MEF / MFF: the ``(H, W)`` gain of the blended chroma for brightening / dehazing
    ``requests`` (:func:`fusecli.restore.tone_requests`), from the fused luminance ``y`` over the
    plain fusion's ``reference``. A request to brighten only is an exposure change, whose colours
    scale with the brightness (:func:`fusecli.color.brightness_gain`; chroma error against the
    clean fusion 0.0101 -> 0.0065 on MEF, 0.0130 -> 0.0065 on MFF with the contrast gain before,
    ``bench/restoration_colour.py --real 6``); haze adds light without colour, so any dehazing
    request takes the local contrast gain (:func:`fusecli.color.tone_gain`)."""
    return brightness_gain(y, reference) if requests == ["low_exposure"] else tone_gain(y, reference)


def _vif_colour(model, settings: FuseSettings, y: np.ndarray, visible: np.ndarray, stats: RestoreStats | None) -> np.ndarray:
    """The fused ``(H, W)`` luminance ``y`` with the ``visible`` frame's chroma (if it has any),
    stretched by its contrast restoration's gain (``stats``) and, for a request to brighten or
    dehaze, by :func:`_visible_tone_gain`; denoised for a noise request. On the whole image, after
    the tiles: the gain is a median, which tiles would each read differently."""
    if visible.ndim != 3:
        return y
    visible = as_float(visible)
    gain = chroma_gain(stats)
    if tone_requests(settings.prompt):
        gain *= _visible_tone_gain(y, visible, stats)
    return colorize(y, visible, chroma_gain=gain, denoise=denoises_colour(model, settings.prompt))


def _visible_tone_gain(y: np.ndarray, visible: np.ndarray, stats: RestoreStats | None) -> float:
    """VIF, for a request to brighten or dehaze: by how much the fused luminance ``y`` has the
    visible frame's tones stretched (after the contrast stretch its chroma already got, ``stats``),
    which its colours follow. One number, the median of :func:`fusecli.color.tone_gain`, at least
    1: where the infrared's own detail shows, the local gain says nothing of the visible frame, and
    a map of it would paint colour there. (A brightness ratio, exact for an exposure change, read
    the infrared's brightness as the visible frame's: twice the clean colour on the astronaut.)"""
    return max(1.0, float(np.median(tone_gain(y, _contrast_stretched(luminance(visible), stats)))))


def _contrast_stretched(y: np.ndarray, stats: RestoreStats | None) -> np.ndarray:
    """A frame's ``(H, W)`` luminance with the contrast stretch its chroma got (``stats``), if any."""
    return restore(y, ["low_contrast"], stats) if stats and "low_contrast" in stats else y


def _tone_reference(method: str, ys: list[np.ndarray], stats: list | None) -> np.ndarray:
    """The luminance that the blended chroma belongs to: ``method``'s fusion of the frames, with
    the contrast stretch their chroma got (``stats``), for :func:`fusecli.color.tone_gain`."""
    if stats:
        ys = [_contrast_stretched(y, frame) for y, frame in zip(ys, stats)]
    return fuse_frames(method, ys)


def _method_tile(name: str, levels: int, frames: list[np.ndarray], where: tuple[slice, slice], **options) -> np.ndarray:
    """Training-free methods take the stored 8/16-bit or float pixels and convert what they
    need; a whole-image coarse blend (``coarse``) is cropped to the tile."""
    if "coarse" in options:
        options["coarse"] = options["coarse"].crop(where)
    return FUSION_METHODS.get(name)(frames, levels=levels, **options)



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
    learned = name not in FUSION_METHODS  # a zoo network or a weights file
    entry = ZOO.get(name) if name in ZOO else None
    if entry is not None and task not in entry.tasks:
        raise InputMismatchError(f"model {ZOO.get_name(name)} does not do {task} (it does {', '.join(ZOO.get(name).tasks)})")
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
        brightness = [_mean_brightness(f) for f in frames]
        order.sort(key=lambda i: brightness[i])
        frames = [frames[i] for i in order]
    if settings.align:
        from .align import align_exposures, align_focus

        frames, motions = (align_exposures if task == "mef" else align_focus)(frames)
        notes.append("aligned: " + "; ".join(f"frame {i + 1} {m.describe()}" for i, m in enumerate(motions)))
    options = {}
    if settings.deghost or settings.deghost_reference is not None:
        options["deghost"] = _plan_deghost(task, name, frames, notes, settings.deghost_reference, order)
    expert_names: list[str] = []
    experts = None
    if learned:
        model = _cached_model(name, resolve_device(settings.device))
        if settings.prompt and not model.takes_prompt:
            notes.append(f"warning: model {name} takes no prompt; ignored")
        if not settings.prompt and model.takes_prompt:  # blind: it can over-correct a clean scene (MODEL_CARD)
            notes.append("no prompt: the model guesses what is degraded; naming it (--prompt) is more reliable")
        stats = None
        restorations = model.base_restorations(task, settings.prompt)
        ys = [luminance(as_float(f)) for f in frames]  # whole frames: restoration statistics and the classical base
        if restorations:
            stats = stack_restoration_stats(ys, restorations, task)
            notes.append("the prompt asks for " + ", ".join(model.describe_restorations(task, settings.prompt, stats)) + ": restored before the model's classical base")
        if denoises_colour(model, settings.prompt):
            notes.append("colour noise smoothed along the fused image's edges (a noise request)")
        base, reference = _whole_image_base(model, task, settings.prompt, ys, stats)
        del ys
        work = functools.partial(_learned_tile, model, task, settings, base, reference, stats)
        image = run_tiled(work, frames, settings.tile, settings.overlap, align=model.tile_alignment)
        if settings.routing:
            image, experts = image
            if experts.shape[-1]:
                expert_names = model.expert_names
        if task == "vif":
            image = _vif_colour(model, settings, image, frames[1], stats[1] if stats else None)
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
    shown = ZOO.get_name(name) if entry is not None else name
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
    if name not in FUSION_METHODS or FUSION_METHODS.canonical(name) != "exposure-fusion":  # or its alias mertens
        raise InputMismatchError(f"--deghost works with exposure-fusion; {name} does not deghost")
    if chosen is not None and not 0 <= chosen < len(frames):
        raise InputMismatchError(f"--deghost-reference {chosen + 1}: the bracket has {len(frames)} shots")
    plan = plan_deghost(frames, None if chosen is None else list(order).index(chosen))
    why = "the best exposed" if chosen is None else f"input {chosen + 1}, as asked"
    left_out = ", ".join(f"{share:.1%} of shot {k + 1}" for k, share in enumerate(plan.moving) if k != plan.reference)
    notes.append(f"deghosted against shot {plan.reference + 1} of {len(frames)} (dark to bright; {why}): left out where something moved, {left_out}")
    return plan


def read_frames(paths: Sequence[str | os.PathLike]) -> tuple[list[np.ndarray], list[ImageMeta]]:
    """Read files (a multi-page TIFF contributes all its pages) keeping 8/16-bit data as stored
    integers: a 24 MP RGB frame is 72 MB as uint8 against 288 MB as float32; tiles are
    converted to float one at a time."""
    def read(path) -> tuple[list[np.ndarray], list[ImageMeta]]:
        pages, meta = read_stack(path, keep_integers=True)  # one page unless a multi-page TIFF
        return pages, [meta] * len(pages)

    frames, metas = [], []
    with ThreadPoolExecutor(max(1, min(len(paths), cv2.getNumThreads()))) as pool:  # decoders release the GIL
        for pages, page_metas in pool.map(read, paths):
            frames += pages
            metas += page_metas
    return frames, metas


def fuse_files(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    settings: FuseSettings,
    *,
    bit_depth: int | None = None,
    overwrite: bool = False,
    boxes: str | os.PathLike | None = None,
    routing_map: str | os.PathLike | None = None,
    quality: int | None = None,
) -> FuseResult:
    """Read ``inputs``, fuse, write ``output`` atomically (bit depth follows the inputs;
    ``quality``: JPEG/WebP, see :func:`fusecli.io.encode_image`)."""
    output = Path(output)
    image_format(output)  # fail before the work, not after: an unknown extension
    check_output_free(output, overwrite)  # or an existing file
    frames, metas = read_frames(inputs)
    if boxes is not None:
        from .metrics.local import box_mask, find_boxes

        h, w = frames[1 - infrared_index(frames)].shape[:2] if settings.ir_warp is not None else frames[0].shape[:2]  # warp: visible pixels
        found = find_boxes(Path(boxes), Path(inputs[0]).stem, w, h)
        if found is None:
            raise InputMismatchError(f"{boxes}: no boxes for {Path(inputs[0]).stem}")
        settings = FuseSettings(**{**settings.__dict__, "foreground": box_mask((h, w), found).astype(np.float32)})
    if routing_map is not None:
        settings = FuseSettings(**{**settings.__dict__, "routing": True})
    result = fuse(frames, settings, names=frame_names(metas), release_inputs=True)  # a size mismatch named by file
    write_image(output, result.image, bit_depth=bit_depth, meta=output_meta(metas), overwrite=overwrite, inputs=inputs, quality=quality)
    if routing_map is not None:
        from .routing import render_routing_map

        picture = render_routing_map(result.image, result.frames, result.task, result.experts, result.expert_names)
        write_image(routing_map, picture, overwrite=overwrite, inputs=inputs)
    return result


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` if available, else ``mps``, else ``cpu``; explicit names are checked."""
    import torch

    name = name.lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputMismatchError("--device cuda: no CUDA device is available")
    return name

