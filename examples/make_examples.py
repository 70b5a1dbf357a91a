"""Render fusecli's example inputs from images that ship inside scikit-image.

Everything here is synthetic but physically motivated, and deterministic (fixed seeds):

- ``mef/``: a 3-shot exposure bracket (EV -2, 0, +2) of the ``coffee`` photo. The photo is
  linearised (inverse sRGB), its dynamic range stretched to make a scene that no single shot
  can hold, then each shot applies exposure, clipping, photon + read noise, the sRGB camera
  response and 8-bit JPEG quantisation.
- ``mff/``: a near/far focus pair of the ``motorcycle_left`` stereo frame, defocused by its real
  disparity map (``motorcycle_disp.npz``): blur grows with the distance from the focal plane.
- ``vif/``: a night surveillance style pair from ``astronaut``: a dim, noisy visible frame and
  a thermal-like frame (warm skin bright, cool background, low resolution, optics blur,
  column fixed-pattern noise), also as a 16-bit TIFF like radiometric cameras write; and the
  same thermal scene as a rig's own infrared camera sees it (``astronaut_rig_ir.png``: 320×256,
  a narrower view, turned 2 degrees), with the rig's warp (``astronaut_rig.txt``) for
  ``fusecli fuse --ir-warp``.

Run: ``python examples/make_examples.py [OUT_DIR]`` (default: this folder).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

HERE = Path(__file__).resolve().parent


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def exposure_bracket(evs=(-2.0, 0.0, 2.0), seed: int = 1) -> list[np.ndarray]:
    """Shots of a high-dynamic-range scene, float RGB in [0, 1] before JPEG encoding."""
    rng = np.random.default_rng(seed)
    photo = data.coffee().astype(np.float64) / 255.0
    linear = srgb_to_linear(photo)
    # Stretch contrast in linear light: shadows go darker, highlights far brighter (~10 stops).
    radiance = 0.18 * (linear / 0.18) ** 1.8
    shots = []
    for ev in evs:
        exposed = radiance * (2.0**ev)
        electrons = exposed * 4000.0  # full well = 1.0 -> 4000 e-
        noisy = rng.poisson(np.clip(electrons, 0, None)) / 4000.0 + rng.normal(0.0, 0.002, exposed.shape)
        shots.append(linear_to_srgb(np.clip(noisy, 0.0, 1.0)))
    return shots


def _defocus(image: np.ndarray, sigma_map: np.ndarray, levels: int = 12) -> np.ndarray:
    """Spatially varying Gaussian blur by interpolating between a few blur levels."""
    top = float(sigma_map.max())
    sigmas = np.linspace(0.0, top, levels)
    stack = [image if s == 0 else cv2.GaussianBlur(image, (0, 0), s) for s in sigmas]
    position = sigma_map / (top / (levels - 1)) if top > 0 else np.zeros_like(sigma_map)
    lower = np.clip(np.floor(position).astype(int), 0, levels - 1)
    upper = np.clip(lower + 1, 0, levels - 1)
    frac = (position - lower)[..., None]
    out = np.zeros_like(image)
    for k in range(levels):
        out += np.where((lower == k)[..., None], stack[k] * (1 - frac), 0)
        out += np.where((upper == k)[..., None], stack[k] * frac, 0)
    return out


def focus_pair(max_sigma: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Near- and far-focused renderings of a real stereo frame using its disparity (depth)."""
    left, _, disparity = data.stereo_motorcycle()
    image = left.astype(np.float32) / 255.0
    disp = disparity.astype(np.float32)
    valid = np.isfinite(disp)
    disp[~valid] = np.median(disp[valid])
    disp = cv2.medianBlur(disp, 5)
    near_plane, far_plane = np.percentile(disp, 95), np.percentile(disp, 5)
    span = near_plane - far_plane
    sigma_near_focus = max_sigma * np.clip((near_plane - disp) / span, 0, 1)  # far things blur
    sigma_far_focus = max_sigma * np.clip((disp - far_plane) / span, 0, 1)  # near things blur
    return _defocus(image, sigma_near_focus), _defocus(image, sigma_far_focus)


def thermal_pair(seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A dim visible frame and a thermal-like frame of the same scene."""
    rng = np.random.default_rng(seed)
    rgb = data.astronaut().astype(np.float32) / 255.0
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    skin = ((hue < 35) | (hue > 340)) & (sat > 0.2) & (sat < 0.75) & (val > 0.35)
    skin = cv2.morphologyEx(skin.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)).astype(np.float32)
    warm = cv2.GaussianBlur(skin, (0, 0), 6)
    # Emissivity/temperature proxy: dark, non-blue surfaces are slightly warmer.
    ambient = 0.25 + 0.2 * cv2.GaussianBlur(1.0 - rgb[..., 2], (0, 0), 3)
    thermal = np.clip(ambient + 0.55 * warm / max(warm.max(), 1e-6), 0, 1)
    h, w = thermal.shape
    thermal = cv2.resize(cv2.resize(thermal, (w // 3, h // 3), interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_CUBIC)
    thermal = cv2.GaussianBlur(thermal, (0, 0), 1.2)
    thermal += rng.normal(0, 0.012, (1, w)).astype(np.float32)  # column fixed-pattern noise
    thermal += rng.normal(0, 0.008, thermal.shape).astype(np.float32)
    thermal = np.clip(thermal, 0, 1)
    # Night: little light, so the visible frame is dark and noisy.
    dim = srgb_to_linear(rgb) * 0.12
    dim = dim + rng.normal(0, 0.004, dim.shape)
    visible = linear_to_srgb(np.clip(dim, 0, 1)).astype(np.float32)
    return thermal.astype(np.float32), visible


def rig_infrared(thermal: np.ndarray, size: tuple[int, int] = (320, 256)) -> tuple[np.ndarray, np.ndarray]:
    """``thermal`` (registered to the visible frame) as a separate infrared camera records it: its
    own resolution, a narrower field of view and a small roll; and the 3x3 warp from its pixels
    to the visible frame's, which a rig's calibration would give."""
    h, w = thermal.shape
    view = np.array([[0.8 * w / (size[0] - 1), 0, 0.1 * w], [0, 0.64 * h / (size[1] - 1), 0.18 * h], [0, 0, 1]])
    roll = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), 2.0, 1.0), [0, 0, 1]])
    matrix = roll @ view
    return cv2.warpPerspective(thermal, np.linalg.inv(matrix), size, flags=cv2.INTER_LINEAR), matrix


def _write(path: Path, image: np.ndarray, quality: int = 95) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".tif":
        import tifffile

        tifffile.imwrite(path, np.round(np.clip(image, 0, 1) * 65535).astype(np.uint16), photometric="minisblack")
        return
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if path.suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 9]
    if not cv2.imwrite(str(path), pixels, params):
        raise OSError(f"could not write {path}")


def training_crops(thermal: np.ndarray, visible: np.ndarray, size: int = 128, count: int = 12) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` aligned ``size``² crops of the example pair on a grid, every other one mirrored:
    the data of ``examples/train/tiny.toml`` (a training run that works out of the box)."""
    h, w = thermal.shape[:2]
    rows, cols = 3, 4
    crops = []
    for k in range(count):
        y = (k // cols) * (h - size) // (rows - 1)
        x = (k % cols) * (w - size) // (cols - 1)
        pair = thermal[y : y + size, x : x + size], visible[y : y + size, x : x + size]
        crops.append(tuple(np.ascontiguousarray(a[:, ::-1]) for a in pair) if k % 2 else pair)
    return crops


def make_examples(out: Path = HERE) -> list[Path]:
    """Write every example under ``out`` and return the paths written."""
    written = []
    for name, shot in zip(("under", "normal", "over"), exposure_bracket()):
        written.append(out / "mef" / f"coffee_{name}.jpg")
        _write(written[-1], shot)
    near, far = focus_pair()
    for name, image in (("near", near), ("far", far)):
        written.append(out / "mff" / f"motorcycle_{name}.jpg")
        _write(written[-1], image)
    thermal, visible = thermal_pair()
    for path, image in (
        (out / "vif" / "astronaut_ir.png", thermal),
        (out / "vif" / "astronaut_ir16.tif", thermal),
        (out / "vif" / "astronaut_vis.jpg", visible),
    ):
        _write(path, image)
        written.append(path)
    for k, (ir_crop, vis_crop) in enumerate(training_crops(thermal, visible)):
        written += [out / "train" / "tiny" / "vif" / "ir" / f"crop{k:02d}.png", out / "train" / "tiny" / "vif" / "vi" / f"crop{k:02d}.png"]
        _write(written[-2], ir_crop)
        _write(written[-1], vis_crop)
    rig, matrix = rig_infrared(thermal)
    written += [out / "vif" / "astronaut_rig_ir.png", out / "vif" / "astronaut_rig.txt"]
    _write(written[-2], rig)
    np.savetxt(written[-1], matrix, fmt="%.9g", header="fusecli fuse --ir-warp: infrared pixel (x, y) -> visible pixel (x', y'), 3x3 homography")
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for p in make_examples(target):
        print(p)
