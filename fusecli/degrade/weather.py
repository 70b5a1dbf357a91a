"""Degradations of the weather: rain, snow and haze (one texture per stack, so every frame sees the same weather)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from fusecli.degrade.ops import (
    Image, Params, _check_level, _clip, _odd_int, _per_channel, _register, _screen, _uniform, gaussian_blur_image, motion_kernel,
)


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
