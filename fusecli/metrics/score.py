"""Scoring fused images: colour handling, regions, whole folders, aggregation.

``score_arrays`` is the library entry point for arrays; ``score_items`` reads files (in worker
processes when ``jobs > 1``) and never stops for one bad item.
"""

from __future__ import annotations

import importlib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import cv2
import numpy as np

from fusecli.batch import process_pool
from fusecli.errors import EmptyInputError, FusecliError, InputMismatchError
from fusecli.imaging.color import is_gray
from fusecli.imaging.infrared import display_infrared, infrared_index
from fusecli.imaging import as_float, frame_names, read_image, read_stack
from fusecli.batch.pairs import list_images, list_stacks, match_by_stem
from fusecli.geometry.registration import IrWarp, register_pair
from fusecli.geometry.warp_estimation import resolve_warp
from fusecli.metrics.conventions import STANDARD, Convention
from fusecli.metrics.functional import matlab_round
from fusecli.metrics.local import box_mask, find_boxes
from fusecli.metrics.table import METRICS, Inputs

log = logging.getLogger(__name__)

_MATLAB_GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
_BT601 = np.array([0.299, 0.587, 0.114])


def to_gray255(image: np.ndarray, mode: str = "bt601") -> np.ndarray:
    """``(H, W[, C])`` float in [0, 1] -> float64 gray on 0..255 per the convention's ``gray``."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        rgb = image[..., :3] * 255.0
        if mode == "matlab":  # rgb2gray on uint8 input: weights, then round to uint8
            return matlab_round(matlab_round(rgb) @ _MATLAB_GRAY)
        if mode == "matlab_double":  # rgb2gray on double input: MATLAB's weights, not rounded
            return matlab_round(rgb) @ _MATLAB_GRAY
        if mode == "round601":  # CDDFuse: cv2 BGR2GRAY on float32 pixels, then np.round
            bgr = np.ascontiguousarray(np.round(rgb[..., ::-1]).astype(np.float32))
            return np.round(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)).astype(np.float64)
        return rgb @ _BT601
    gray = image * 255.0
    return np.round(gray) if mode in ("matlab", "round601") else gray


def _channel255(image: np.ndarray, channel: int) -> np.ndarray:
    """One channel of a 0..1 colour image as float64 on 0..255, rounded (the stored 8-bit values)."""
    return np.round(np.asarray(image[..., channel], dtype=np.float64) * 255.0)


def _channel_views(fused: np.ndarray, sources: Sequence[np.ndarray], reference, conv: Convention, metric: str = ""):
    """The (fused, sources, reference) gray triples that ``metric`` is scored on: one per channel
    when the convention scores per channel, else one (see the convention's per-metric rules)."""
    def gray(x):
        return None if x is None else to_gray255(x, conv.gray)

    fused_rgb = fused.ndim == 3
    sources_gray = all(s.ndim == 2 for s in sources)
    if conv.per_channel and fused_rgb and metric not in conv.luminance_metrics:
        if conv.first_channel and sources_gray:
            first = to_gray255(fused, "matlab_double") if metric in conv.first_channel_luma_metrics else _channel255(fused, 0)
            return [(first, [gray(s) for s in sources], gray(reference))]
        views = []
        for c in range(3):
            pick = lambda x: None if x is None else (_channel255(x, c) if x.ndim == 3 else gray(x))  # noqa: E731
            views.append((pick(fused), [pick(s) for s in sources], pick(reference)))
        if metric in conv.side_by_side_metrics:
            return [(np.hstack([f for f, _, _ in views]), [], None)]
        return views
    return [(gray(fused), [gray(s) for s in sources], gray(reference))]


def score_arrays(
    fused: np.ndarray,
    sources: Sequence[np.ndarray] = (),
    metrics: Iterable[str] = ("EN",),
    *,
    convention: Convention = STANDARD,
    reference: np.ndarray | None = None,
    region: np.ndarray | None = None,
    weights: Mapping[str, Path] | None = None,
    names: tuple[str, Sequence[str]] | None = None,
) -> dict[str, float]:
    """Score one fused image (float in [0, 1], gray or RGB) against its sources.

    ``region``: optional boolean ``(H, W)`` mask; pixels outside it are set to 0 in every
    image before scoring (MoE-Fusion's local metrics). ``weights``: metric name -> weights
    file for the learned metrics (MUSIQ, CLIP-IQA). A metric that cannot be computed for
    this input (e.g. MS-SSIM on a small image) gives NaN and a logged warning. ``names``: what
    errors call the fused image and the sources (e.g. with their files).
    """
    specs = [METRICS.get(m) for m in metrics]
    shape = fused.shape[:2]
    fused_name, source_names = names or ("the fused image", [f"source {i}" for i in range(1, len(sources) + 1)])
    for name, s in zip(source_names, sources):
        if s.shape[:2] != shape:
            raise InputMismatchError(
                f"{name} is {s.shape[1]}x{s.shape[0]} but {fused_name} is {shape[1]}x{shape[0]}"
            )
    if reference is not None and reference.shape[:2] != shape:
        raise InputMismatchError("the reference image and the fused image differ in size")
    for spec in specs:
        if spec.needs == "sources" and len(sources) < 2:
            raise FusecliError(f"{spec.name} needs at least 2 source images")
        if spec.needs == "reference" and reference is None:
            raise FusecliError(f"{spec.name} needs a reference image (--reference)")
    color = np.asarray(fused, dtype=np.float32)
    keep = None if region is None else region.astype(np.float64)
    if region is not None:
        color = color * (region[..., None] if color.ndim == 3 else region)
    results: dict[str, float] = {}
    unreproduced = dict(convention.unreproduced)
    cached: dict[tuple[bool, ...], list] = {}  # the views depend on the metric only through the convention's rules
    for spec in specs:
        if spec.name in unreproduced:
            log.warning("%s under --preset %s: %s; scored NaN", spec.name, convention.name, unreproduced[spec.name])
            results[spec.name] = math.nan
            continue
        kind = tuple(spec.name in rule for rule in (
            convention.luminance_metrics, convention.first_channel_luma_metrics, convention.side_by_side_metrics
        ))
        if kind not in cached:
            views = _channel_views(fused, sources, reference, convention, spec.name)
            if keep is not None:
                views = [(f * keep, [s * keep for s in srcs], None if ref is None else ref * keep) for f, srcs, ref in views]
            cached[kind] = views
        views = cached[kind]
        values = []
        for f, srcs, ref in views[:1] if spec.learned else views:
            try:
                values.append(spec.compute(Inputs(f, srcs, ref, color, weights or {}), convention))
            except ValueError as exc:
                log.warning("%s: %s", spec.name, exc)
                values.append(math.nan)
        results[spec.name] = float(np.mean(values))
    return results


# ----------------------------------------------------------------------------- files


@dataclass(frozen=True)
class ScoreItem:
    """One fused file and what it is compared with."""

    name: str
    fused: Path
    sources: tuple[Path, ...] = ()
    reference: Path | None = None


@dataclass(frozen=True)
class ScoreOptions:
    metrics: tuple[str, ...]
    convention: Convention = STANDARD
    boxes: Path | None = None
    regions: tuple[str, ...] = ()  # "fg", "bg"
    weights: Mapping[str, Path] = field(default_factory=dict)  # learned metrics' weight files
    task: str | None = None  # None: VIF when the sources are one gray and one colour frame, as fuse infers
    ir_range: str = "auto"  # VIF: the infrared source as `fusecli fuse --ir-range` fused it ("auto", "stored")
    ir_warp: IrWarp | str | None = None  # VIF from a rig: the sources registered as `fusecli fuse --ir-warp` fused them ("auto": estimated again, the same way)


@dataclass
class ItemResult:
    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def _read_sources(
    paths: Sequence[Path], task: str | None = None, ir_range: str = "auto", ir_warp: IrWarp | str | None = None
) -> tuple[list[np.ndarray], list[str]]:
    """The source frames (a multi-page TIFF gives all its pages) and a name for each.
    A VIF pair's infrared is registered (``ir_warp``) and stretched (``ir_range``) as
    :func:`fusecli.fusion.fuse` does, so the sources are scored as the frames that were fused."""
    images, metas = [], []
    for path in paths:
        frames, meta = read_stack(path, keep_integers=True)
        images += [f[..., :3] if f.ndim == 3 else f for f in frames]
        metas += [meta] * len(frames)
    pair = len(images) == 2
    if ir_warp is not None:
        images, _ = register_pair(images, resolve_warp(ir_warp, images, task).matrix, task)
    if pair and (task == "vif" or ir_warp is not None or task is None and is_gray(images[0]) != is_gray(images[1])):
        index = infrared_index(images)
        images[index], _ = display_infrared(images[index], ir_range)
    return [as_float(f) for f in images], frame_names(metas)


def prepare_learned_metrics(names: Iterable[str], weights: Mapping[str, Path]) -> dict[str, Path]:
    """Find and load the weights of the learned metrics in ``names`` once, up front, so a
    missing or wrong file is one clear error before any scoring (not one per image).

    Returns metric name -> weights file for :class:`ScoreOptions`.
    """
    from fusecli.metrics.checkpoints import resolve_weights

    learned = [spec.name for _, spec in METRICS.items() if spec.learned]
    unknown = [k for k in weights if k.upper() not in {n.upper() for n in learned}]
    if unknown:
        raise FusecliError(f"--weights names a metric without weights: {', '.join(unknown)} (use {', '.join(learned)})")
    resolved: dict[str, Path] = {}
    for spec in (METRICS.get(n) for n in names):
        if spec.learned:
            impl = importlib.import_module(spec.learned)
            resolved[spec.name] = resolve_weights(spec.name, weights, impl.FILE_NAMES, impl.WHERE)
            impl.load(resolved[spec.name])
    return resolved


def score_item(item: ScoreItem, options: ScoreOptions) -> ItemResult:
    """Read and score one item; user errors become ``ItemResult.error``."""
    try:
        fused, _ = read_image(item.fused)
        fused = fused[..., :3] if fused.ndim == 3 else fused
        sources, source_names = _read_sources(item.sources, options.task, options.ir_range, options.ir_warp)
        names = (f"the fused image {item.fused}", source_names)
        reference = None
        if item.reference is not None:
            reference, _ = read_image(item.reference)
            reference = reference[..., :3] if reference.ndim == 3 else reference
        scores = score_arrays(
            fused, sources, options.metrics, convention=options.convention, reference=reference, weights=options.weights, names=names
        )
        if options.boxes is not None and options.regions:
            boxes = find_boxes(options.boxes, item.fused.stem, fused.shape[1], fused.shape[0])
            if boxes is None:
                raise FusecliError(f"no box labels for {item.fused.stem} in {options.boxes}")
            mask = box_mask(fused.shape[:2], boxes)
            for region in options.regions:
                keep = mask if region == "fg" else ~mask
                regional = score_arrays(
                    fused, sources, options.metrics, convention=options.convention, reference=reference, region=keep,
                    weights=options.weights,
                )
                scores.update({f"{k}@{region}": v for k, v in regional.items()})
        return ItemResult(item.name, scores)
    except FusecliError as exc:
        return ItemResult(item.name, error=str(exc))


def _score_one(args: tuple[ScoreItem, ScoreOptions]) -> ItemResult:
    import cv2

    cv2.setNumThreads(1)  # one process per core: no oversubscription
    return score_item(*args)


def score_items(items: Sequence[ScoreItem], options: ScoreOptions, jobs: int = 1, on_progress=None) -> list[ItemResult]:
    """Score every item (in ``jobs`` worker processes); results keep the input order."""
    results: list[ItemResult] = []
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            results.append(score_item(item, options))
            if on_progress:
                on_progress()
        return results
    with process_pool(jobs) as pool:
        for result in pool.map(_score_one, [(item, options) for item in items], chunksize=1):
            results.append(result)
            if on_progress:
                on_progress()
    return results


def collect_items(
    fused: Path,
    sources: Sequence[Path],
    reference: Path | None = None,
) -> tuple[list[ScoreItem], list[str]]:
    """Items for a file or a folder of fused images; returns items and unmatched-file warnings.

    Folders: ``sources`` are folders matched by file name (two or more), or one folder with a
    sub-folder (or multi-page TIFF) per scene named like the fused file (MEF stacks).
    """
    fused = Path(fused)
    if not fused.is_dir():
        return [ScoreItem(fused.stem, fused, tuple(Path(s) for s in sources), reference)], []
    if not sources:
        return [ScoreItem(p.stem, p, (), None) for p in list_images(fused)], []
    warnings: list[str] = []
    if len(sources) == 1:
        stacks = {s.name: s for s in list_stacks(sources[0], warnings)}
        items = []
        for path in list_images(fused):
            stack = stacks.get(path.stem)
            if stack is None:
                warnings.append(f"{path.name}: no stack named {path.stem!r} in {sources[0]}")
                continue
            items.append(ScoreItem(path.stem, path, stack.frames))
        unscored = sorted(set(stacks) - {item.name for item in items})
        if unscored:  # a scene the method failed on must not leave the mean in silence
            warnings.append(f"{len(unscored)} stack(s) in {sources[0]} have no fused image in {fused}: {', '.join(unscored[:10])}")
    else:
        matched = match_by_stem(fused, *sources)
        warnings += matched.describe_unmatched()
        items = [ScoreItem(stem, paths[0], tuple(paths[1:])) for stem, paths in matched.items]
    if reference is not None:
        refs = {p.stem: p for p in list_images(reference)}
        with_ref = []
        for item in items:
            if item.name not in refs:
                warnings.append(f"{item.name}: no reference image in {reference}")
                continue
            with_ref.append(ScoreItem(item.name, item.fused, item.sources, refs[item.name]))
        items = with_ref
    if not items:
        raise EmptyInputError(f"nothing to score in {fused}")
    return items, warnings


def summarize(results: Sequence[ItemResult]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation per metric over the items that scored (NaN ignored)."""
    names: list[str] = []
    for r in results:
        names += [k for k in r.metrics if k not in names]
    mean, std = {}, {}
    for name in names:
        values = np.array([r.metrics[name] for r in results if r.error is None and name in r.metrics], float)
        values = values[np.isfinite(values)]
        mean[name] = float(values.mean()) if values.size else math.nan
        std[name] = float(values.std()) if values.size else math.nan
    return mean, std
