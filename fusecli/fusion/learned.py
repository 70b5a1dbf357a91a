"""Fusion with a network: the model cache, its classical stage on the whole image, and its tiles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import copy
import functools
import logging
import os
import threading
from contextlib import contextmanager

import numpy as np

from fusecli.imaging.color import luminance, stretch_chroma, ycbcr_to_rgb
from fusecli.errors import InputMismatchError
from fusecli.imaging import as_float
from fusecli.restore import chroma_gain, degradations_in_prompt, tone_requests

from fusecli.fusion.colour import blend_chroma, tone_colour_gain, tone_reference
from fusecli.fusion.colour import vif_colour
from fusecli.fusion.tiling import run_tiled
from fusecli.restore import stack_restoration_stats

if TYPE_CHECKING:
    from fusecli.fusion.pipeline import FuseSettings

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def cached_model(name: str, device: str):
    from fusecli.models.weights import load_model  # imports torch: only when a network is used

    return load_model(name, device)


def denoises_colour(model, prompt: str | None) -> bool:
    """Whether the inputs' chroma is denoised too: a noise request to a model that reads prompts
    (sensor noise is per RGB channel, so in Cb/Cr as well, which a luminance model never sees)."""
    return bool(model.takes_prompt) and "gaussian_noise" in degradations_in_prompt(prompt)


def whole_image_base(stage, task: str, prompt: str | None, ys: list[np.ndarray], stats: list | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """For a model with a classical ``stage`` (:class:`fusecli.restore.stage.ClassicalStage`, or
    None) whose base is a classical fusion (of the frames' luminances ``ys``, restored for
    the ``prompt`` with the whole image's ``stats``): that ``(H, W)`` base of the whole image and, for an MEF / MFF
    request to brighten or dehaze, the plain fusion its chroma is measured against
    (:func:`tone_reference`); (None, None) otherwise. Fused once, before the tiles, which take
    crops: exposure fusion's pyramid spans the whole frame, so a tile's own fusion would differ."""
    import torch

    method = None if stage is None else stage.method(task)
    if not method:
        return None, None
    with torch.inference_mode():
        base = stage.fuse_base(torch.from_numpy(np.stack(ys))[None, :, None], task, prompts=[prompt], stats=None if stats is None else [stats])
    reference = tone_reference(method, ys, stats) if task != "vif" and tone_requests(prompt) else None
    return base[0, 0].float().cpu().numpy(), reference


def learned_tile(
    model, task: str, settings: "FuseSettings", base: np.ndarray | None, reference: np.ndarray | None, stats: list | None,
    frames: list[np.ndarray], where: tuple[slice, slice],
):
    """Fused tile (VIF: its luminance, coloured after the tiles by :func:`vif_colour`), or
    ``(fused, (H, W, E) expert weights)`` with ``settings.routing``; ``base``, ``reference``
    (:func:`whole_image_base`) and ``stats``: the whole image's classical base, tone reference and
    restoration statistics, for a model whose base is a classical fusion (of restored frames)."""
    import torch

    from fusecli.models.base import FuseOptions, fuse_padded
    from fusecli.restore.stage import evidence

    frames = [as_float(f) for f in frames]
    ys = np.stack([luminance(f) for f in frames])
    device = next(model.parameters()).device
    x = torch.from_numpy(ys)[None, :, None].to(device)
    foreground = None
    if settings.foreground is not None:
        foreground = torch.from_numpy(np.ascontiguousarray(settings.foreground[where], np.float32))[None, None].to(device)
    generator = torch.Generator(device=device).manual_seed(settings.seed + 7919 * where[0].start + where[1].start)
    given = None if base is None else torch.from_numpy(np.ascontiguousarray(base[where]))[None, None].to(device)
    options = FuseOptions(task=task, prompt=settings.prompt, steps=settings.steps, sampler=settings.sampler, gamma=settings.gamma, generator=generator, foreground=foreground, base=given)
    if base is not None:  # a model with a classical stage: its gate reads what the prompt names
        options.evidence = evidence([settings.prompt], device)
    with torch.inference_mode():
        result = fuse_padded(model, x, options)
    y = result.image[0, 0].float().cpu().numpy()
    if task == "vif":
        image = y  # coloured once for the whole image (vif_colour): its gain is one number
    else:
        gains = [chroma_gain(frame) for frame in stats] if stats else [1.0] * len(frames)  # the colours of a contrast restoration
        chroma = blend_chroma(frames, gains, y if denoises_colour(model, settings.prompt) else None)
        requests = tone_requests(settings.prompt)
        if chroma is not None and reference is not None and requests:
            chroma = stretch_chroma(chroma, tone_colour_gain(requests, y, reference[where]))
        image = y if chroma is None else ycbcr_to_rgb(np.concatenate([y[..., None], chroma], axis=2))
    if not settings.routing:
        return image
    experts = result.maps.get("experts")
    if experts is None:  # not a mixture-of-experts model: no expert channels
        return image, np.zeros((*y.shape, 0), np.float32)
    return image, experts[0].float().permute(1, 2, 0).cpu().numpy()


def _per_thread(model):
    """A function giving each calling thread its own copy of ``model``: a network keeps state of
    its last call on its modules (gate values, expert routing), which tiles fused at the same time
    would otherwise overwrite in each other's middle."""
    local = threading.local()

    def get():
        if not hasattr(local, "model"):
            local.model = copy.deepcopy(model)
        return local.model

    return get


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


def fuse_learned(name: str, task: str, frames: list[np.ndarray], settings: "FuseSettings", notes: list[str]) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Fuse ``frames`` with the network ``name`` on one torch thread per call (:func:`one_torch_thread`),
    the image's tiles ``settings.workers`` at a time: see :func:`_fuse_learned`."""
    with one_torch_thread():
        return _fuse_learned(name, task, frames, settings, notes)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Torch's ops on one thread within the block. Why: oneDNN's convolutions give results that
    differ in the last bits with the number of threads, which a few 8-bit pixels show, so a batch's
    bytes would depend on ``--jobs``; parallel tiles (:func:`fusecli.fusion.tiling.run_tiled`) take
    the cores instead."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _fuse_learned(name: str, task: str, frames: list[np.ndarray], settings: "FuseSettings", notes: list[str]) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Fuse ``frames`` (as checked and ordered by :func:`fusecli.fusion.fuse`) with the network
    ``name`` (a catalog name or a weights file): the classical stage on the whole image, then the
    network in tiles, then colour. Returns the image, the ``(H, W, E)`` expert weights
    (``settings.routing``) and their names; adds what was done to ``notes``."""
    from fusecli.restore.stage import ClassicalStage

    expert_names: list[str] = []
    experts = None
    model = cached_model(name, resolve_device(settings.device))
    if settings.prompt and not model.takes_prompt:
        notes.append(f"warning: model {name} takes no prompt; ignored")
    if not settings.prompt and model.takes_prompt:  # blind: it can over-correct a clean scene (docs/models.md)
        notes.append("no prompt: the model guesses what is degraded; naming it (--prompt) is more reliable")
    text = getattr(model, "text", None)
    unknown = text.tokenizer.unknown(settings.prompt) if settings.prompt and model.takes_prompt and text is not None else []
    if unknown:  # read, but as shared ids that mean little: say so, rather than let the request fail quietly
        notes.append(f"the model has not learned the words {', '.join(map(repr, unknown))} of the prompt; plain words "
                     "for the degradation (dark, noise, rain, haze, blur...) are read more reliably")
    stats = None
    stage = ClassicalStage.of(model)
    restorations = stage.restorations(task, settings.prompt) if stage is not None else []
    ys = [luminance(as_float(f)) for f in frames]  # whole frames: restoration statistics and the classical base
    if restorations:
        stats = stack_restoration_stats(ys, restorations, task)
        notes.append("the prompt asks for " + ", ".join(stage.describe(task, settings.prompt, stats)) + ": restored before the model's classical base")
    if denoises_colour(model, settings.prompt):
        notes.append("colour noise smoothed along the fused image's edges (a noise request)")
    base, reference = whole_image_base(stage, task, settings.prompt, ys, stats)
    del ys
    workers = settings.workers or os.cpu_count() or 1
    per_thread = _per_thread(model) if workers > 1 else (lambda: model)
    work = lambda tile_frames, where: learned_tile(per_thread(), task, settings, base, reference, stats, tile_frames, where)  # noqa: E731
    image = run_tiled(work, frames, settings.tile, settings.overlap, align=model.tile_alignment, workers=workers)
    if settings.routing:
        image, experts = image
        if experts.shape[-1]:
            expert_names = model.expert_names
    if task == "vif":
        image = vif_colour(image, frames[1], stats[1] if stats else None, settings.prompt, denoises_colour(model, settings.prompt))
    return image, experts, expert_names


def fuse_network(model, frames, options, stats=None):
    """A network on ``(B, N, 1, H, W)`` frames in 0..1 at any size: its classical stage first
    (:func:`fusecli.restore.stage.prepare`; ``stats``: the whole image's restoration statistics
    per frame), then :func:`fusecli.models.base.fuse_padded`. Returns its ``FusionResult``."""
    from fusecli.models.base import fuse_padded
    from fusecli.restore.stage import prepare

    return fuse_padded(model, frames, prepare(model, frames, options, stats))
