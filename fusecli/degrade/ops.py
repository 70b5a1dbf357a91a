"""The eleven degradations of MMAIF's Table 2, one function each.

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

import math
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from ..registry import Registry

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


# ----------------------------------------------------------------------------- light


def _uniform_sampler(key: str, heavy: tuple[float, float], mild: tuple[float, float]) -> Sampler:
    """A sampler drawing one parameter uniformly from the level's Table 2 range."""

    def sample(rng: np.random.Generator, level: str) -> Params:
        _check_level(level)
        lo, hi = heavy if level == "heavy" else mild
        return {key: _uniform(rng, lo, hi)}

    return sample


_low_exposure_params = _uniform_sampler("brightness", heavy=(0.3, 0.6), mild=(0.5, 0.8))
_low_contrast_params = _uniform_sampler("contrast", heavy=(0.3, 0.8), mild=(0.5, 0.8))


@_register(
    name="low_exposure",
    sample_params=_low_exposure_params,
    modality="vis",
    group="exposure",
    order=20,
    description="scale brightness down (underexposure / low light)",
)
def low_exposure(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Multiply intensities by ``brightness`` (Table 2: heavy [0.3, 0.6], mild [0.5, 0.8])."""
    return _clip(image * float(params["brightness"]))


@_register(
    name="low_contrast",
    sample_params=_low_contrast_params,
    modality="any",
    group="contrast",
    order=25,
    description="compress intensities towards the mean",
    incompatible=("haze",),
)
def low_contrast(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """``mean + c·(I − mean)`` with the image's mean luminance (Table 2: heavy [0.3, 0.8], mild [0.5, 0.8])."""
    mean = float(_luma(image).mean())
    return _clip(mean + float(params["contrast"]) * (image - mean))


# ----------------------------------------------------------------------------- optics


def _gaussian_blur_params(rng, level):
    _check_level(level)
    (klo, khi), (slo, shi) = {"heavy": ((5, 21), (1.0, 2.0)), "mild": ((5, 9), (1.0, 1.5))}[level]
    return {"ksize": _odd_int(rng, klo, khi), "sigma": _uniform(rng, slo, shi)}


@_register(
    name="gaussian_blur",
    sample_params=_gaussian_blur_params,
    modality="any",
    group="blur",
    order=40,
    description="out-of-focus / optical blur",
)
def gaussian_blur(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Gaussian blur (Table 2: heavy kernel [5, 21] sigma [1, 2]; mild kernel [5, 9] sigma [1, 1.5])."""
    return _clip(gaussian_blur_image(image, params["ksize"], params["sigma"]))


def _motion_blur_params(rng, level):
    _check_level(level)
    klo, khi = {"heavy": (5, 21), "mild": (5, 9)}[level]
    return {"ksize": _odd_int(rng, klo, khi), "angle": 35.0, "direction": 0.5}


@_register(
    name="motion_blur",
    sample_params=_motion_blur_params,
    modality="any",
    group="blur",
    order=41,
    description="camera-shake motion blur",
)
def motion_blur(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Line-kernel motion blur (Table 2: kernel heavy [5, 21] / mild [5, 9], angle 35, direction 0.5)."""
    kernel = motion_kernel(params["ksize"], params["angle"], params["direction"])
    return _clip(_convolve(image, kernel))


def _downsample_params(rng, level):
    _check_level(level)
    lo, hi = {"heavy": (2.0, 3.5), "mild": (1.4, 2.0)}[level]
    return {"scale": _uniform(rng, lo, hi, 3), "interpolation": str(rng.choice(["area", "bilinear", "bicubic"]))}


_INTERPOLATION = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}


@_register(
    name="downsample",
    sample_params=_downsample_params,
    modality="any",
    group="resolution",
    order=50,
    description="low resolution (downsampled, then upsampled back)",
)
def downsample(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Shrink by ``scale`` then resize back (bicubic) so the size is kept (Table 2: heavy [2, 3.5], mild [1.4, 2])."""
    h, w = image.shape[:2]
    small = (max(1, round(w / params["scale"])), max(1, round(h / params["scale"])))
    low = cv2.resize(image, small, interpolation=_INTERPOLATION[params["interpolation"]])
    return _clip(cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC).reshape(image.shape))


# ----------------------------------------------------------------------------- sensor and codec


def _noise_params(rng, level):
    _check_level(level)
    return {"mean": 0.0, "std": {"heavy": 15 / 255, "mild": 10 / 255}[level]}


@_register(
    name="gaussian_noise",
    sample_params=_noise_params,
    modality="any",
    group="noise",
    order=60,
    description="additive Gaussian sensor noise",
)
def gaussian_noise(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Add N(mean, std²) per pixel and channel (Table 2: std heavy 15/255, mild 10/255)."""
    # OpenCV's generator (seeded from ``rng``) is ~6x faster than numpy's for large images.
    cv2.setRNGSeed(int(rng.integers(2**31)))
    noise = np.empty((image.shape[0], int(np.prod(image.shape[1:]))), np.float32)  # one channel
    cv2.randn(noise, float(params["mean"]), float(params["std"]))
    noise += image.reshape(noise.shape)
    return _clip(noise.reshape(image.shape))


def _stripe_params(rng, level):
    _check_level(level)
    # Table 2 gives only the directions; strengths are ours: column offsets with this std.
    lo, hi = {"heavy": (0.04, 0.09), "mild": (0.02, 0.045)}[level]
    return {
        "direction": str(rng.choice(["vertical", "horizontal"])),
        "strength": _uniform(rng, lo, hi),
        "gain": _uniform(rng, 0.0, 0.05),
        "texture_seed": int(rng.integers(2**31)),
    }


@_register(
    name="ir_stripes",
    sample_params=_stripe_params,
    modality="ir",
    group="stripes",
    order=65,
    description="fixed-pattern stripe noise of uncooled thermal sensors",
)
def ir_stripes(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Column (vertical) or row (horizontal) fixed-pattern noise: ``I·(1 + g_j) + o_j``.

    Offsets ``o_j`` mix white per-line noise with a slowly varying component (non-uniform
    detector response), so neighbouring lines are partly correlated as in real microbolometers.
    """
    texture = np.random.default_rng(params["texture_seed"])
    vertical = params["direction"] == "vertical"
    length = image.shape[1] if vertical else image.shape[0]
    white = texture.normal(0.0, 1.0, length)
    slow = cv2.GaussianBlur(texture.normal(0.0, 1.0, (1, length)).astype(np.float32), (0, 0), 8).ravel()
    slow = slow / (slow.std() + 1e-8)
    offsets = params["strength"] * (0.8 * white + 0.6 * slow) / 1.0
    gains = params["gain"] * texture.normal(0.0, 1.0, length)
    shape = (1, length) if vertical else (length, 1)
    offsets = offsets.reshape(shape).astype(np.float32)
    gains = gains.reshape(shape).astype(np.float32)
    if image.ndim == 3:
        offsets, gains = offsets[..., None], gains[..., None]
    return _clip(image * (1.0 + gains) + offsets)


def _jpeg_params(rng, level):
    _check_level(level)
    lo, hi = {"heavy": (10, 30), "mild": (30, 60)}[level]
    return {"quality": int(rng.integers(lo, hi + 1))}


@_register(
    name="jpeg",
    sample_params=_jpeg_params,
    modality="any",
    group="codec",
    order=90,
    description="JPEG compression artefacts",
)
def jpeg(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Encode and decode with OpenCV's JPEG encoder at ``quality`` (Table 2: heavy [10, 30], mild [30, 60])."""
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(params["quality"])])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded.ndim == 3:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return decoded.astype(np.float32) / 255.0


# ----------------------------------------------------------------------------- weather


def _ir_blur(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """What rain, haze and snow do to a thermal frame: scattering blur (Table 2's IR blur)."""
    return _clip(gaussian_blur_image(image, params["blur_ksize"], params["blur_sigma"]))


def _weather_blur(rng, level, heavy=((5, 17), (1.0, 2.0)), mild=((5, 9), (1.0, 1.5))):
    (klo, khi), (slo, shi) = heavy if level == "heavy" else mild
    return {"blur_ksize": _odd_int(rng, klo, khi), "blur_sigma": _uniform(rng, slo, shi)}


def _sparse_points(shape: tuple[int, int], texture: np.random.Generator, density: float, low: float = 1.0) -> Image:
    """An image with about ``density·H·W`` random points of intensity in [low, 1], else 0."""
    h, w = shape
    count = int(texture.poisson(density * h * w))
    points = np.zeros((h, w), np.float32)
    if count:
        rows = texture.integers(0, h, count)
        cols = texture.integers(0, w, count)
        points[rows, cols] = texture.uniform(low, 1.0, count).astype(np.float32)
    return points


def _streak_layer(
    shape: tuple[int, int], texture: np.random.Generator, density: float, length: float, angle: float, width: float
) -> Image:
    """Rain streaks of one depth layer: sparse drops smeared along the fall direction."""
    drops = _sparse_points(shape, texture, density, low=0.5)
    if width > 0:
        drops = cv2.GaussianBlur(drops, (0, 0), width)
    kernel = motion_kernel(max(3, int(length)), angle, 0.0) * max(3, int(length)) * 0.25
    return cv2.filter2D(drops, -1, kernel, borderType=cv2.BORDER_REFLECT)


_RAIN_MODES = {
    # mode: (density per pixel, streak length as a fraction of the image height, brightness)
    "light": (0.0015, 0.05, 0.55),
    "heavy": (0.004, 0.09, 0.75),
}


def _rain_params(rng, level):
    _check_level(level)
    mode = str(rng.choice(["light", "heavy"])) if level == "heavy" else "light"
    lo, hi = {"heavy": (0.8, 1.0), "mild": (0.85, 1.0)}[level]
    return {
        "mode": mode,
        "angle": _uniform(rng, -25.0, 25.0, 2),  # slant from vertical, shared by all layers
        "low_light": _uniform(rng, lo, hi),
        **_weather_blur(rng, level),
        "texture_seed": int(rng.integers(2**31)),
    }


@_register(
    name="rain",
    sample_params=_rain_params,
    modality="vis",
    group="weather",
    order=10,
    description="rain streaks with blur and dimmer light",
    ir_effect=_ir_blur,
)
def rain(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Rain: three depth layers of streaks (far: short, thin, faint, dense; near: long, wide,
    bright, sparse) all slanted by the wind angle, screen-blended over the scene after the
    rain's blur (Table 2: heavy mode light/heavy, blur kernel [5, 17] sigma [1, 2], low light
    [0.8, 1]; mild mode light, kernel [5, 9] sigma [1, 1.5], low light [0.85, 1])."""
    h, w = image.shape[:2]
    texture = np.random.default_rng(params["texture_seed"])
    density, length_frac, brightness = _RAIN_MODES[params["mode"]]
    scene = gaussian_blur_image(image, params["blur_ksize"], params["blur_sigma"])
    streaks = np.zeros((h, w), np.float32)
    for depth, (dens_scale, len_scale, width, alpha) in enumerate(
        ((1.6, 0.5, 0.0, 0.5), (1.0, 1.0, 0.5, 0.8), (0.35, 1.8, 1.0, 1.0))
    ):
        length = max(3.0, length_frac * h * len_scale)
        layer = _streak_layer((h, w), texture, density * dens_scale, length, params["angle"], width)
        streaks = np.maximum(streaks, alpha * layer)
    streaks = np.clip(streaks * brightness / max(float(np.percentile(streaks[::3, ::3], 99.9)), 1e-6), 0, 1)
    # Overcast rain light: a slight grey veil, then the dimmer light of a rainy scene.
    veil = 0.06 if params["mode"] == "heavy" else 0.03
    out = _screen(scene * (1 - veil) + veil * 0.7, streaks)
    return _clip(out * params["low_light"])


def _snow_params(rng, level):
    _check_level(level)
    modes = ["combine", "small", "mid"] if level == "heavy" else ["small", "mid"]
    return {
        "mode": str(rng.choice(modes)),
        "angle": _uniform(rng, -30.0, 30.0, 2),
        "density_scale": _uniform(rng, 0.7, 1.3, 3),
        **_weather_blur(rng, level),
        "texture_seed": int(rng.integers(2**31)),
    }


# Flake layers: (density per pixel, flake radius sigma px, fall-streak length px, opacity)
_SNOW_LAYERS = {
    "small": [(0.010, 0.8, 3, 0.8), (0.004, 1.2, 5, 0.9)],
    "mid": [(0.0025, 2.0, 6, 0.9), (0.0008, 3.2, 10, 1.0)],
}
_SNOW_LAYERS["combine"] = _SNOW_LAYERS["small"] + _SNOW_LAYERS["mid"]


@_register(
    name="snow",
    sample_params=_snow_params,
    modality="vis",
    group="weather",
    order=11,
    description="falling snow flakes",
    ir_effect=_ir_blur,
)
def snow(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Snow: flake layers of growing size (far flakes small and sharp, near ones large and
    soft), each smeared a little along the fall direction, composited as opaque white with soft
    edges over a slightly veiled scene (Table 2 modes: heavy combine/small/mid, mild small/mid)."""
    h, w = image.shape[:2]
    texture = np.random.default_rng(params["texture_seed"])
    scale = min(h, w) / 480.0  # flake sizes follow the image scale
    flakes = np.zeros((h, w), np.float32)
    for density, radius, streak, opacity in _SNOW_LAYERS[params["mode"]]:
        dots = _sparse_points((h, w), texture, density * params["density_scale"])
        sigma = max(0.5, radius * scale)
        layer = cv2.GaussianBlur(dots, (0, 0), sigma) * (2 * math.pi * sigma**2) * 0.6
        kernel = motion_kernel(max(3, int(streak * scale)), params["angle"], 0.0)
        layer = cv2.filter2D(layer, -1, kernel, borderType=cv2.BORDER_REFLECT)
        flakes = np.maximum(flakes, np.clip(layer * 1.6, 0, 1) * opacity)
    scene = gaussian_blur_image(image, 3, 0.8) * 0.92 + 0.06  # snowy air: soft, brighter, lower contrast
    alpha = _per_channel(flakes, image)
    return _clip(scene * (1 - alpha) + 0.95 * alpha)


def haze_depth_proxy(shape: tuple[int, int], horizon: float, tilt: float = 0.0) -> Image:
    """Depth proxy in [0, 1] (0 near, 1 far) from a ground-plane + sky model.

    Outdoor and driving scenes look along the ground: below the horizon row, the distance of
    a ground point grows as ``1 / (y − y_h)`` (perspective), and everything above the horizon
    (sky, distant buildings) is far. ``horizon`` is the horizon's height as a fraction of the
    image, ``tilt`` rolls it slightly. This is the depth-dependence the MMAIF paper asks for
    (haze thickens with distance) rather than TextIF's centred haze.
    """
    h, w = shape
    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    horizon_row = (horizon + tilt * cols) * h
    below = np.maximum(rows - horizon_row, 0.0)
    ground = np.clip((0.08 * h) / (below + 0.08 * h), 0.0, 1.0)  # 1 at the horizon, -> small near the bottom
    depth = np.where(rows <= horizon_row, 1.0, ground)
    return cv2.GaussianBlur(depth.astype(np.float32), (0, 0), max(1.0, 0.02 * h))


# The far end of the scene lies this many units away; the haze distance D of Table 2 is the
# meteorological visibility in the same units, so beta = 3.912 / D (Koschmieder).
HAZE_SCENE_DEPTH = 5.0


def _haze_params(rng, level):
    _check_level(level)
    lo, hi = {"heavy": (3.0, 15.0), "mild": (5.0, 20.0)}[level]
    return {
        "distance": _uniform(rng, lo, hi, 3),
        "airlight": _uniform(rng, 0.75, 0.95, 3),
        "horizon": _uniform(rng, 0.3, 0.55, 3),
        "tilt": _uniform(rng, -0.1, 0.1, 3),
        **_weather_blur(rng, level),
    }


@_register(
    name="haze",
    sample_params=_haze_params,
    modality="vis",
    group="weather",
    order=12,
    description="depth-dependent haze / fog",
    ir_effect=_ir_blur,
    incompatible=("low_contrast",),
)
def haze(image: Image, rng: np.random.Generator, params: Params) -> Image:
    """Atmospheric scattering ``I = J·t + A·(1 − t)``, ``t = exp(−β·d)``, ``β = 3.912 / D``.

    ``d`` is :func:`haze_depth_proxy` (unless ``params["depth"]`` holds a real depth map
    in [0, 1]) scaled by ``HAZE_SCENE_DEPTH``; ``D`` is Table 2's haze distance (heavy [3, 15],
    mild [5, 20]), so the farther the pixel and the shorter the visibility, the thicker the haze.
    """
    h, w = image.shape[:2]
    depth = params.get("depth")
    if depth is None:
        depth = haze_depth_proxy((h, w), params["horizon"], params["tilt"])
    beta = 3.912 / float(params["distance"])
    transmission = np.exp(-beta * HAZE_SCENE_DEPTH * np.asarray(depth, np.float32))
    t = _per_channel(transmission.astype(np.float32), image)
    return _clip(image * t + params["airlight"] * (1.0 - t))


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
