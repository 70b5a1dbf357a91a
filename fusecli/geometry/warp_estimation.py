"""Estimating a rig's infrared → visible warp from one of its pairs (``--ir-warp auto``).

Why: :mod:`fusecli.geometry.registration` applies a rig's warp, but a warp needs a calibration (a heated
checkerboard, or points picked by hand in both images) that many users never made. A thermal
and a visible camera side by side see the same edges (a car's outline, a window frame, a
person) though not the same intensities: a warm object may be bright in one and dark in the
other, and the textures differ. So both frames are compared as *edge-strength maps* (the
gradient magnitude of the blurred luminance, each normalised by its own local level), where
polarity and gain no longer matter:

1. **Coarse search** over a similarity warp (the two cameras' fields of view differ by a
   scale, their mounts by a small roll): for each scale and roll on a grid, the translation
   is found by normalised cross-correlation of the infrared map's middle part inside the
   visible map (``cv2.matchTemplate``); the best peak wins.
2. **Refinement** by ECC maximisation (Evangelidis & Psarakis 2008, ``cv2.findTransformECC``)
   of the edge maps as a similarity warp: ECC's rigid model (roll and shift) on the infrared
   map resized by each scale that a golden-section search tries; at a 320-px, then a 640-px
   long side, the two maps blurred alike in visible pixels.
3. **Check**: the ECC correlation of the edge maps where both frames see, and how much of the
   visible frame that is. A pair whose edges do not line up anywhere (two different scenes, a
   lens cap, fog) is refused with a clear error rather than fused misaligned.

The estimate is a similarity warp: a rig's two cameras are a few centimetres apart, look the
same way and have square pixels, so the shear and perspective a full homography would add are
below a pixel, while their extra freedom lets the fit drift where one camera sees few edges.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fusecli.imaging.color import luminance
from fusecli.errors import FusecliError
from fusecli.imaging import as_float, write_bytes_atomic
from fusecli.geometry.registration import AUTO, IrWarp, check_matrix, common_box, pair_infrared_index, resize_map

LEVELS = ((320, 1.5), (640, 1.0))  # (long side, edge blur in px): the coarse search and first refinement, then the last one
SCALES = np.exp(np.linspace(np.log(0.5), np.log(1.6), 23))  # coarse grid: infrared size on the visible frame / the size that just fits, per side
ROLLS = (-4.0, -2.0, 0.0, 2.0, 4.0)  # degrees
SCALE_SPREAD, SCALE_STEPS = 0.04, 9  # the refinement searches the scale within ±4 % of the last estimate, in 9 tries
MIDDLE = 0.8  # the share of the infrared map (per side) that slides over the visible map
MIN_CORRELATION = 0.25  # ECC correlation of the edge maps below which a pair is refused (bench/ir_registration.py)
MIN_OVERLAP = 0.25  # share of the visible frame both must see
FLAT = 1e-3  # a frame whose luminance spans less than this has no edges


class RegistrationError(FusecliError):
    """The infrared and visible frames could not be registered automatically."""

    def __init__(self, message: str, correlation: float = float("nan")) -> None:
        super().__init__(message)
        self.correlation = correlation  # the best edge correlation found (for calibrating MIN_CORRELATION)


@dataclass(frozen=True)
class WarpEstimate:
    """An estimated infrared → visible warp and how well the frames' edges agree under it."""

    matrix: np.ndarray  # (3, 3) float64: visible (x', y', 1) ~ matrix @ infrared (x, y, 1)
    correlation: float  # ECC correlation of the edge maps where both see (1: identical edges)
    overlap: float  # share of the visible frame the warped infrared frame covers

    def describe(self) -> str:
        a, b, _, c, d, _ = self.matrix[:2].ravel()
        scale = _linear_scale(self.matrix)
        roll = math.degrees(math.atan2(b - c, a + d))  # counter-clockwise as seen, like cv2.getRotationMatrix2D
        return (
            f"the similarity warp estimated from this pair (scale {scale:.3f}, roll {roll:+.2f} deg, "
            f"shift ({self.matrix[0, 2]:+.1f}, {self.matrix[1, 2]:+.1f}) px; edge correlation {self.correlation:.2f})"
        )

    def as_warp(self) -> IrWarp:
        return IrWarp(self.matrix, self.describe())


def edge_map(image: np.ndarray, sigma: float) -> np.ndarray:
    """``(H, W)`` float32 edge strength of an ``(H, W[, C])`` image: gradient magnitude of the
    luminance blurred by ``sigma`` px, divided by its own local mean level, so an edge counts by
    its shape and not by the modality's contrast."""
    y = luminance(as_float(image)).astype(np.float32)
    y = cv2.GaussianBlur(y, (0, 0), sigma)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.sqrt(gx * gx + gy * gy)
    level = cv2.GaussianBlur(magnitude, (0, 0), 8 * sigma)
    return magnitude / (level + 0.5 * float(magnitude.mean()) + 1e-6)


def _similarity(scale: float, roll_deg: float, centre: tuple[float, float]) -> np.ndarray:
    """3×3 rotation by ``roll_deg`` and scaling by ``scale`` about ``centre``."""
    return np.vstack([cv2.getRotationMatrix2D(centre, roll_deg, scale), [0.0, 0.0, 1.0]])


def _shrink(shape: tuple[int, ...], side: int) -> float:
    return min(1.0, side / max(shape[:2]))


def _coarse(ir_edges: np.ndarray, vis_edges: np.ndarray) -> np.ndarray:
    """The best similarity warp (work-resolution pixels, infrared → visible) on the grid."""
    vh, vw = vis_edges.shape
    ih, iw = ir_edges.shape
    fit = min(vw / iw, vh / ih)  # the infrared frame scaled to just fit inside the visible one
    best, best_score = None, -np.inf
    for scale in SCALES * fit:
        for roll in ROLLS:
            # Rotate and scale the infrared map about its centre, then take its middle part.
            w, h = max(8, round(iw * scale)), max(8, round(ih * scale))
            spin = _similarity(scale, roll, ((iw - 1) / 2, (ih - 1) / 2))
            spin[:2, 2] += ((w - 1) / 2 - (iw - 1) / 2, (h - 1) / 2 - (ih - 1) / 2)
            turned = cv2.warpAffine(ir_edges, spin[:2], (w, h), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            tw, th = min(round(w * MIDDLE), vw - 2), min(round(h * MIDDLE), vh - 2)
            if tw < 16 or th < 16:
                continue
            x0, y0 = (w - tw) // 2, (h - th) // 2
            template = turned[y0 : y0 + th, x0 : x0 + tw]
            if float(template.std()) < 1e-6:
                continue
            scores = cv2.matchTemplate(vis_edges, template, cv2.TM_CCOEFF_NORMED)
            _, peak, _, (px, py) = cv2.minMaxLoc(scores)
            if peak > best_score:
                best_score = peak
                best = np.array([[1.0, 0.0, px - x0], [0.0, 1.0, py - y0], [0.0, 0.0, 1.0]]) @ spin
    if best is None:
        raise RegistrationError("the infrared frame is too small to register against the visible frame")
    return best


def _ecc(ir_edges: np.ndarray, vis_edges: np.ndarray, matrix: np.ndarray, iterations: int = 60) -> tuple[np.ndarray, float]:
    """ECC refinement (rigid: roll and shift) of an infrared → visible ``matrix`` (pixels of these
    maps); returns the refined matrix and the correlation it reaches (``-1`` when ECC does not converge)."""
    # findTransformECC(template, input, W) finds W with input(W x) ~ template(x): the template is
    # the visible map and W maps visible pixels to infrared pixels, the inverse of ``matrix``.
    to_ir = np.linalg.inv(matrix)[:2].astype(np.float32)
    # The mask marks the infrared pixels to trust (ECC warps it with the frame): all but a thin border.
    mask = cv2.erode(np.full(ir_edges.shape, 255, np.uint8), np.ones((7, 7), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-5)
    try:
        correlation, to_ir = cv2.findTransformECC(vis_edges, ir_edges, to_ir, cv2.MOTION_EUCLIDEAN, criteria, mask, 5)
    except cv2.error:
        return matrix, -1.0
    refined = np.linalg.inv(np.vstack([to_ir.astype(np.float64), [0.0, 0.0, 1.0]]))
    return refined, float(correlation)


def _refine(ir_edges: np.ndarray, vis_edges: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """ECC refinement of a similarity warp (scale, roll, shift): ECC's rigid model on the infrared
    map resized by each scale a golden-section search tries, around ``matrix``'s own scale."""
    start_scale = _linear_scale(matrix)
    h, w = ir_edges.shape
    centre = np.array([(w - 1) / 2, (h - 1) / 2, 1.0])

    def at(scale: float) -> tuple[np.ndarray, float]:
        resized, to_resized = _resized(ir_edges, scale)
        rigid = matrix @ np.linalg.inv(to_resized)  # resized infrared -> visible, scale near 1
        u, _, vt = np.linalg.svd(rigid[:2, :2])
        rotation = u @ vt
        fixed = to_resized @ centre  # keep where the frame's centre lands
        rigid = np.vstack([np.c_[rotation, (matrix @ centre)[:2] - rotation @ fixed[:2]], [0.0, 0.0, 1.0]])
        refined, correlation = _ecc(resized, vis_edges, rigid)
        return refined @ to_resized, correlation

    return _golden_max(at, start_scale * (1 - SCALE_SPREAD), start_scale * (1 + SCALE_SPREAD), SCALE_STEPS)


def _golden_max(f, low: float, high: float, steps: int) -> tuple[np.ndarray, float]:
    """The best ``f(x) = (result, score)`` a golden-section search over ``[low, high]`` finds in ``steps`` calls."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    best = max(fc, fd, key=lambda r: r[1])
    for _ in range(steps - 2):
        if fc[1] >= fd[1]:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
        best = max(best, fc, fd, key=lambda r: r[1])
    return best


def _resized(image: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` resized by about ``factor`` (``cv2.INTER_AREA``), and the 3×3 map from its pixels
    to the resized one's, exact for the whole-pixel size it gets (pixel centres, as ``cv2.resize``)."""
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    to_resized = resize_map(size[0] / w, size[1] / h)
    if size == (w, h):
        return image, to_resized
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), to_resized


def estimate_ir_warp(infrared: np.ndarray, visible: np.ndarray) -> WarpEstimate:
    """The similarity warp (a 3×3 matrix) from ``infrared`` pixels to ``visible`` pixels (any dtype, ``(H, W[, C])``;
    method: module docstring). Raises :class:`RegistrationError` when the frames' edges do not
    line up well enough to trust the result."""
    infrared, visible = as_float(infrared), as_float(visible)
    for name, frame in (("infrared", infrared), ("visible", visible)):
        if float(np.ptp(luminance(frame))) < FLAT:
            raise RegistrationError(f"the {name} frame is flat (no edges to register it by); give the rig's warp with --ir-warp FILE")
    whole, correlation = None, -1.0
    for side, sigma in LEVELS:
        (ir_small, ir_map), (vis_small, vis_map) = _resized(infrared, _shrink(infrared.shape, side)), _resized(visible, _shrink(visible.shape, side))
        if whole is None:
            start = _coarse(edge_map(ir_small, sigma), edge_map(vis_small, sigma))
        else:
            start = vis_map @ whole @ np.linalg.inv(ir_map)
        # Compare the frames at the same blur in visible pixels, and no finer than the coarser camera resolves.
        pixel = _linear_scale(start)  # one infrared pixel, in visible pixels
        vis_sigma = sigma * max(1.0, pixel)
        refined, level_correlation = _refine(edge_map(ir_small, vis_sigma / pixel), edge_map(vis_small, vis_sigma), start)
        if level_correlation <= 0:
            if whole is None:
                whole = np.linalg.inv(vis_map) @ start @ ir_map
            break
        whole, correlation = np.linalg.inv(vis_map) @ refined @ ir_map, level_correlation
    return _checked(whole, correlation, infrared.shape, visible.shape)


def _linear_scale(matrix: np.ndarray) -> float:
    """How many output pixels one input pixel spans under an affine ``matrix`` (geometric mean of its axes)."""
    return math.sqrt(abs(float(np.linalg.det(matrix[:2, :2]))))


def _checked(matrix: np.ndarray, correlation: float, ir_shape: tuple[int, ...], vis_shape: tuple[int, ...]) -> WarpEstimate:
    try:
        check_matrix(matrix, "the estimated warp")
        rows, cols = common_box(matrix, ir_shape, vis_shape)
        overlap = (rows.stop - rows.start) * (cols.stop - cols.start) / (vis_shape[0] * vis_shape[1])
    except FusecliError:
        overlap = 0.0
    if correlation < MIN_CORRELATION or overlap < MIN_OVERLAP:
        raise RegistrationError(
            f"could not register the infrared frame to the visible frame automatically (edge correlation {correlation:.2f}, "
            f"needs {MIN_CORRELATION}; common area {overlap:.0%} of the visible frame, needs {MIN_OVERLAP:.0%}): "
            "are they the same scene at the same moment? Give the rig's warp with --ir-warp FILE instead",
            correlation,
        )
    return WarpEstimate(matrix, correlation, overlap)


def resolve_warp(warp: IrWarp | str, frames: Sequence[np.ndarray], task: str | None = None) -> IrWarp:
    """``warp`` itself, or for :data:`fusecli.geometry.registration.AUTO` the warp estimated from this
    infrared + visible pair (either order)."""
    if not isinstance(warp, str):
        return warp
    if warp != AUTO:
        raise ValueError(f"a warp is an IrWarp or {AUTO!r}, not {warp!r}")
    ir = pair_infrared_index(frames, task)
    return estimate_ir_warp(frames[ir], frames[1 - ir]).as_warp()


def write_warp(path: str | Path, warp: IrWarp) -> Path:
    """Save ``warp`` as a file ``--ir-warp FILE`` reads (a 3×3 homography; its description as a comment), atomically."""
    lines = ["# fusecli fuse --ir-warp: infrared pixel (x, y) -> visible pixel (x', y'), 3x3 homography"]
    lines.append(f"# {warp.description}")
    lines += [" ".join(f"{v:.9g}" for v in row) for row in warp.matrix]
    path = Path(path)
    write_bytes_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path
