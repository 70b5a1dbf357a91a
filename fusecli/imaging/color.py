"""Colour handling: RGB <-> YCbCr (ITU-R BT.601, full range) and colour restoration.

Fusion models work on luminance. MoE-Fusion (seed 002, section 7) restores colour by
converting the visible image to YCbCr, replacing its Y with the fused image and converting
back. Full range ("JPEG") BT.601 is used, the same as OpenCV's ``COLOR_RGB2YCrCb`` (which
orders the channels Y, Cr, Cb). Arrays are float in [0, 1], channels last ``(..., 3)``.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from fusecli.errors import InputMismatchError
from fusecli.imaging import as_float

# Rows give Y, Cb, Cr from R, G, B; chroma is offset by 0.5.
_RGB_TO_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ],
    dtype=np.float64,
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
_OFFSET = np.array([0.0, 0.5, 0.5])


def _affine(pixels: np.ndarray, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``matrix @ pixel + offset`` for every pixel of ``(..., 3)`` float32 (cv2.transform: fast, threaded)."""
    m = np.hstack([matrix, offset[:, None]]).astype(np.float32)
    shape = pixels.shape
    flat = np.ascontiguousarray(pixels, np.float32)
    flat = flat.reshape(-1, 1, 3) if flat.ndim != 3 else flat
    out = cv2.transform(flat, m)
    return out.reshape(*shape[:-1], matrix.shape[0])


def _check_rgb(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim < 1 or image.shape[-1] not in (3, 4):
        raise InputMismatchError(f"{what} must have 3 (RGB) channels, got shape {image.shape}")
    return image[..., :3]


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` RGB in [0, 1] -> ``(..., 3)`` Y, Cb, Cr in [0, 1] (chroma centred at 0.5)."""
    rgb = _check_rgb(rgb, "RGB image").astype(np.float32, copy=False)
    return _affine(rgb, _RGB_TO_YCBCR, _OFFSET)


def ycbcr_to_rgb(ycbcr: np.ndarray, clip: bool = True) -> np.ndarray:
    """``(..., 3)`` Y, Cb, Cr -> RGB; clipped to [0, 1] unless ``clip`` is False."""
    ycbcr = _check_rgb(ycbcr, "YCbCr image").astype(np.float32, copy=False)
    rgb = _affine(ycbcr, _YCBCR_TO_RGB, -_YCBCR_TO_RGB @ _OFFSET)
    return np.clip(rgb, 0.0, 1.0, out=rgb) if clip else rgb


def is_gray(frame: np.ndarray) -> bool:
    """True for one-channel images and RGB images whose channels are (nearly) equal (a gray
    photo saved as RGB): what tells the infrared of a VIF pair from the visible frame."""
    if frame.ndim == 2:
        return True
    sample = as_float(frame[:: max(1, frame.shape[0] // 128), :: max(1, frame.shape[1] // 128), :3])
    return float(np.abs(sample - sample.mean(2, keepdims=True)).max()) < 2 / 255


def luminance(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB(A) image, or the image itself if it is gray. ``(H, W)``."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    return _affine(_check_rgb(image, "image"), _RGB_TO_YCBCR[:1], _OFFSET[:1])[..., 0]


def stored_luminance(image: np.ndarray, band: int = 256) -> np.ndarray:
    """``luminance(as_float(image))`` of stored pixels (uint8, uint16 or float), ``(H, W)``
    float32, converted ``band`` rows at a time: a 24 MP RGB frame never exists as float32
    (300 MB) just to give its 100 MB luma."""
    image = np.asarray(image)
    if image.ndim == 2 or image.shape[2] == 1 or image.shape[0] <= band:
        return luminance(as_float(image))
    out = np.empty(image.shape[:2], np.float32)
    for y in range(0, image.shape[0], band):
        out[y : y + band] = luminance(as_float(image[y : y + band]))
    return out


def tone_gain(y: np.ndarray, reference: np.ndarray, detail: float = 2.0, window: float = 16.0, floor: float = 0.01, limit: float = 5.0) -> np.ndarray:
    """``(H, W)``: by how much ``y`` has the local contrast of ``reference`` stretched, both
    ``(H, W)`` luminance in 0..1; 1 where they agree or both are flat, within ``1/limit``..``limit``.

    Why: brightening (``s I``), dehazing (``t J + (1 - t) A``) and contrast loss all scale an
    image's chroma about neutral by the same factor as its luminance varies about its local mean,
    so a luminance-only restoration leaves its inputs' colours washed out by that factor. It is
    read from the standard deviation of the two images low-passed at ``detail`` px (so denoising
    and sharpening, which change fine detail only, read as 1) over Gaussian windows of ``window`` px."""
    y, reference = (np.asarray(a, np.float32) for a in (y, reference))
    if y.shape != reference.shape or y.ndim != 2:
        raise ValueError(f"tone_gain takes two (H, W) images of one size, got {y.shape} and {reference.shape}")

    def spread(image: np.ndarray) -> np.ndarray:
        low = cv2.GaussianBlur(image, (0, 0), detail)
        low -= low.mean()  # float32 variance as E[x^2] - E[x]^2: about 0, less cancellation
        mean = cv2.GaussianBlur(low, (0, 0), window)
        return np.sqrt(np.maximum(cv2.GaussianBlur(low * low, (0, 0), window) - mean * mean, 0))

    return np.clip((spread(y) + floor) / (spread(reference) + floor), 1 / limit, limit)


def brightness_gain(y: np.ndarray, reference: np.ndarray, window: float = 16.0, floor: float = 0.01, limit: float = 5.0) -> np.ndarray:
    """``(H, W)``: by how much ``y`` is brighter than ``reference`` locally, both ``(H, W)``
    luminance in 0..1: the ratio of the two low-passed over Gaussian windows of ``window`` px,
    within ``1/limit``..``limit``.

    Why: an exposure change (``s I``) scales chroma about neutral by exactly ``s``, so when a
    request only brightens, the chroma follows the brightness the output gained. (Haze adds light
    without colour, which a brightness ratio would read as exposure: :func:`tone_gain` there.)"""
    y, reference = (np.asarray(a, np.float32) for a in (y, reference))
    if y.shape != reference.shape or y.ndim != 2:
        raise ValueError(f"brightness_gain takes two (H, W) images of one size, got {y.shape} and {reference.shape}")
    low = [cv2.GaussianBlur(image, (0, 0), window) + floor for image in (y, reference)]
    return np.clip(low[0] / low[1], 1 / limit, limit)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter: ``src`` ``(H, W)`` or ``(H, W, C)`` smoothed over
    ``(2 radius + 1)²`` boxes except across the edges of ``guide`` ``(H, W)`` (both 0..1 float).

    Why: each output pixel is a local linear function of the guide, so where the guide has an
    edge (local variance well above ``eps``) the output keeps it and elsewhere it is a box mean.
    With a clean luminance as guide this removes chroma noise without bleeding colour across
    edges. Cost is a few box filters per channel, independent of ``radius``."""
    guide = np.asarray(guide, np.float32)
    src = np.asarray(src, np.float32)
    if guide.ndim != 2 or src.shape[:2] != guide.shape or src.ndim not in (2, 3):
        raise ValueError(f"guided_filter takes an (H, W) guide and an (H, W[, C]) source of its size, got {guide.shape} and {src.shape}")
    size = (2 * radius + 1, 2 * radius + 1)

    def box(image: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(image, -1, size, borderType=cv2.BORDER_REFLECT)

    channels = src[..., None] if src.ndim == 2 else src
    mean_guide = box(guide)
    var_guide = box(guide * guide) - mean_guide * mean_guide
    out = np.empty_like(channels)
    for c in range(channels.shape[2]):
        p = np.ascontiguousarray(channels[..., c])
        mean_p = box(p)
        a = (box(guide * p) - mean_guide * mean_p) / (var_guide + eps)
        b = mean_p - a * mean_guide
        out[..., c] = box(a) * guide + box(b)
    return out[..., 0] if src.ndim == 2 else out


# Chroma denoising for noise requests (bench/restoration_colour.py, heavy and sigma 5/255 noise):
# radius 2 beat 3, 4 and 8 on MEF / MFF at both levels; eps 1e-2 edged out 1e-3..4e-2.
CHROMA_DENOISE_RADIUS = 2
CHROMA_DENOISE_EPS = 1e-2


def denoise_chroma(chroma: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` Cb/Cr in 0..1 with its noise smoothed along the edges of ``y`` ``(H, W)``,
    a clean (denoised, fused) luminance: what a noise request does to colour, since sensor noise
    is per RGB channel and so in Cb/Cr too (about 0.6 sigma), which a luminance model never sees."""
    return np.clip(guided_filter(y, chroma, CHROMA_DENOISE_RADIUS, CHROMA_DENOISE_EPS), 0, 1)


def stretch_chroma(chroma: np.ndarray, gain: float | np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` Cb/Cr in 0..1 scaled about neutral by ``gain`` (a number or ``(H, W)``), clipped."""
    gain = np.asarray(gain, np.float32)
    return np.clip(0.5 + (gain[..., None] if gain.ndim == 2 else gain) * (chroma - 0.5), 0, 1)


def colorize(fused: np.ndarray, color_source: np.ndarray, *, resize: bool = False, chroma_gain: float = 1.0, denoise: bool = False) -> np.ndarray:
    """Give a single-channel fused image the chroma of ``color_source``.

    ``fused``: ``(H, W)`` (an RGB fused image contributes its luminance).
    ``color_source``: ``(h, w, 3|4)`` RGB(A), e.g. the visible image of a VIF pair.
    Sizes must match unless ``resize``, which resamples the colour source's chroma to the
    fused size. ``chroma_gain`` scales that chroma about neutral (a contrast restoration's gain:
    :func:`fusecli.restore.chroma_gain`). ``denoise``: smooth the source's chroma noise along the
    fused image's edges (:func:`denoise_chroma`; a noisy visible image). Returns ``(H, W, 3)``
    float32 RGB in [0, 1].
    """
    y = luminance(fused)
    source = np.asarray(color_source, dtype=np.float32)
    if source.ndim != 3 or source.shape[2] not in (3, 4):
        raise InputMismatchError(
            f"the colour source must be an RGB image, got {'a gray image' if source.ndim == 2 else f'shape {source.shape}'}"
        )
    if source.shape[:2] != y.shape:
        if not resize:
            raise InputMismatchError(
                f"fused image is {y.shape[1]}x{y.shape[0]} but the colour source is "
                f"{source.shape[1]}x{source.shape[0]} (use --resize to resample the colour source)"
            )
        source = cv2.resize(source[:, :, :3], (y.shape[1], y.shape[0]), interpolation=cv2.INTER_AREA)
    ycbcr = rgb_to_ycbcr(source)
    ycbcr[:, :, 0] = y
    if chroma_gain != 1.0:
        ycbcr[:, :, 1:] = stretch_chroma(ycbcr[:, :, 1:], chroma_gain)
    if denoise:
        ycbcr[:, :, 1:] = denoise_chroma(ycbcr[:, :, 1:], y)
    return ycbcr_to_rgb(ycbcr)


def colorize_file(
    fused_path,
    color_path,
    output_path,
    *,
    resize: bool = False,
    bit_depth: int | None = None,
    overwrite: bool = False,
    quality: int | None = None,
    denoise: bool = False,
):
    """Read a fused gray image and a colour source, write the coloured result atomically.

    The output follows the fused image's bit depth unless ``bit_depth`` is given; ``quality``
    is for JPEG/WebP outputs (:func:`fusecli.imaging.encode_image`); ``denoise``: :func:`colorize`'s.
    """
    from fusecli.imaging import read_image, write_image

    fused, fused_meta = read_image(fused_path)
    source, source_meta = read_image(color_path)
    try:
        result = colorize(fused, source, resize=resize, denoise=denoise)
    except InputMismatchError as exc:
        raise InputMismatchError(f"{fused_path} + {color_path}: {exc}") from None
    return write_image(
        output_path,
        result,
        bit_depth=bit_depth,
        # the colour is the source's; the capture data the fused image's if it kept any
        meta=replace(fused_meta, profile=source_meta.profile or fused_meta.profile, exif=fused_meta.exif or source_meta.exif),
        overwrite=overwrite,
        inputs=(fused_path, color_path),
        quality=quality,
    )
