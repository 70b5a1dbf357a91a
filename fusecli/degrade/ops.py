"""The eleven degradations of MMAIF's Table 2: their registry, shared helpers, and ``apply``.

The ops live in :mod:`fusecli.degrade.camera` (light, optics, sensor, codec) and
:mod:`fusecli.degrade.weather` (rain, snow, haze).

Every op is ``op(image, rng, params) -> image`` on float32 images in [0, 1], ``(H, W)`` or
``(H, W, 3)``, and is deterministic given ``rng`` and ``params``. Parameters are drawn by the
op's sampler for a level, ``heavy`` (used when one degradation is applied alone) or ``mild``
(two or three together), with the ranges of Table 2 (seed 000). Where the table is silent
(stripe strength, streak counts, airlight…) the choice is ours and documented at the sampler.

Textures that must be identical across the frames of a stack (rain streaks, snow flakes,
stripe patterns) are generated from a ``texture_seed`` stored in ``params``, so applying the
same params to every frame of a bracket gives the same weather, while sensor noise (drawn from
``rng``) stays independent per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from fusecli.registry import Registry

Image = np.ndarray
Params = dict
Op = Callable[[Image, np.random.Generator, Params], Image]
Sampler = Callable[[np.random.Generator, str], Params]

LEVELS = ("heavy", "mild")


@dataclass(frozen=True)
class Degradation:
    """A registered degradation: how to apply it, how to draw its parameters, where it acts.

    ``modality``: ``"any"`` (visible or infrared), ``"vis"`` (weather, light: what the
    visible camera sees) or ``"ir"`` (sensor artefacts of thermal cameras only).
    ``group``: ops of the same group are never combined (two weathers, two blurs…).
    ``order``: position in the physical imaging chain (scene -> light -> optics -> sensor -> codec).
    ``ir_effect``: what a weather op does to the infrared frame of a VIF pair (IR blur).
    """

    name: str
    apply: Op
    sample_params: Sampler
    modality: str
    group: str
    order: int
    description: str
    ir_effect: Op | None = None
    incompatible: tuple[str, ...] = field(default_factory=tuple)


DEGRADATIONS: Registry[Degradation] = Registry("degradation")


def _register(**kwargs) -> Callable[[Op], Op]:
    def decorate(fn: Op) -> Op:
        DEGRADATIONS.register(kwargs["name"], Degradation(apply=fn, **kwargs))
        return fn

    return decorate


# ----------------------------------------------------------------------------- helpers


def _uniform(rng: np.random.Generator, lo: float, hi: float, digits: int = 4) -> float:
    return round(float(rng.uniform(lo, hi)), digits)


def _odd_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An odd integer in [lo, hi] (kernel sizes)."""
    choices = np.arange(lo | 1, hi + 1, 2)
    return int(rng.choice(choices))


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")


def _clip(image: Image) -> Image:
    image = np.asarray(image, dtype=np.float32)
    return np.clip(image, 0.0, 1.0, out=image if image.flags.writeable else None)


def _luma(image: Image) -> Image:
    if image.ndim == 2:
        return image
    return image[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def gaussian_blur_image(image: Image, ksize: int, sigma: float) -> Image:
    ksize = max(1, int(ksize) | 1)
    return cv2.GaussianBlur(image, (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT)


def motion_kernel(ksize: int, angle: float, direction: float) -> np.ndarray:
    """A normalised line kernel of length ``ksize`` at ``angle`` degrees.

    ``direction`` in [-1, 1] weights the line towards one end (0 = uniform), like imgaug's
    MotionBlur which MMAIF's Table 2 parameters (angle 35, direction 0.5) come from.
    """
    ksize = max(3, int(ksize) | 1)
    weight_start = (direction + 1.0) / 2.0
    kernel = np.zeros((ksize, ksize), np.float32)
    kernel[:, ksize // 2] = np.linspace(weight_start, 1.0 - weight_start, ksize)
    rotation = cv2.getRotationMatrix2D(((ksize - 1) / 2, (ksize - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (ksize, ksize), flags=cv2.INTER_LINEAR)
    total = kernel.sum()
    return kernel / total if total > 0 else kernel


def _convolve(image: Image, kernel: np.ndarray) -> Image:
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def _per_channel(layer: Image, image: Image) -> Image:
    """Broadcast a (H, W) layer to the image's channels."""
    return layer if image.ndim == 2 else layer[..., None]


def _screen(image: Image, light: Image) -> Image:
    """Screen blend: adds light without exceeding 1 (how bright streaks/flakes combine)."""
    return 1.0 - (1.0 - image) * (1.0 - _per_channel(light, image))


def sample_params(name: str, rng: np.random.Generator, level: str) -> Params:
    """Draw parameters for degradation ``name`` at ``level`` (heavy or mild)."""
    return DEGRADATIONS.get(name).sample_params(rng, level)


def apply(name: str, image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Apply degradation ``name`` with ``params``; returns float32 of the same shape."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ValueError(f"expected a (H, W) or (H, W, 3) image, got shape {image.shape}")
    out = DEGRADATIONS.get(name).apply(image, rng, params)
    return out.reshape(image.shape).astype(np.float32)


# The ops register themselves on import, in imaging order (light, optics, sensor, codec, weather):
# the registry's order is the order they are listed and drawn in.
from fusecli.degrade import camera, weather  # noqa: E402, F401
