"""Composing degradations for one sample: how many, which, where, in what order.

Rules (MMAIF supplement, section 3):

- ``n`` = 1, 2 or 3 degradations per sample; ``n = 1`` uses the heavy ranges, ``n >= 2`` mild.
- Never combined: two ops of the same group (two weathers, two blurs…) or a pair listed as
  incompatible (haze already lowers contrast, so not haze + low_contrast).
- VIF pairs (frames ``[ir, vis]``): weather (rain, haze, snow) and low exposure act on the
  visible frame, and the infrared frame gets the weather's IR blur; IR stripes hit only the
  infrared frame; the other ops (blur, noise, JPEG, low contrast, downsample) hit the visible
  frame, the infrared frame or both (drawn per sample, recorded in ``targets``).
- MEF / MFF stacks: every op hits every frame with the same parameters, so motion blur has
  the same direction and strength across the stack and the weather layer is the same; sensor
  noise is drawn independently per frame. IR stripes are never used.
- Ops run in the order of the imaging chain: scene (weather) -> light -> optics -> sensor -> codec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from fusecli.errors import FusecliError, InputMismatchError
from fusecli.degrade.ops import DEGRADATIONS, apply
from fusecli.degrade.prompts import make_prompt

TASKS = ("vif", "mef", "mff")
ASPECTS = {"1:1": 1.0, "3:4": 3 / 4, "4:3": 4 / 3, "16:9": 16 / 9, "9:16": 9 / 16}


@dataclass
class AppliedOp:
    """One degradation as applied to a sample (what the manifest records)."""

    name: str
    level: str
    params: dict
    targets: list[str]  # modalities or frame roles it was applied to ("vis", "ir", "all")
    ir_effect: bool = False  # VIF weather: the infrared frame got the IR blur

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "level": self.level,
            "params": self.params,
            "targets": self.targets,
            "ir_effect": self.ir_effect,
        }


@dataclass
class DegradedSample:
    """The result of :func:`sample`: degraded frames, their clean crops, ops and prompt."""

    task: str
    degraded: list[np.ndarray]
    clean: list[np.ndarray]
    ops: list[AppliedOp]
    prompt: str
    crop: dict | None = None
    seed: int | None = None
    extra: dict = field(default_factory=dict)


def available_ops(task: str) -> list[str]:
    """Degradations that make sense for ``task`` (IR stripes only exist in VIF)."""
    check_task(task)
    return [name for name in DEGRADATIONS if task == "vif" or DEGRADATIONS.get(name).modality != "ir"]


def check_task(task: str) -> None:
    if task not in TASKS:
        raise FusecliError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")


def compatible(names: Sequence[str]) -> bool:
    """True when no two of ``names`` share a group or are declared incompatible."""
    specs = [DEGRADATIONS.get(n) for n in names]
    groups = [s.group for s in specs]
    if len(set(groups)) != len(groups):
        return False
    return not any(other in spec.incompatible for spec in specs for other in names)


def choose_ops(rng: np.random.Generator, task: str, n: int, allowed: Sequence[str] | None = None) -> list[str]:
    """Draw ``n`` mutually compatible degradations for ``task`` (sorted in imaging order)."""
    pool = [name for name in (allowed or available_ops(task)) if name in available_ops(task)]
    if not 1 <= n <= 3:
        raise FusecliError(f"n must be 1, 2 or 3, not {n}")
    for _ in range(200):
        picked = [str(x) for x in rng.choice(pool, size=min(n, len(pool)), replace=False)]
        if len(picked) == n and compatible(picked):
            return order_ops(picked)
    raise FusecliError(f"cannot pick {n} compatible degradations from {', '.join(pool)}")


def order_ops(names: Sequence[str]) -> list[str]:
    return sorted(names, key=lambda n: DEGRADATIONS.get(n).order)


def _vif_targets(rng: np.random.Generator, name: str) -> list[str]:
    modality = DEGRADATIONS.get(name).modality
    if modality == "vis":
        return ["vis"]
    if modality == "ir":
        return ["ir"]
    if name == "motion_blur":
        return ["ir", "vis"]  # camera shake moves both sensors of a rig together
    return [["vis"], ["ir"], ["ir", "vis"]][int(rng.choice(3, p=[0.45, 0.2, 0.35]))]


def degrade_frames(
    frames: Sequence[np.ndarray],
    task: str,
    names: Sequence[str],
    rng: np.random.Generator,
    level: str | None = None,
    params: dict[str, dict] | None = None,
) -> tuple[list[np.ndarray], list[AppliedOp]]:
    """Apply ``names`` to ``frames`` following the task's modality rules.

    ``frames``: VIF ``[ir, vis]``; MEF/MFF the stack. ``level`` defaults to heavy for one op
    and mild for several. ``params`` may fix an op's parameters (else they are drawn).
    """
    check_task(task)
    if task == "vif" and len(frames) != 2:
        raise InputMismatchError(f"a VIF sample needs 2 frames [ir, vis], got {len(frames)}")
    if task != "vif" and len(frames) < 2:
        raise InputMismatchError(f"a {task.upper()} stack needs at least 2 frames, got {len(frames)}")
    names = order_ops(names)
    unknown = [n for n in names if n not in available_ops(task)]
    if unknown:
        raise FusecliError(f"{', '.join(unknown)} cannot be used for {task.upper()}")
    level = level or ("heavy" if len(names) == 1 else "mild")
    out = [np.asarray(f, np.float32) for f in frames]
    applied: list[AppliedOp] = []
    for name in names:
        spec = DEGRADATIONS.get(name)
        p = dict(params[name]) if params and name in params else spec.sample_params(rng, level)
        if task == "vif":
            targets = _vif_targets(rng, name)
            roles = {"ir": 0, "vis": 1}
            for role in targets:
                out[roles[role]] = apply(name, out[roles[role]], rng, p)
            ir_effect = spec.ir_effect is not None and "ir" not in targets
            if ir_effect:
                out[0] = spec.ir_effect(out[0], rng, p).reshape(out[0].shape)
            applied.append(AppliedOp(name, level, p, targets, ir_effect))
        else:
            out = [apply(name, frame, rng, p) for frame in out]
            applied.append(AppliedOp(name, level, p, ["all"]))
    return out, applied


def crop_box(shape: tuple[int, int], aspect: str, rng: np.random.Generator, min_scale: float = 0.6) -> tuple[int, int, int, int]:
    """A random ``(x, y, w, h)`` box of the given aspect ratio (w:h) inside an image."""
    if aspect not in ASPECTS:
        raise FusecliError(f"unknown aspect ratio {aspect!r}; choose from {', '.join(ASPECTS)}")
    h, w = shape
    ratio = ASPECTS[aspect]
    box_w, box_h = (w, w / ratio) if w / h < ratio else (h * ratio, h)  # largest box that fits
    scale = float(rng.uniform(min_scale, 1.0))
    box_w, box_h = max(1, int(box_w * scale)), max(1, int(box_h * scale))
    x = int(rng.integers(0, w - box_w + 1))
    y = int(rng.integers(0, h - box_h + 1))
    return x, y, box_w, box_h


def crop_frames(frames: Sequence[np.ndarray], box: tuple[int, int, int, int], size: int | None) -> list[np.ndarray]:
    """Crop every frame to ``box`` and resize so the long side is ``size`` (if given)."""
    x, y, w, h = box
    out = []
    for frame in frames:
        piece = frame[y : y + h, x : x + w]
        if size:
            scale = size / max(w, h)
            new = (max(1, round(w * scale)), max(1, round(h * scale)))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
            piece = np.clip(cv2.resize(piece, new, interpolation=interp), 0, 1).reshape(new[1], new[0], *piece.shape[2:])
        out.append(np.ascontiguousarray(piece, dtype=np.float32))
    return out


def resolve_ops(ops: Sequence[str]) -> list[str]:
    """Canonical names of ``ops`` in imaging order; raises if they cannot be combined."""
    names = order_ops([DEGRADATIONS.canonical(o) for o in ops])
    if not compatible(names):
        raise FusecliError(f"these degradations cannot be combined: {', '.join(names)}")
    return names


def degrade_image(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    ops: Sequence[str] | None = None,
    counts: Sequence[int] = (1, 2, 3),
    level: str | None = None,
) -> tuple[np.ndarray, list[AppliedOp], str]:
    """Degrade one image (no pair rules): ``ops``, or ops drawn with a count from ``counts``.

    ``image``: ``(H, W)``, ``(H, W, 3)`` or RGBA (alpha is kept untouched), float in [0, 1].
    Returns the degraded image, the ops with their parameters, and the prompt.
    """
    alpha = None
    if image.ndim == 3 and image.shape[2] == 4:
        image, alpha = image[..., :3], image[..., 3:]
    names = resolve_ops(ops) if ops else choose_ops(rng, "vif", int(rng.choice(list(counts))))
    chosen = level or ("heavy" if len(names) == 1 else "mild")
    applied = []
    for name in names:
        params = DEGRADATIONS.get(name).sample_params(rng, chosen)
        image = apply(name, image, rng, params)
        applied.append(AppliedOp(name, chosen, params, ["image"]))
    if alpha is not None:
        image = np.concatenate([image, alpha], axis=2)
    return image, applied, make_prompt(applied, rng)


def check_same_size(frames: Sequence[np.ndarray], names: Sequence[str] | None = None) -> None:
    sizes = {f.shape[:2] for f in frames}
    if len(sizes) > 1:
        what = ", ".join(f"{n}: {f.shape[1]}x{f.shape[0]}" for n, f in zip(names or range(len(frames)), frames))
        raise InputMismatchError(f"frames of one sample must have the same size ({what})")


def sample(
    frames: Sequence[np.ndarray],
    task: str,
    rng: np.random.Generator | int,
    *,
    n: int | Sequence[int] = (1, 2, 3),
    ops: Sequence[str] | None = None,
    allowed: Sequence[str] | None = None,
    level: str | None = None,
    aspect: str | Sequence[str] | None = None,
    size: int | None = None,
    prompt_task: bool | None = None,
) -> DegradedSample:
    """Make one degraded training sample on the fly (no disk): the library's main entry point.

    ``frames``: float32 images in [0, 1] — VIF ``[ir, vis]``, MEF/MFF the stack, all the
    same size. ``n``: a count or the counts to draw from; ``ops`` fixes the degradations;
    ``allowed`` restricts the pool. ``aspect``/``size`` crop first (aspect ratio w:h, long side
    in pixels). Returns degraded and clean (cropped) frames, the ops with their parameters and
    a prompt saying what to fix. Deterministic given ``rng`` (a Generator or a seed).
    """
    check_task(task)
    seed = rng if isinstance(rng, int) else None
    rng = np.random.default_rng(rng) if isinstance(rng, int) else rng
    frames = [np.asarray(f, np.float32) for f in frames]
    check_same_size(frames)
    crop = None
    if aspect is not None or size is not None:
        choices = [aspect] if isinstance(aspect, str) else list(aspect or ["1:1", "3:4", "4:3", "16:9", "9:16"])
        chosen = str(rng.choice(choices))
        box = crop_box(frames[0].shape[:2], chosen, rng)
        frames = crop_frames(frames, box, size)
        crop = {"aspect": chosen, "box": list(box), "size": size}
    if ops is None:
        counts = [n] if isinstance(n, int) else list(n)
        count = int(rng.choice(counts))
        names = choose_ops(rng, task, count, allowed)
    else:
        names = resolve_ops(ops)
    degraded, applied = degrade_frames(frames, task, names, rng, level)
    mention_task = bool(rng.random() < 0.3) if prompt_task is None else prompt_task
    prompt = make_prompt(applied, rng, task=task if mention_task else None)
    return DegradedSample(task, degraded, frames, applied, prompt, crop, seed)
