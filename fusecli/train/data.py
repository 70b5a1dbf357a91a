"""Training data: real scenes from folders, random crops, on-the-fly degradation, teacher targets.

Every sample is a pure function of ``(seed, step, rank, k)`` — no iterator state — so a run
that is killed and resumed sees exactly the same batches, and data-parallel ranks draw
disjoint samples (the rank is part of the key) without a sampler object to keep in sync.

Images are kept in memory as float16 luminance (the models fuse luminance; colour is put
back by :mod:`fusecli.imaging.color` at fusion time), downscaled to ``data.max_side``.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from fusecli.imaging.color import luminance
from fusecli.degrade.pipeline import sample as degrade_sample
from fusecli.errors import EmptyInputError
from fusecli.imaging.infrared import display_infrared
from fusecli.imaging import as_float, read_stack
from fusecli.batch.pairs import list_images, list_stacks, match_by_stem
from fusecli.restore import RestoreStats, degradations_in_prompt, stack_restoration_stats
from fusecli.train.config import ConfigError, TrainConfig
from fusecli.train.synthetic_focus import defocus_pair, sharpest_frame

log = logging.getLogger(__name__)

IR_NAMES = ("ir", "IR", "infrared", "Infrared", "inf")
VIS_NAMES = ("vi", "vis", "VI", "visible", "Visible")


@dataclass
class Scene:
    """One training scene: luminance frames (VIF: infrared, visible; MEF/MFF: the stack)."""

    task: str
    name: str
    frames: list[np.ndarray]  # (H, W) float16 in 0..1
    synthetic: bool = False  # one sharp photo: MFF pairs are synthesised from it (synthetic_focus)


@dataclass
class Batch:
    """What a training step or a validation item consumes.

    ``sources``: ``(B, N, 1, H, W)`` model inputs (degraded when degradation is on);
    ``clean``: the same frames before degradation; ``target``: ``(B, 1, H, W)`` teacher fusion
    of the clean frames (or ``None``); ``prompts``: one text or ``None`` per sample;
    ``restore_stats``: per sample, per frame, the whole degraded frame's restoration statistics
    (``degrade.whole_frames``; ``None``: a base restoring the frames takes them from the crop).
    """

    task: str
    sources: Tensor
    clean: Tensor
    target: Tensor | None
    prompts: list[str | None]
    restore_stats: list[list[RestoreStats]] | None = None

    def to(self, device: torch.device | str) -> "Batch":
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(self.task, move(self.sources), move(self.clean), move(self.target), self.prompts, self.restore_stats)


def _find_child(folder: Path, names: Sequence[str]) -> Path | None:
    for name in names:
        if (folder / name).is_dir():
            return folder / name
    return None


def _load_luma(paths: Sequence[Path], max_side: int, infrared: bool = False) -> list[np.ndarray]:
    """The frames' luminance at ``max_side`` px or less, float16. ``infrared``: the first frame is
    a VIF infrared, stretched as `fusecli fuse` stretches raw 16-bit counts (the model must
    train on the frames it will be given)."""
    frames: list[np.ndarray] = []
    for path in paths:
        frames.extend(read_stack(path, keep_integers=True)[0])  # a multi-page TIFF, or one image
    if infrared:
        frames[0], _ = display_infrared(frames[0])
    out = []
    for image in map(as_float, frames):
        y = luminance(image) if image.ndim == 3 else image
        h, w = y.shape
        scale = max_side / max(h, w)
        if scale < 1:
            y = cv2.resize(y, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        out.append(np.clip(y, 0, 1).astype(np.float16))
    shapes = {f.shape for f in out}
    if len(shapes) > 1:
        raise ValueError(f"frames differ in size: {sorted(shapes)}")
    return out


def discover(task: str, folder: Path) -> list[tuple[str, list[Path]]]:
    """``(scene name, frame files)`` for one data folder of ``task``."""
    if not folder.is_dir():
        raise ConfigError(f"data folder not found: {folder}")
    found: list[tuple[str, list[Path]]] = []
    if task == "vif":
        ir, vis = _find_child(folder, IR_NAMES), _find_child(folder, VIS_NAMES)
        if ir is None or vis is None:
            raise ConfigError(f"{folder}: expected ir/ and vi/ (or vis/, visible/) sub-folders of matching files")
        matched = match_by_stem(ir, vis)
        for line in matched.describe_unmatched():
            log.warning("%s", line)
        found = [(f"{folder.name}/{stem}", list(paths)) for stem, paths in matched.items]
    elif task == "mef":
        skipped: list[str] = []
        found = [(f"{folder.name}/{s.name}", list(s.frames)) for s in list_stacks(folder, skipped)]
        for line in skipped:
            log.warning("%s", line)
    else:
        a, b = folder / "A", folder / "B"
        if a.is_dir() and b.is_dir():
            found += [(f"{folder.name}/{stem}", list(paths)) for stem, paths in match_by_stem(a, b).items]
        if (folder / "stacks").is_dir():
            found += [(f"{folder.name}/stacks/{s.name}", list(s.frames)) for s in list_stacks(folder / "stacks")]
        if not found:
            raise ConfigError(f"{folder}: expected A/ and B/ sub-folders of matching files and/or stacks/")
    return found


def discover_sharp(folder: Path) -> list[tuple[str, list[Path]]]:
    """Sharp photos for synthetic MFF pairs: each image directly in ``folder``, or, for a folder
    of stacks (e.g. MEF scenes), each stack (its best-exposed frame is used)."""
    if not folder.is_dir():
        raise ConfigError(f"data folder not found: {folder}")
    images = list_images(folder, required=False)
    if images:
        return [(f"{folder.name}/{p.stem}", [p]) for p in images]
    return [(f"{folder.name}/{s.name}", list(s.frames)) for s in list_stacks(folder)]


def is_validation(name: str, fraction: float) -> bool:
    """Scene-level split from the scene name alone (stable across machines and runs)."""
    return (zlib.crc32(name.encode("utf-8")) % 10_000) < fraction * 10_000


def load_scenes(config: TrainConfig) -> tuple[list[Scene], list[Scene]]:
    """Read every configured folder; returns (train, validation) scenes. Bad files are skipped with a warning."""
    train: list[Scene] = []
    val: list[Scene] = []
    for task in config.tasks:
        folders = getattr(config.data, task)
        if not folders and not (task == "mff" and config.data.focus_synthetic):
            raise ConfigError(f"task {task} has no data folders (data.{task} = [...])")
        for folder in folders:
            for name, paths in discover(task, config.path(folder)):
                try:
                    frames = _load_luma(paths, config.data.max_side, infrared=task == "vif")
                except Exception as exc:  # one bad scene must not stop a training run
                    log.warning("skipping %s: %s", name, exc)
                    continue
                if len(frames) < 2:
                    log.warning("skipping %s: fewer than 2 frames", name)
                    continue
                scene = Scene(task, name, frames)
                (val if is_validation(name, config.data.val_fraction) else train).append(scene)
    for folder in config.data.focus_synthetic:
        for name, paths in discover_sharp(config.path(folder)):
            if is_validation(name, config.data.val_fraction):
                continue  # held out for whichever model validates on this scene
            try:
                frames = _load_luma(paths, config.data.max_side)
            except Exception as exc:
                log.warning("skipping %s: %s", name, exc)
                continue
            train.append(Scene("mff", f"synthetic:{name}", [sharpest_frame(frames)], synthetic=True))
    for task in config.tasks:
        if not any(s.task == task for s in train):
            raise EmptyInputError(f"no training scenes for task {task} (all held out or unreadable)")
    return train, val


# ------------------------------------------------------------------------------ sampling

Teacher = Callable[[str, list[np.ndarray]], np.ndarray]


def _crop(frames: list[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    h, w = frames[0].shape
    if min(h, w) < size:
        scale = size / min(h, w)
        new = (max(size, round(w * scale)), max(size, round(h * scale)))
        frames = [cv2.resize(f.astype(np.float32), new, interpolation=cv2.INTER_LINEAR) for f in frames]
        h, w = frames[0].shape
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    out = [f[y : y + size, x : x + size].astype(np.float32) for f in frames]
    if rng.random() < 0.5:
        out = [f[:, ::-1] for f in out]
    if rng.random() < 0.5:
        out = [f[::-1] for f in out]
    return [np.ascontiguousarray(f) for f in out]


def _pick_frames(frames: list[np.ndarray], n: int, rng: np.random.Generator) -> list[np.ndarray]:
    if len(frames) == n:
        return list(frames)
    keep = np.sort(rng.choice(len(frames), size=n, replace=False))
    return [frames[i] for i in keep]


def full_range(frames: Sequence[np.ndarray], task: str) -> list[np.ndarray]:
    """``(H, W)`` frames in 0..1 stretched linearly so the 1st..99th percentile spans 0..1 (clipped):
    each VIF frame alone (two sensors), MEF/MFF frames with one map (one scene's radiometry)."""
    groups = [[f] for f in frames] if task == "vif" else [list(frames)]
    out = []
    for group in groups:
        lo, hi = np.quantile(np.stack(group), [0.01, 0.99])
        out += [np.clip((np.asarray(f, np.float32) - lo) / max(hi - lo, 1e-3), 0, 1).astype(np.float32) for f in group]
    return out


def camera_jitter(frames: Sequence[np.ndarray], task: str, rng: np.random.Generator) -> list[np.ndarray]:
    """``(H, W)`` frames in 0..1 as other cameras might give them: each VIF frame its own gain
    (0.5..1.6) and gamma (0.6..1.6), and the infrared black-hot (inverted) one time in four;
    MEF/MFF frames one response for the stack (its exposures and focus must stay as they are)."""
    def response() -> Callable[[np.ndarray], np.ndarray]:
        gain, gamma = rng.uniform(0.5, 1.6), np.exp(rng.uniform(np.log(0.6), np.log(1.6)))
        return lambda frame: np.clip(np.clip(frame, 0, 1) ** gamma * gain, 0, 1).astype(np.float32)

    if task != "vif":
        camera = response()
        return [camera(f) for f in frames]
    out = [response()(f) for f in frames]
    if rng.random() < 0.25:
        out[0] = (1 - out[0]).astype(np.float32)
    return out


def choose_task(config: TrainConfig, rng: np.random.Generator) -> str:
    weights = np.array([float(config.data.task_weights.get(t, 1.0)) for t in config.tasks])
    return str(config.tasks[int(rng.choice(len(config.tasks), p=weights / weights.sum()))])


def make_batch(
    scenes: Sequence[Scene], config: TrainConfig, step: int, rank: int = 0, teacher: Teacher | None = None
) -> Batch:
    """The batch of ``step`` for ``rank``: one task and frame count per batch (a model call
    fuses a fixed number of frames), per-sample crops, flips, degradations and prompts."""
    rng = np.random.default_rng([config.seed, step, rank])
    task = choose_task(config, rng)
    pool = [s for s in scenes if s.task == task and not s.synthetic]
    synthetic = [s for s in scenes if s.task == task and s.synthetic]
    if synthetic and (not pool or rng.random() < config.data.focus_synthetic_fraction):
        return _synthetic_focus_batch(synthetic, config, step, rank)
    if task == "vif":
        n = 2
    else:
        counts = [c for c in range(2, config.data.max_frames + 1) if any(len(s.frames) >= c for s in pool)]
        n = int(rng.choice(counts))
        pool = [s for s in pool if len(s.frames) >= n]
    sources, clean, targets, prompts, stats = [], [], [], [], []
    whole = config.degrade.whole_frames
    for k in range(config.data.batch):
        r = np.random.default_rng([config.seed, step, rank, k])
        scene = pool[int(r.integers(len(pool)))]
        frames = _pick_frames(scene.frames, n, r)
        frames = [f.astype(np.float32) for f in frames] if whole else _crop(frames, config.data.crop, r)
        if config.data.camera_jitter and np.random.default_rng([config.seed, step, rank, k, 2]).random() < config.data.camera_jitter:
            frames = camera_jitter(frames, task, np.random.default_rng([config.seed, step, rank, k, 3]))
        degraded, prompt = frames, None
        if config.degrade.enabled and r.random() >= config.degrade.clean_fraction:
            drawn = r.bit_generator.state
            made = degrade_sample(frames, task, r, n=config.degrade.n, allowed=config.degrade.allowed or None)
            full = config.degrade.full_range_fraction
            if full > 0 and any(op.name == "low_contrast" for op in made.ops) and np.random.default_rng([config.seed, step, rank, k, 1]).random() < full:
                frames = full_range(frames, task)  # the same draws again (own coin), on full-range clean frames
                r.bit_generator.state = drawn
                made = degrade_sample(frames, task, r, n=config.degrade.n, allowed=config.degrade.allowed or None)
            degraded, prompt = [np.asarray(f, np.float32) for f in made.degraded], made.prompt
        if whole:  # one crop window for the clean and the degraded frames
            stats.append(stack_restoration_stats(degraded, degradations_in_prompt(prompt), task))
            both = _crop(list(frames) + list(degraded), config.data.crop, r)
            frames, degraded = both[:n], both[n:]
        sources.append(np.stack(degraded))
        clean.append(np.stack(frames))
        prompts.append(prompt)
        if teacher is not None:
            targets.append(teacher(task, frames))
    as_tensor = lambda arrays: torch.from_numpy(np.clip(np.stack(arrays), 0, 1).astype(np.float32))  # noqa: E731
    target = as_tensor(targets)[:, None] if targets else None
    return Batch(task, as_tensor(sources)[:, :, None], as_tensor(clean)[:, :, None], target, prompts, stats if whole else None)


class _StepBatches(torch.utils.data.Dataset):
    """Batch ``start + i`` for a DataLoader's workers (a batch is a function of its step)."""

    def __init__(self, scenes: Sequence[Scene], config: TrainConfig, start: int, rank: int, teacher: Teacher | None):
        self.scenes, self.config, self.start, self.rank, self.teacher = scenes, config, start, rank, teacher

    def __len__(self) -> int:
        return max(0, self.config.steps - self.start)

    def __getitem__(self, index: int) -> Batch:
        return make_batch(self.scenes, self.config, self.start + index, self.rank, self.teacher)


def _as_is(batch: Batch) -> Batch:
    return batch


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # the workers share the cores; one thread each
    cv2.setNumThreads(1)


def batch_stream(
    scenes: Sequence[Scene], config: TrainConfig, start: int, rank: int = 0, teacher: Teacher | None = None
) -> Iterator[Batch]:
    """The batches of steps ``start..config.steps - 1`` in order, made by ``data.workers``
    background processes ahead of the training step (or here when it is 0)."""
    if config.data.workers <= 0:
        return (make_batch(scenes, config, step, rank, teacher) for step in range(start, config.steps))
    loader = torch.utils.data.DataLoader(
        _StepBatches(scenes, config, start, rank, teacher), batch_size=None, shuffle=False,
        num_workers=config.data.workers, worker_init_fn=_one_thread, prefetch_factor=4,
        collate_fn=_as_is, multiprocessing_context="spawn",  # fork can deadlock OpenCV's/OpenMP's thread pools
    )
    return iter(loader)


def _synthetic_focus_batch(scenes: Sequence[Scene], config: TrainConfig, step: int, rank: int) -> Batch:
    """MFF pairs made from sharp photos (:mod:`.synthetic_focus`): target = the sharp crop."""
    sources, targets = [], []
    for k in range(config.data.batch):
        r = np.random.default_rng([config.seed, step, rank, k])
        sharp = _crop(scenes[int(r.integers(len(scenes)))].frames, config.data.crop, r)[0]
        near, far, _ = defocus_pair(sharp, r)
        sources.append(np.stack([near, far] if r.random() < 0.5 else [far, near]))
        targets.append(sharp)
    pairs = torch.from_numpy(np.stack(sources))[:, :, None]
    return Batch("mff", pairs, pairs, torch.from_numpy(np.stack(targets))[:, None], [None] * len(targets))


def _resize_long(frame: np.ndarray, size: int, multiple: int) -> np.ndarray:
    h, w = frame.shape
    scale = min(1.0, size / max(h, w))
    nh, nw = max(multiple, round(h * scale / multiple) * multiple), max(multiple, round(w * scale / multiple) * multiple)
    return cv2.resize(frame.astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA)


def validation_items(
    scenes: Sequence[Scene], config: TrainConfig, multiple: int, teacher: Teacher | None = None
) -> list[tuple[str, Batch]]:
    """Fixed validation items: up to ``validation.items`` held-out scenes spread over the tasks,
    resized to ``validation.size``; degraded with ``validation.seed`` (not the training seed) per
    scene when degradation is on, so every run with the same data is scored on the same items."""
    per_task = {t: [s for s in scenes if s.task == t] for t in config.tasks}
    chosen: list[Scene] = []
    while len(chosen) < config.validation.items and any(per_task.values()):
        for task in config.tasks:
            if per_task[task] and len(chosen) < config.validation.items:
                chosen.append(per_task[task].pop(0))
    items = []
    for index, scene in enumerate(chosen):
        r = np.random.default_rng([config.validation.seed, 10**9, index])
        n = 2 if scene.task == "vif" else min(len(scene.frames), config.data.max_frames)
        frames = scene.frames if len(scene.frames) == n else [scene.frames[i] for i in np.linspace(0, len(scene.frames) - 1, n).round().astype(int)]
        frames = [_resize_long(f, config.validation.size, multiple) for f in frames]
        degraded, prompt = frames, None
        if config.degrade.enabled:
            made = degrade_sample(frames, scene.task, r, n=config.degrade.n, allowed=config.degrade.allowed or None)
            degraded, prompt = [np.asarray(f, np.float32) for f in made.degraded], made.prompt
        target = None if teacher is None else torch.from_numpy(np.clip(teacher(scene.task, frames), 0, 1).astype(np.float32))[None, None]
        stack = lambda fs: torch.from_numpy(np.clip(np.stack(fs), 0, 1).astype(np.float32))[None, :, None]  # noqa: E731
        items.append((scene.name, Batch(scene.task, stack(degraded), stack(frames), target, [prompt])))
    return items
