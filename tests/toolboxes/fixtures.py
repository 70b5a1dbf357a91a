"""Fixture images for the toolbox agreement tests, made from integer arithmetic only.

The expected values in ``expected.json`` were computed by the toolboxes' own code on exactly
these pixels; integer formulas (no RNG, no libm) keep them identical on every machine and
numpy version, and ``pixel_digest`` lets the tests prove it.

A case is ``(name, preset, sources, fused)``: uint8 arrays ``(H, W)`` or ``(H, W, 3)``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    preset: str
    sources: tuple[np.ndarray, ...]
    fused: np.ndarray


def _hash_noise(h: int, w: int, seed: int, spread: int) -> np.ndarray:
    """Integer hash of (y, x, seed) in [0, spread): texture without a random generator."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    v = (x * 73856093) ^ (y * 19349663) ^ (seed * 83492791)
    v = (v ^ (v >> 13)) * 1274126177
    v = v ^ (v >> 16)
    return (np.abs(v) % spread).astype(np.int64)


def _scene(h: int, w: int, seed: int) -> np.ndarray:
    """A gray 0..255 scene: a radial gradient, a bright block with sharp edges, stripes, texture."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    cy, cx = h // 2 + seed % 5, w // 3 + seed % 7
    radial = 200 - ((x - cx) ** 2 + (y - cy) ** 2) * 160 // (h * h + w * w)
    block = np.where((x > w // 2) & (x < w // 2 + w // 4) & (y > h // 4) & (y < h // 2 + seed % 9), 45, 0)
    stripes = np.where(((x + 2 * y + seed) // 6) % 2 == 0, 18, -18) * (y > 2 * h // 3)
    texture = _hash_noise(h, w, seed, 25) - 12
    return np.clip(radial + block + stripes + texture, 0, 255)


def _colour(gray: np.ndarray, seed: int) -> np.ndarray:
    """An RGB version of a gray scene: channels shifted and tinted differently."""
    h, w = gray.shape
    r = gray * 9 // 10 + _hash_noise(h, w, seed + 1, 9)
    g = gray
    b = (255 - gray) * 3 // 5 + gray // 3 + _hash_noise(h, w, seed + 2, 13)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255)


def _exposure(scene: np.ndarray, num: int, den: int, offset: int) -> np.ndarray:
    return np.clip(scene * num // den + offset, 0, 255)


def _fuse(sources: list[np.ndarray], seed: int) -> np.ndarray:
    """A stand-in fused image: the integer mean of the sources plus a little texture."""
    total = sum(s.astype(np.int64) for s in sources)
    base = total // len(sources)
    noise = _hash_noise(base.shape[0], base.shape[1], seed, 11) - 5
    if base.ndim == 3:
        noise = noise[..., None]
    return np.clip(base + noise, 0, 255)


def _u8(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.astype(np.uint8))


def cases() -> list[Case]:
    """Every fixture: VIFB (colour visible + gray infrared, all gray), MEFB (colour stacks,
    gray sources with a colour fused image, all gray), Tang and CDDFuse (gray and colour)."""
    out: list[Case] = []
    for h, w, seed in ((64, 96, 1), (62, 84, 2)):
        vis = _colour(_scene(h, w, seed), seed)
        ir = np.clip(255 - _scene(h, w, seed + 10) * 4 // 5, 0, 255)
        ir_as_rgb = np.repeat(ir[..., None], 3, axis=-1)
        fused_rgb = _fuse([vis, ir_as_rgb], seed + 20)
        vis_gray = _scene(h, w, seed) * 7 // 8 + 16
        fused_gray = _fuse([vis_gray, ir], seed + 30)
        tag = f"{w}x{h}"
        out.append(Case(f"vifb-colour-{tag}", "vifb", (_u8(vis), _u8(ir)), _u8(fused_rgb)))
        out.append(Case(f"vifb-gray-{tag}", "vifb", (_u8(vis_gray), _u8(ir)), _u8(fused_gray)))
        out.append(Case(f"cddfuse-colour-{tag}", "cddfuse", (_u8(ir), _u8(vis)), _u8(fused_rgb)))
        out.append(Case(f"cddfuse-gray-{tag}", "cddfuse", (_u8(ir), _u8(vis_gray)), _u8(fused_gray)))
        out.append(Case(f"tang-gray-{tag}", "tang", (_u8(ir), _u8(vis_gray)), _u8(fused_gray)))
        out.append(Case(f"tang-colour-{tag}", "tang", (_u8(ir), _u8(vis)), _u8(fused_rgb)))

        scene = _colour(_scene(h, w, seed + 40), seed + 40)
        under, over = _exposure(scene, 3, 4, 0), _exposure(scene, 5, 4, 20)
        fused_mef = _fuse([under, over], seed + 50)
        gray_scene = _scene(h, w, seed + 60)
        under_g, over_g = _exposure(gray_scene, 3, 4, 0), _exposure(gray_scene, 5, 4, 20)
        out.append(Case(f"mefb-colour-{tag}", "mefb", (_u8(under), _u8(over)), _u8(fused_mef)))
        out.append(Case(f"mefb-gray-{tag}", "mefb", (_u8(under_g), _u8(over_g)), _u8(_fuse([under_g, over_g], seed + 70))))
        rgb_of_gray = _fuse([np.repeat(under_g[..., None], 3, -1), _colour(over_g, seed)], seed + 80)
        out.append(Case(f"mefb-graysources-{tag}", "mefb", (_u8(under_g), _u8(over_g)), _u8(rgb_of_gray)))
    return out


def pixel_digest(case: Case) -> str:
    """sha256 over the case's pixels and shapes: the expected values hold for these bytes only."""
    digest = hashlib.sha256()
    for image in (*case.sources, case.fused):
        digest.update(str(image.shape).encode())
        digest.update(image.tobytes())
    return digest.hexdigest()


def write_case(case: Case, folder: Path) -> tuple[list[Path], Path]:
    """Write the case as PNG files (what the toolboxes read with imread); returns the paths."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)

    def save(image: np.ndarray, name: str) -> Path:
        path = folder / f"{case.name}_{name}.png"
        bgr = image[..., ::-1] if image.ndim == 3 else image
        if not cv2.imwrite(str(path), np.ascontiguousarray(bgr)):
            raise OSError(f"could not write {path}")
        return path

    sources = [save(s, f"source{i + 1}") for i, s in enumerate(case.sources)]
    return sources, save(case.fused, "fused")
