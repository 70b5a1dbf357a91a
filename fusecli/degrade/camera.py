"""Degradations of the camera: low light and contrast, blur, down-sampling, noise, infrared stripes, JPEG."""

from __future__ import annotations


import cv2
import numpy as np

from fusecli.degrade.ops import (
    Image, Params, Sampler, _check_level, _clip, _convolve, _luma, _odd_int, _register, _uniform, gaussian_blur_image, motion_kernel,
)


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
