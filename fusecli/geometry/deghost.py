"""Ghost removal for exposure fusion of hand-held brackets: people, cars, leaves and waves that
move between shots.

Exposure fusion blends every shot wherever it is well exposed, so an object that moved shows
up half-transparent in several places ("ghosts"). The shots are compared with one reference
shot (the best exposed): per colour channel, intensity maps fitted by histogram matching on
the whole frames predict the range of values each shot should show from the reference's; where
a shot falls outside that range by more than noise explains, it is left out of the blend there
and the reference (and the shots that agree with it) fill in. This is the consistency test of
Kang et al. (2003) and Granados et al. (2013), with intensity maps instead of a calibrated
camera response, so it works on JPEGs of unknown tone curve.

The maps and the reference are chosen from the whole frames (:func:`plan_deghost`), so tiles of
a large image agree; the per-pixel factors (:func:`consistency`) are local.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from fusecli.imaging.color import luminance
from fusecli.errors import InputMismatchError
from fusecli.imaging import as_float

BINS = 1024
# A shot disagrees with the reference where a channel lies outside its predicted range by more
# than LOW (0..1), fully at HIGH: JPEG noise and tone-curve misfits stay below LOW on still brackets.
LOW, HIGH = 0.06, 0.14
# A value stands for any within this distance (sensor noise, JPEG): 0..1.
NOISE = 0.02
# Channel values this close to white count as clipped when choosing the reference.
CLIPPED = 0.02
SAMPLE_PIXELS = 1 << 19  # the intensity maps are fitted on about this many pixels of each shot
WORK_PIXELS = 1 << 21  # ghosts are found on at most about this many (they are areas, not pixels)


@dataclass
class DeghostPlan:
    """What the whole bracket decides: the reference shot and each shot's intensity maps."""

    reference: int
    shape: tuple[int, int]  # (H, W) of the whole frames: tiles find ghosts at the same scale as the whole
    maps: list[np.ndarray]  # per shot: (C, 2, BINS), each channel's range predicted from the reference's (its own: identity)
    inverse: list[np.ndarray]  # per shot: (C, 2, BINS), the reference's channels' ranges predicted from this shot's
    moving: list[float] = field(default_factory=list)  # per shot: share of its (sampled) pixels left out


def _channels(image: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` float32 in 0..1 of a gray or colour image (alpha dropped)."""
    image = as_float(np.asarray(image))
    return image[..., None] if image.ndim == 2 else image[..., :3]


def _resized(frame: np.ndarray, scale: float) -> np.ndarray:
    """``frame`` as :func:`_channels`, area-averaged to ``scale`` (<= 1) times its size."""
    h, w = frame.shape[:2]
    if scale < 1.0:
        frame = cv2.resize(as_float(np.asarray(frame)), (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return _channels(frame)


def intensity_map(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The range ``(2, BINS)`` of ``target`` values that each ``source`` value maps to by
    histogram matching (one channel of the same scene at another exposure): a ``source`` value
    ``v`` predicts a target value in ``[map[0, i], map[1, i]]``, ``i = round(v * (BINS - 1))``.

    A range, not a value: where ``source`` is clipped, one bin holds a whole band of scene
    intensities, which the other exposure spreads out (a white sky in the bright shot is every
    grey of its clouds in the dark one)."""
    edges = np.linspace(0.0, 1.0, BINS + 1)
    cdf_s = np.cumsum(np.histogram(source, edges)[0]) / source.size
    cdf_t = np.cumsum(np.histogram(target, edges)[0]) / target.size
    # the source bin spanning CDF values [c0, c1] takes the target levels with CDF in that span
    low = np.interp(cdf_s - np.diff(cdf_s, prepend=0.0), cdf_t, edges[1:])
    high = np.interp(cdf_s, cdf_t, edges[1:])
    # and noise: a source value stands for any within NOISE of it (where the map is steep, as
    # near clipping, that is a wide range of target values)
    reach = int(round(NOISE * BINS))
    low = np.concatenate([np.full(reach, low[0]), low])[: BINS]
    high = np.concatenate([high, np.full(reach, high[-1])])[reach:]
    return np.stack([low, high]).astype(np.float32)


def plan_deghost(frames: Sequence[np.ndarray], reference: int | None = None) -> DeghostPlan:
    """Choose the reference (the shot with the most well-exposed pixels unless given) and fit
    every shot's per-channel intensity maps from it, on whole frames ``(H, W[, 3])``
    (uint8/uint16/float). Per channel, because a bright shot clips red before green and blue:
    its luma is no single function of the reference's."""
    h, w = frames[0].shape[:2]
    samples = [_resized(f, min(1.0, float(np.sqrt(SAMPLE_PIXELS / (h * w))))) for f in frames]
    if len({s.shape for s in samples}) > 1:
        raise InputMismatchError("deghosting needs shots of one size and layout")
    if reference is None:  # the shot with the most pixels neither dark nor clipped in any channel
        reference = int(np.argmax([np.mean((luminance(s) > 0.1) & (s.max(axis=2) < 1.0 - CLIPPED)) for s in samples]))
    if not 0 <= reference < len(frames):
        raise ValueError(f"reference {reference} is not one of the {len(frames)} shots")
    ref = samples[reference]
    identity = np.tile(np.linspace(0.0, 1.0, BINS, dtype=np.float32), (ref.shape[2], 2, 1))

    def maps(source: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.stack([intensity_map(source[..., c], target[..., c]) for c in range(ref.shape[2])])

    plan = DeghostPlan(
        reference,
        frames[0].shape[:2],
        [identity if k == reference else maps(ref, s) for k, s in enumerate(samples)],
        [identity if k == reference else maps(s, ref) for k, s in enumerate(samples)],
    )
    plan.moving = [float(1.0 - f.mean()) for f in consistency(samples, plan, samples[0].shape[0] / frames[0].shape[0])]
    return plan


def _blur(y: np.ndarray) -> np.ndarray:
    """Compare areas, not noisy pixels."""
    return cv2.GaussianBlur(np.asarray(y, np.float32), (0, 0), 1.0)


def _bins(y: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(y * (BINS - 1)), 0, BINS - 1).astype(np.int32)


def _outside(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """How far ``y`` lies outside ``[low, high]`` (0 inside)."""
    return np.maximum(np.maximum(low - y, y - high), 0.0)


def _gap(ref: np.ndarray, shot: np.ndarray, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """``(H, W)``: by how much one channel of a shot disagrees with the reference's, beyond
    what the exposure change explains (``forward``/``backward``: its ranges from/to the
    reference, see :func:`intensity_map`). Compared both ways, because a dark shot squeezes
    differences that the reference shows, and the reference squeezes those of a bright shot."""
    # mapped, then blurred: the maps bend (clip) and would not commute with the blur at edges
    r, s = _bins(ref), _bins(shot)
    ahead = _outside(_blur(shot), _blur(forward[0][r]), _blur(forward[1][r]))
    back = _outside(_blur(ref), _blur(backward[0][s]), _blur(backward[1][s]))
    return np.maximum(ahead, back)


def consistency(images: Sequence[np.ndarray], plan: DeghostPlan, scale: float = 1.0) -> list[np.ndarray]:
    """Per shot, ``(H, W)`` float32 in 0..1: 1 where it agrees with the reference, 0 where
    something moved (the reference's own is all ones). ``images``: the shots ``(H, W[, C])``,
    uint8/uint16/float 0..1, whole or a tile, at ``scale`` times the resolution of the frames
    the plan was made from (0.5: half size). Ghosts are areas, so they are looked for at a
    resolution of at most about ``WORK_PIXELS`` for the whole frame, the same in every tile."""
    h, w = images[0].shape[:2]
    whole = (plan.shape[0] * scale, plan.shape[1] * scale)  # the whole frame at the images' resolution
    work = min(1.0, float(np.sqrt(WORK_PIXELS / (whole[0] * whole[1]))))
    shots = [_resized(x, work) for x in images]
    ref = shots[plan.reference]
    size = max(1, int(round(min(whole) * work / 200)) | 1)  # ~0.5 % of the whole frame's short side, odd
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * size + 1, 2 * size + 1))
    speck = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    factors = []
    for k, shot in enumerate(shots):
        if k == plan.reference:
            factors.append(np.ones((h, w), np.float32))
            continue
        gap = np.max([_gap(ref[..., c], shot[..., c], plan.maps[k][c], plan.inverse[k][c]) for c in range(ref.shape[2])], axis=0)
        moved = np.clip((gap - LOW) / (HIGH - LOW), 0.0, 1.0).astype(np.float32)
        moved = cv2.morphologyEx(moved, cv2.MORPH_OPEN, speck)  # lone specks are noise
        moved = cv2.dilate(moved, grow)  # an object's soft edges and shadow move with it
        moved = cv2.GaussianBlur(moved, (0, 0), size)
        factor = np.clip(1.0 - moved, 0.0, 1.0)
        factors.append(factor if factor.shape == (h, w) else cv2.resize(factor, (w, h), interpolation=cv2.INTER_LINEAR))
    return factors
