"""Aligning hand-held stacks before fusion.

* Exposure brackets: median-threshold bitmaps (Ward 2003, ``cv2.AlignMTB``): each shot is
  thresholded at its own median, which is nearly exposure-invariant; integer translation,
  then refined to a rotation and translation by ECC on histogram-matched, downscaled shots.
* Focus stacks: ECC maximisation (``cv2.findTransformECC``) with an affine model, because
  refocusing changes the magnification (focus breathing); estimated on a downscaled copy, each
  shot's search starting from its neighbour's answer, then mapped onto the shot with the
  narrowest view.

Aligned frames are cropped to the region every frame covers, and each frame's estimated
motion is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.exposure import match_histograms

from fusecli.imaging.color import stored_luminance
from fusecli.errors import InputMismatchError


@dataclass
class Motion:
    """Estimated motion of one frame relative to the reference: shift in pixels, rotation and scale."""

    dx: float
    dy: float
    scale: float = 1.0
    angle: float = 0.0  # degrees
    reference: bool = False  # the frame the others were aligned onto
    note: str = ""  # what the user should know, e.g. that a rotation could not be estimated

    def describe(self) -> str:
        if self.reference:
            return "reference"
        text = f"shift ({self.dx:+.1f}, {self.dy:+.1f}) px"
        text += f", rotated {self.angle:+.2f} deg" if abs(self.angle) >= 0.005 else ""
        text += f", scale {self.scale:.4f}" if abs(self.scale - 1) > 1e-4 else ""
        return text + (f" ({self.note})" if self.note else "")


def _motion(warp: np.ndarray, size: tuple[int, int], reference: bool = False, note: str = "") -> Motion:
    """What ``warp`` (2x3, reference pixel -> shot pixel) does to a ``size`` (w, h) shot: how far
    its centre moves onto the reference, its rotation and its scale."""
    centre = np.array([size[0] / 2, size[1] / 2, 1.0])
    shift = centre[:2] - warp @ centre
    angle = float(np.degrees(np.arctan2(warp[1, 0], warp[0, 0])))
    scale = float(np.sqrt(abs(np.linalg.det(warp[:, :2]))))
    return Motion(float(shift[0]), float(shift[1]), scale, angle, reference, note)


def _gray8(image: np.ndarray) -> np.ndarray:
    return np.clip(stored_luminance(image) * 255 + 0.5, 0, 255).astype(np.uint8)


def _valid_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Largest-ish axis-aligned box inside the True region of ``mask`` (shrinks invalid sides)."""
    y0, y1, x0, x1 = 0, mask.shape[0], 0, mask.shape[1]
    while y0 < y1 and x0 < x1:
        sides = {
            "top": (~mask[y0, x0:x1]).sum(),
            "bottom": (~mask[y1 - 1, x0:x1]).sum(),
            "left": (~mask[y0:y1, x0]).sum(),
            "right": (~mask[y0:y1, x1 - 1]).sum(),
        }
        worst = max(sides, key=sides.get)
        if sides[worst] == 0:
            break
        if worst == "top":
            y0 += 1
        elif worst == "bottom":
            y1 -= 1
        elif worst == "left":
            x0 += 1
        else:
            x1 -= 1
    if y1 - y0 < 8 or x1 - x0 < 8:
        raise InputMismatchError("the frames overlap too little to align")
    return y0, y1, x0, x1


def _warp_all(frames: list[np.ndarray], warps: list[np.ndarray]) -> list[np.ndarray]:
    """Apply inverse-map affine warps and crop to the region all frames cover."""
    h, w = frames[0].shape[:2]
    valid = np.ones((h, w), bool)
    out = []
    for frame, warp in zip(frames, warps):
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        out.append(cv2.warpAffine(frame, warp, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT))
        covered = cv2.warpAffine(np.ones((h, w), np.uint8), warp, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
        valid &= covered > 0
    y0, y1, x0, x1 = _valid_box(valid)
    return [f[y0:y1, x0:x1] for f in out]


def align_exposures(frames: list[np.ndarray], reference: int | None = None, max_side: int = 1024, rotation: bool = True) -> tuple[list[np.ndarray], list[Motion]]:
    """Move every shot onto ``reference`` (default: the middle one) by :func:`exposure_warps`,
    cropped to the area every shot covers."""
    warps, motions = exposure_warps(frames, reference, max_side, rotation)
    return _warp_all(frames, warps), motions


def exposure_warps(frames: list[np.ndarray], reference: int | None = None, max_side: int = 1024, rotation: bool = True) -> tuple[list[np.ndarray], list[Motion]]:
    """Each shot's warp onto ``reference`` (2x3, reference pixel -> shot pixel) and motion: a
    translation from median-threshold bitmaps, then refined to a rotation and translation by
    ECC (``rotation=False``: the translation alone).

    A hand-held bracket also turns a little between shots (0.5 degree moves the corners of a
    6000-px frame by 25 px), which a translation cannot undo. ECC compares the shots after
    matching the shot's histogram to the reference's (the tone curve between exposures is
    monotone, not linear) and leaves out pixels clipped in the reference; where it does not
    converge, wanders far from the bitmaps' answer, or moves no corner by half a pixel, the
    translation is kept.
    """
    ref = len(frames) // 2 if reference is None else reference
    mtb = cv2.createAlignMTB(max_bits=6, exclude_range=4, cut=True)
    grays = [_gray8(f) for f in frames]
    scale = min(1.0, max_side / max(frames[0].shape[:2]))
    small = [cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for g in grays] if rotation else []
    unclipped = ((small[ref] > 4) & (small[ref] < 251)).astype(np.uint8) if rotation else None
    h, w = frames[0].shape[:2]
    warps, motions = [], []
    for i, gray in enumerate(grays):
        dx, dy = mtb.calculateShift(grays[ref], gray) if i != ref else (0, 0)  # what moves the shot onto the reference
        warp, note = np.float32([[1, 0, -dx], [0, 1, -dy]]), ""  # reference pixel -> shot pixel
        if i != ref and rotation:
            warp, note = _refine_rigid(small[ref], match_histograms(small[i], small[ref]), unclipped, warp, scale)
        warps.append(warp)
        motions.append(_motion(warp, (w, h), reference=i == ref, note=note))
    return warps, motions


def _refine_rigid(reference: np.ndarray, shot: np.ndarray, mask: np.ndarray, warp: np.ndarray, scale: float) -> tuple[np.ndarray, str]:
    """ECC rotation + translation of ``shot`` onto ``reference`` (both downscaled by ``scale``),
    started from the full-resolution ``warp``; ``warp`` itself, with the reason, if ECC fails or
    strays (a note for the user), or lands within half a pixel of it (no note)."""
    start = warp.copy()
    start[:, 2] *= scale
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    try:
        _, found = cv2.findTransformECC(reference.astype(np.float32), shot.astype(np.float32), start, cv2.MOTION_EUCLIDEAN, criteria, mask, 5)
    except cv2.error:
        return warp, "no rotation found (ECC did not converge): translation only"
    found[:, 2] /= scale
    h, w = reference.shape[0] / scale, reference.shape[1] / scale
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float32).T
    moved = np.abs((found - warp) @ corners).max()  # pixels along x or y, at the worst corner
    if moved > 0.05 * max(h, w):
        return warp, "no rotation found (ECC strayed from the translation): translation only"
    if moved < 0.5:  # not worth resampling the shot (a tripod bracket)
        return warp, ""
    return found.astype(np.float32), ""


def align_focus(frames: list[np.ndarray], reference: int | None = None, max_side: int = 1024) -> tuple[list[np.ndarray], list[Motion]]:
    """Affine ECC alignment of a focus stack onto ``reference`` (handles focus breathing).

    By default the reference is the shot with the narrowest view (the most magnified: focus
    breathing widens or narrows the view as the focus moves). Every other shot covers it, so
    the result keeps that shot's full frame and resolution, instead of a crop of a wider shot
    (on the 10-shot `depthmap` stack, 16 % breathing: 1024x768 instead of 879x664).
    """
    scale = min(1.0, max_side / max(frames[0].shape[:2]))
    # downscaled first, then gray: a 27 MP shot's full-resolution luma would cost 0.1 s for nothing
    small = [_gray8(f if scale == 1 else cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)).astype(np.float32) for f in frames]
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    anchor = 0 if reference is None else reference  # the shot the others are estimated against
    found = {anchor: np.eye(2, 3, dtype=np.float32)}  # anchor pixel -> that frame's pixel (small scale)
    # outwards from the anchor, each search starting from its neighbour's answer: focus
    # breathing builds up shot by shot, and a deep stack's far end is too far for a cold start
    for i in [*range(anchor + 1, len(small)), *range(anchor - 1, -1, -1)]:
        start = found[i - 1 if i > anchor else i + 1].copy()
        try:
            _, found[i] = cv2.findTransformECC(small[anchor], small[i], start, cv2.MOTION_AFFINE, criteria, None, 5)
        except cv2.error as exc:
            raise InputMismatchError(f"could not align frame {i + 1} to frame {anchor + 1} (ECC did not converge: {exc.msg if hasattr(exc, 'msg') else exc})") from None
    to_frame = []  # 3x3, full resolution
    for i in range(len(small)):
        warp = found[i].astype(np.float64)
        warp[:, 2] /= scale
        to_frame.append(np.vstack([warp, [0, 0, 1]]))
    magnification = [abs(np.linalg.det(m[:2, :2])) for m in to_frame]
    ref = int(np.argmax(magnification)) if reference is None else reference
    from_reference = np.linalg.inv(to_frame[ref])
    warps = [(m @ from_reference)[:2].astype(np.float32) for m in to_frame]  # reference pixel -> frame i's pixel
    size = (frames[0].shape[1], frames[0].shape[0])
    return _warp_all(frames, warps), [_motion(warp, size, reference=i == ref) for i, warp in enumerate(warps)]
