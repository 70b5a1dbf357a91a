"""Infrared onto visible for a user's own camera rig: a fixed warp, and the part both cameras see.

Why: the public VIF data sets are registered already, but a thermal camera mounted beside a
visible one has another lens, another resolution and another viewpoint, so its frames do not
line up with the visible frames pixel for pixel; fusing them as they are doubles every edge.
Such a rig is calibrated once (a heated checkerboard, or four or more points picked in both
images) and the same warp then serves every pair it records, so fusecli takes the warp as a
file and applies it to each pair: the infrared frame is resampled onto the visible frame, and
both are cropped to the largest upright rectangle that both cameras see.

``--ir-warp auto`` estimates the warp from the pair itself instead (:mod:`fusecli.geometry.warp_estimation`).

Warp files are plain text (``#`` comments; numbers separated by spaces, tabs or commas):

- a 3×3 homography, or the 2×3 affine part of one, mapping infrared pixel ``(x, y)`` to
  visible pixel ``(x', y')`` (OpenCV's convention: pixel centres at integer coordinates), as
  ``numpy.savetxt`` writes OpenCV's ``findHomography`` result;
- or point pairs, one per line, ``x_ir y_ir x_vis y_vis``: three give an affine warp, four or
  more a least-squares homography.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fusecli.errors import FusecliError, InputMismatchError

AUTO = "auto"  # --ir-warp auto: estimate each pair's warp from its frames (fusecli.geometry.warp_estimation)
MIN_SIDE = 16  # a common region narrower than this is a wrong warp, not a picture
SHRINK_FIRST = 0.5  # an infrared frame landing on under half its own area is shrunk by INTER_AREA first (no aliasing)


class WarpFileError(FusecliError):
    """A warp file that cannot be read as a homography, an affine matrix or point pairs."""


@dataclass(frozen=True)
class IrWarp:
    """A rig's infrared → visible warp and where it came from (for the run's notes)."""

    matrix: np.ndarray  # (3, 3) float64: visible (x', y', 1) ~ matrix @ infrared (x, y, 1)
    description: str

    def __post_init__(self) -> None:
        check_matrix(self.matrix, self.description)


def check_matrix(matrix: np.ndarray, where: str = "the warp") -> None:
    """A finite, invertible 3×3 matrix (else :class:`WarpFileError`)."""
    matrix = np.asarray(matrix)
    if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
        raise WarpFileError(f"{where}: a warp is a finite 3x3 matrix, got shape {matrix.shape}")
    scale = np.abs(matrix).max()
    if scale == 0 or abs(np.linalg.det(matrix / scale)) < 1e-12:
        raise WarpFileError(f"{where}: the matrix is singular (it flattens the image onto a line)")


def _rows(text: str, where: str) -> list[list[float]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            rows.append([float(v) for v in re.split(r"[\s,;]+", line.strip(" ,;[]")) if v])
        except ValueError:
            raise WarpFileError(f"{where}, line {number}: {line!r} is not a row of numbers") from None
    return rows


def parse_warp(text: str, where: str = "the warp") -> IrWarp:
    """A warp file's text → :class:`IrWarp` (formats: module docstring)."""
    rows = _rows(text, where)
    widths = {len(r) for r in rows}
    if widths == {3} and len(rows) in (2, 3):
        matrix = np.array(rows + ([[0.0, 0.0, 1.0]] if len(rows) == 2 else []), np.float64)
        kind = "affine matrix" if len(rows) == 2 else "homography"
        return IrWarp(_normalised(matrix, where), f"the {kind} in {where}")
    if widths == {4} and len(rows) >= 3:
        return _fit_points(np.array(rows, np.float64), where)
    if not rows:
        raise WarpFileError(f"{where} holds no numbers; give a 3x3 homography, a 2x3 affine matrix or rows of 'x_ir y_ir x_vis y_vis'")
    raise WarpFileError(
        f"{where}: {len(rows)} row(s) of {sorted(widths)} numbers; give a 3x3 homography, a 2x3 affine matrix "
        "or at least 3 rows of 'x_ir y_ir x_vis y_vis' point pairs"
    )


def read_warp(path: str | Path) -> IrWarp:
    """Read a warp file (formats: module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WarpFileError(f"cannot read the warp file {path}: {exc}") from None
    return parse_warp(text, str(path))


def _normalised(matrix: np.ndarray, where: str) -> np.ndarray:
    check_matrix(matrix, where)
    return matrix / matrix[2, 2] if matrix[2, 2] != 0 else matrix


def _fit_points(points: np.ndarray, where: str) -> IrWarp:
    """Affine from 3 point pairs, least-squares homography from 4 or more; notes the fit's error."""
    src, dst = points[:, :2].astype(np.float32), points[:, 2:].astype(np.float32)
    if _on_a_line(src) or _on_a_line(dst):
        raise WarpFileError(f"{where}: the {len(points)} points lie on a line; they fix no warp")
    if len(points) == 3:
        matrix = np.vstack([cv2.getAffineTransform(src, dst), [0.0, 0.0, 1.0]])
        kind = "affine warp"
    else:
        matrix, _ = cv2.findHomography(src, dst, 0)
        if matrix is None:
            raise WarpFileError(f"{where}: the {len(points)} point pairs fix no homography (three or more on a line?)")
        kind = "homography"
    matrix = _normalised(np.asarray(matrix, np.float64), where)
    error = np.sqrt(np.mean(np.sum((project(matrix, points[:, :2]) - points[:, 2:]) ** 2, axis=1)))
    return IrWarp(matrix, f"the {kind} fitted to the {len(points)} point pairs in {where} (rms error {error:.2f} px)")


def _on_a_line(points: np.ndarray) -> bool:
    """Whether ``(N, 2)`` points are (nearly) collinear: their spread across their main axis is nil."""
    spread = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    return bool(spread[-1] <= 1e-6 * max(spread[0], 1e-12))


def project(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N, 2)`` points through a homography; errors if one maps to or beyond infinity."""
    h = np.c_[points, np.ones(len(points))] @ matrix.T
    if (h[:, 2] <= 1e-12).any():
        raise InputMismatchError("the warp sends part of the infrared frame to infinity (behind the visible camera); check the warp")
    return h[:, :2] / h[:, 2:]


def _corners(shape: tuple[int, ...]) -> np.ndarray:
    h, w = shape[:2]
    return np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)


def corner_distance(matrix: np.ndarray, other: np.ndarray, ir_shape: tuple[int, ...], worst: bool = False) -> float:
    """Mean distance (visible pixels) between where two warps (3×3, or 2×3 affine) send an
    infrared frame's four corners: how far apart two estimates of one rig's warp are (the usual
    homography error); ``worst``: the largest of the four instead."""
    matrix, other = (np.vstack([m, [0, 0, 1]]) if m.shape == (2, 3) else m for m in (np.asarray(matrix, np.float64), np.asarray(other, np.float64)))
    corners = _corners(ir_shape)
    distances = np.linalg.norm(project(matrix, corners) - project(other, corners), axis=1)
    return float(distances.max() if worst else distances.mean())


def resize_map(fx: float, fy: float) -> np.ndarray:
    """3×3 map from a frame's pixels to the same frame resized by ``fx`` × ``fy`` (pixel centres, as ``cv2.resize``)."""
    return np.array([[fx, 0.0, (fx - 1) / 2], [0.0, fy, (fy - 1) / 2], [0.0, 0.0, 1.0]])


def common_box(matrix: np.ndarray, ir_shape: tuple[int, ...], vis_shape: tuple[int, ...]) -> tuple[slice, slice]:
    """``(rows, cols)`` of the visible frame: the largest upright rectangle inside both the
    visible frame and the warped infrared frame (a convex quadrilateral, so each row of it is one
    interval and a rectangle is inside when its rows' intervals all hold it)."""
    quad = project(matrix, _corners(ir_shape))
    vis_h, vis_w = vis_shape[:2]
    ys = np.arange(vis_h, dtype=np.float64)
    left, right = np.full(vis_h, np.inf), np.full(vis_h, -np.inf)
    for (x0, y0), (x1, y1) in zip(quad, np.roll(quad, -1, axis=0)):
        if y0 == y1:
            continue
        t = (ys - y0) / (y1 - y0)
        on = (t >= 0) & (t <= 1)
        x = x0 + t * (x1 - x0)
        left[on], right[on] = np.minimum(left[on], x[on]), np.maximum(right[on], x[on])
    lo = np.ceil(np.maximum(left, 0) - 1e-9)  # a pixel column whose centre is inside both
    hi = np.floor(np.minimum(right, vis_w - 1) + 1e-9)
    hi[~np.isfinite(left)] = -1  # rows the quadrilateral misses
    best, box = 0, None
    for top in np.flatnonzero(hi >= lo):
        width = np.minimum.accumulate(hi[top:]) - np.maximum.accumulate(lo[top:]) + 1
        area = np.where(width > 0, width, 0) * np.arange(1, vis_h - top + 1)
        bottom = int(area.argmax())
        if area[bottom] > best:
            best = area[bottom]
            x0 = int(np.max(lo[top : top + bottom + 1]))
            box = (slice(int(top), int(top) + bottom + 1), slice(x0, x0 + int(width[bottom])))
    if box is None or box[0].stop - box[0].start < MIN_SIDE or box[1].stop - box[1].start < MIN_SIDE:
        raise InputMismatchError(
            f"the warped infrared frame covers no usable part of the {vis_w}x{vis_h} visible frame; "
            "a warp maps infrared pixels to visible pixels: check its direction and the image order"
        )
    return box


def register_infrared(infrared: np.ndarray, visible: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """``(infrared, visible, box)``: the infrared frame resampled onto the visible frame's pixel
    grid and both cropped to ``box`` (:func:`common_box`), the part both cameras see. Frames keep
    their dtype (uint8/uint16/float) and channels."""
    check_matrix(matrix)
    box = common_box(matrix, infrared.shape, visible.shape)
    quad = project(matrix, _corners(infrared.shape))
    footprint = cv2.contourArea(quad.astype(np.float32)) / max(1.0, (infrared.shape[0] - 1) * (infrared.shape[1] - 1))
    if footprint < SHRINK_FIRST:  # warping straight down would alias: shrink the frame first
        factor = np.sqrt(footprint)
        h, w = infrared.shape[:2]
        small = (max(2, round(w * factor)), max(2, round(h * factor)))
        infrared = cv2.resize(infrared, small, interpolation=cv2.INTER_AREA)
        matrix = matrix @ resize_map(w / small[0], h / small[1])
    rows, cols = box
    shift = np.array([[1.0, 0.0, -cols.start], [0.0, 1.0, -rows.start], [0.0, 0.0, 1.0]])
    size = (cols.stop - cols.start, rows.stop - rows.start)
    warped = cv2.warpPerspective(infrared, shift @ matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if infrared.ndim == 3 and warped.ndim == 2:  # OpenCV drops a single channel axis
        warped = warped[..., None]
    return warped, visible[rows, cols], box


def register_pair(frames: list[np.ndarray], matrix: np.ndarray, task: str | None = None) -> tuple[list[np.ndarray], tuple[slice, slice]]:
    """A VIF pair (either order: the gray frame is the infrared) registered by
    :func:`register_infrared`, in its order, and the box of the visible frame it keeps. The one
    place that says which inputs a warp takes, for ``fuse`` and ``metrics`` alike."""
    ir = pair_infrared_index(frames, task)
    infrared, visible, box = register_infrared(frames[ir], frames[1 - ir], matrix)
    return ([infrared, visible] if ir == 0 else [visible, infrared]), box


def pair_infrared_index(frames: Sequence[np.ndarray], task: str | None = None) -> int:
    """Which of a pair to register is the infrared frame (the gray one); errors for anything
    that is not one infrared + visible pair."""
    from fusecli.imaging.infrared import infrared_index

    if task not in (None, "vif"):
        raise InputMismatchError(f"--ir-warp registers infrared + visible pairs (task vif), not {task}")
    if len(frames) != 2:
        raise InputMismatchError(f"--ir-warp registers one infrared and one visible image, got {len(frames)} images")
    return infrared_index(frames)


def describe_box(box: tuple[slice, slice], vis_shape: tuple[int, ...]) -> str:
    """``box`` in words for the run's notes, e.g. "397x315 at (58, 99) of the 512x512 visible frame"."""
    rows, cols = box
    return (
        f"{cols.stop - cols.start}x{rows.stop - rows.start} at ({cols.start}, {rows.start}) "
        f"of the {vis_shape[1]}x{vis_shape[0]} visible frame"
    )
