"""Training-free fusion methods: exposure fusion, focus fusion and a pyramid VIF method.

Each method is ``method(frames) -> fused`` on float32 images in [0, 1] (``(H, W)`` or
``(H, W, 3)``, all the same size) and is registered by name in :data:`FUSION_METHODS`.
They share one Laplacian-pyramid blend (Burt & Adelson), so weights chosen per pixel blend
without seams or halos. Working in float keeps 16-bit inputs exact.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from ..color import colorize, luminance, stored_luminance
from ..deghost import DeghostPlan, consistency, plan_deghost
from ..errors import InputMismatchError
from ..io import as_float
from ..registry import Registry

Frames = Sequence[np.ndarray]
FusionMethod = Callable[[Frames], np.ndarray]

FUSION_METHODS: Registry[FusionMethod] = Registry("fusion method")


def pyramid_levels(shape: tuple[int, int]) -> int:
    """Levels for an image of ``shape``: down to 16-31 px, at most 8 (tiles use the whole image's).
    The depth of focus-fusion and pyramid-vif (deeper does not score better there)."""
    return max(1, min(8, int(np.log2(max(1, min(shape)))) - 3))


def exposure_levels(shape: tuple[int, int]) -> int:
    """Exposure fusion's depth, ``floor(log2(shorter side)) - 1``: the coarsest level is 4-7 px,
    so large-scale tones blend with weights smoothed over nearly the whole frame (Mertens et
    al. and OpenCV go one level further). Stopping at 16-31 px, as :func:`pyramid_levels`
    does, blends them patch by patch: flat, blotchy skies and halos. On 138 real brackets,
    mean MEF-SSIM 0.9719 -> 0.9828, better on 127 (``python bench/mef_depth.py``)."""
    return max(1, int(np.log2(max(1, min(shape)))) - 1)


# Methods whose depth is not :func:`pyramid_levels` (canonical names).
_DEPTHS: dict[str, Callable[[tuple[int, int]], int]] = {"exposure-fusion": exposure_levels}


def method_levels(method: str, shape: tuple[int, int]) -> int:
    """The pyramid depth ``method`` uses on a whole image of ``shape``; its tiles are given the
    same, so they blend alike."""
    return _DEPTHS.get(FUSION_METHODS.canonical(method), pyramid_levels)(shape)


def _levels(shape: tuple[int, int], requested: int | None = None) -> int:
    return requested if requested else pyramid_levels(shape)


def gaussian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    pyramid = [image]
    for _ in range(levels - 1):
        pyramid.append(cv2.pyrDown(pyramid[-1]))
    return pyramid


def laplacian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    gauss = gaussian_pyramid(image, levels)
    pyramid = []
    for fine, coarse in zip(gauss[:-1], gauss[1:]):
        up = cv2.pyrUp(coarse, dstsize=(fine.shape[1], fine.shape[0]))
        pyramid.append(np.subtract(fine, up, out=up))  # into the fresh array: no new 24 MP allocation
    pyramid.append(gauss[-1])
    return pyramid


def collapse(pyramid: list[np.ndarray]) -> np.ndarray:
    image = pyramid[-1]
    for detail in reversed(pyramid[:-1]):
        image = cv2.pyrUp(image, dstsize=(detail.shape[1], detail.shape[0])) + detail
    return image


def _weighted_laplacian(frame: np.ndarray, weight: np.ndarray, levels: int) -> list[np.ndarray]:
    """``frame``'s Laplacian pyramid, each level times the Gaussian pyramid of ``weight`` ``(H, W)``."""
    frame = np.asarray(frame, np.float32)
    lap = laplacian_pyramid(frame, levels)
    gw = gaussian_pyramid(weight, levels)
    # in place but for a one-level pyramid, whose only level is the caller's frame
    return [np.multiply(l, g[..., None] if l.ndim == 3 else g, out=None if l is frame else l) for l, g in zip(lap, gw)]


def pyramid_blend(frames: Frames, weights: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Blend ``frames`` with per-pixel ``weights`` ``(N, H, W)`` (normalised here) in a Laplacian pyramid."""
    weights = np.asarray(weights, np.float32)
    weights = weights / np.maximum(weights.sum(0, keepdims=True), 1e-12)
    blend = _StreamingBlend(_levels(frames[0].shape[:2], levels))
    for frame, weight in zip(frames, weights):
        blend.add(np.asarray(frame), weight)
    return blend.result()


def _in_order(pool: ThreadPoolExecutor, workers: int, work: Callable, *items: Sequence) -> Iterator:
    """``pool.map(work, *items)`` in order, but with only ``workers`` (the pool's) calls in
    flight: their results (full-resolution arrays) are not computed ahead and held."""
    for start in range(0, len(items[0]), workers):
        yield from pool.map(work, *(seq[start : start + workers] for seq in items))


def _check(frames: Frames, keep_integers: bool = False) -> list[np.ndarray]:
    """Frames of one size and layout, as float32 in 0..1 (uint8/uint16 kept with ``keep_integers``)."""
    frames = [f if keep_integers and f.dtype in (np.uint8, np.uint16) else as_float(f) for f in map(np.asarray, frames)]
    if len(frames) < 2:
        raise InputMismatchError(f"fusion needs at least 2 images, got {len(frames)}")
    if len({f.shape[:2] for f in frames}) > 1:
        raise InputMismatchError("all images to fuse must have the same size")
    if len({f.ndim for f in frames}) > 1:  # mixed gray and colour: promote to RGB
        frames = [np.repeat(f[..., None], 3, 2) if f.ndim == 2 else f[..., :3] for f in frames]
    return frames


def mertens_weights(frame: np.ndarray, contrast: float = 1.0, saturation: float = 1.0, exposedness: float = 1.0) -> np.ndarray:
    """Mertens et al.'s weight ``C^wc * S^ws * E^we`` of one frame, ``(H, W)`` float32.

    C = |Laplacian of luma|, S = std over RGB, E = prod_c exp(-(x_c - 0.5)^2 / (2 * 0.2^2)).
    Computed with the identities ``prod_c exp(a_c) = exp(sum_c a_c)`` and
    ``3 S^2 = sum_c (x_c - 0.5)^2 - 3 (mean - 0.5)^2``, so one exponential and one pass of
    squared deviations serve both terms.
    """
    gray = luminance(frame)
    w = np.abs(cv2.Laplacian(gray, cv2.CV_32F))
    if contrast != 1.0:
        w = cv2.pow(w, contrast)
    if frame.ndim == 3:
        dev = cv2.subtract(frame, (0.5, 0.5, 0.5, 0.0))
        sq = cv2.transform(cv2.multiply(dev, dev), np.ones((1, 3), np.float32))  # sum_c (x_c - .5)^2
        mean_dev = cv2.transform(dev, np.full((1, 3), 1 / 3, np.float32))
        sat = cv2.sqrt(np.maximum((sq - 3 * mean_dev * mean_dev) / 3, 0))
        w = cv2.multiply(w, cv2.pow(sat, saturation) if saturation != 1.0 else sat)
    else:
        sq = cv2.multiply(gray - 0.5, gray - 0.5)
    w = cv2.multiply(w, cv2.exp(sq * (-exposedness / (2 * 0.2**2))))
    return w + 1e-12


@dataclass(frozen=True)
class CoarseBlend:
    """An exposure fusion's luma blend from pyramid level ``level`` down, collapsed to that level
    (``(ceil(H / 2**level), ceil(W / 2**level))``), computed once on the whole frames
    (:func:`exposure_coarse`): the tiles of a large image take their large-scale tones from it,
    so they agree however deep the pyramid. A tile must start at multiples of ``2**level``."""

    level: int
    residual: np.ndarray

    def crop(self, where: tuple[slice, slice]) -> "CoarseBlend":
        """The part from the tile ``where`` (rows, columns of the whole image) on."""
        step = 2**self.level
        top, left = where[0].start or 0, where[1].start or 0
        if top % step or left % step:
            raise ValueError(f"a tile at ({top}, {left}) is not on the level-{self.level} grid")
        return CoarseBlend(self.level, self.residual[top // step :, left // step :])


@FUSION_METHODS.register("exposure-fusion", aliases=("mertens",))
def exposure_fusion(
    frames: Frames,
    contrast: float = 1.0,
    saturation: float = 1.0,
    exposedness: float = 1.0,
    levels: int | None = None,
    deghost: bool | DeghostPlan = False,
    coarse: CoarseBlend | None = None,
) -> np.ndarray:
    """Mertens et al. 2007: weight each shot by contrast (|Laplacian|), saturation (RGB std)
    and well-exposedness (Gaussian around 0.5, sigma 0.2), then blend in a Laplacian pyramid
    as deep as :func:`exposure_levels` (or ``levels``).

    ``deghost``: leave each shot out where it disagrees with a reference shot (something moved;
    :mod:`fusecli.deghost`); ``True`` plans it from these frames, a :class:`DeghostPlan` (from
    the whole frames, when these are a tile) is used as given. ``coarse``: when these frames
    are a tile, the whole image's blend from some level down (:func:`exposure_coarse`, cropped
    to the tile), which replaces the tile's own there.

    Only the luma pyramid's finest level is built at full resolution. The weights are
    computed on half-resolution shots and enter the pyramid at its second level (the finest
    level gets their ``pyrUp``: the weight pyramid is a low-pass pyramid, so its finest level
    is the smoothest relative to its detail), and colour frames blend their chroma with those
    weights at half resolution (chroma carries little fine detail; JPEG stores it at half
    resolution anyway). 8/16-bit frames are never converted to float at full resolution:
    luma and the half-size shots come from 16-bit integer arithmetic (8-bit data scaled by
    256 first, so nothing is rounded to 8 bits). A 24 MP bracket thus costs a few
    full-resolution passes per shot, and shots are processed in parallel threads.
    """
    frames = _check(frames, keep_integers=True)
    h, w = frames[0].shape[:2]
    n_levels = levels or exposure_levels((h, w))
    if n_levels < 2 or min(h, w) < 4:  # too small to have a half-resolution level
        floats = [as_float(f) for f in frames]
        weights = [mertens_weights(f, contrast, saturation, exposedness) for f in floats]
        return pyramid_blend(floats, np.stack(_without_ghosts(weights, floats, frames, deghost)), n_levels)
    if coarse is not None:  # the tile's own pyramid stops where the whole image's blend takes over
        n_levels = min(n_levels, coarse.level + 1)
    half = ((w + 1) // 2, (h + 1) // 2)  # the size pyrDown gives
    workers = max(1, min(len(frames), cv2.getNumThreads()))
    with ThreadPoolExecutor(workers) as pool:  # OpenCV and large NumPy operations release the GIL
        lumas, smalls, scales, weights = _prepared_shots(pool, frames, half, (contrast, saturation, exposedness), deghost)

        def frame_terms(stored_y: np.ndarray, stored_small: np.ndarray, scale: np.float32, weight: np.ndarray) -> list[np.ndarray]:
            """This shot's weighted Laplacian pyramid of luma (the full-resolution work), and
            its weighted half-size colour last (colour blends with the same weights)."""
            y = _scaled(stored_y, scale)
            down = cv2.pyrDown(y)
            finest = cv2.pyrUp(down, dstsize=(w, h))
            cv2.subtract(y, finest, dst=finest)  # in place: each full-resolution temporary is 100 MB at 24 MP
            del y
            cv2.multiply(finest, cv2.pyrUp(weight, dstsize=(w, h)), dst=finest)
            terms = [finest, *_weighted_laplacian(down, weight, n_levels - 1)]
            return terms + ([_scaled(stored_small, scale) * weight[..., None]] if stored_small.ndim == 3 else [])

        result: list[np.ndarray] | None = None
        for terms in _in_order(pool, workers, frame_terms, lumas, smalls, scales, weights):
            result = terms if result is None else [cv2.add(r, t, dst=r) for r, t in zip(result, terms)]
        assert result is not None
        del lumas, smalls
        if coarse is not None and n_levels == coarse.level + 1:
            mine = result[n_levels - 1]
            result[n_levels - 1] = np.ascontiguousarray(coarse.residual[: mine.shape[0], : mine.shape[1]])
        if frames[0].ndim == 2:
            y = collapse(result)
            return np.clip(y, 0.0, 1.0, out=y)
        colour = result.pop()  # blended half-size RGB
        y = collapse(result)
        # RGB = fused luma + the blended colour's chroma, i.e. + (colour - luma(colour)):
        # computed at half size, upsampled once, added in row bands by the pool.
        # (to twice the half size, cropped: an odd side keeps the grid that _half_size gave it)
        out = cv2.resize(colour - luminance(colour)[..., None], (2 * half[0], 2 * half[1]), interpolation=cv2.INTER_LINEAR)[:h, :w]

        def add_luma(band: slice) -> None:
            out[band] += y[band, :, None]
            np.clip(out[band], 0.0, 1.0, out=out[band])

        step = -(-h // workers)
        list(pool.map(add_luma, [slice(i, min(h, i + step)) for i in range(0, h, step)]))
    return out


def exposure_coarse(
    frames: Frames,
    level: int,
    levels: int | None = None,
    contrast: float = 1.0,
    saturation: float = 1.0,
    exposedness: float = 1.0,
    deghost: bool | DeghostPlan = False,
) -> CoarseBlend:
    """The whole frames' exposure-fusion blend from pyramid ``level`` (>= 1) down, for the tiles
    of an image too large to fuse at once (:class:`CoarseBlend`). The same arithmetic as
    :func:`exposure_fusion`, so a single tile given it gives that function's output bit for bit;
    it keeps each shot's weight at half size and its luma at ``level`` only."""
    frames = _check(frames, keep_integers=True)
    h, w = frames[0].shape[:2]
    n_levels = levels or exposure_levels((h, w))
    if not 1 <= level < n_levels or min(h, w) < 4:
        raise ValueError(f"level {level} is not inside a {n_levels}-level pyramid of {w}x{h}")
    half = ((w + 1) // 2, (h + 1) // 2)
    workers = max(1, min(len(frames), cv2.getNumThreads()))
    with ThreadPoolExecutor(workers) as pool:
        lumas, _, _, weights = _prepared_shots(pool, frames, half, (contrast, saturation, exposedness), deghost, luma_level=level)
        total: list[np.ndarray] | None = None
        for g, weight in zip(lumas, weights):
            for _ in range(level - 1):
                weight = cv2.pyrDown(weight)
            terms = _weighted_laplacian(g, weight, n_levels - level)
            total = terms if total is None else [cv2.add(t, u, dst=t) for t, u in zip(total, terms)]
    assert total is not None
    return CoarseBlend(level, collapse(total))


def tile_plan(method: str, frames: Frames, levels: int, overlap: int, options: dict) -> tuple[dict, int]:
    """What the tiles of ``frames`` (overlapping by ``overlap``) need from the whole image, added
    to ``method``'s ``options``, and the grid their starts must keep. Exposure fusion's pyramid
    reaches across the whole frame: its tiles take the levels coarser than an eighth of the
    overlap (finer ones' border effects fade inside it) from one blend of the whole frames."""
    if FUSION_METHODS.canonical(method) != "exposure-fusion" or levels < 2:
        return options, 1
    level = max(1, min(levels - 1, int(np.log2(max(overlap, 16))) - 3))
    coarse = exposure_coarse(frames, level, levels, deghost=options.get("deghost", False))
    return {**options, "coarse": coarse}, 2**level


def _prepared_shots(pool: ThreadPoolExecutor, frames: list[np.ndarray], half: tuple[int, int], exponents: tuple[float, float, float], deghost: bool | DeghostPlan, luma_level: int = 0):
    """Per shot: stored full-size luma, stored half-size shot, their scale (:func:`_luma_and_half`)
    and its normalised Mertens weight at half size (times its agreement with the reference,
    with ``deghost``). ``luma_level`` > 0: the luma at that pyramid level instead (float32) and
    no half-size shots, which is all :func:`exposure_coarse` needs of a shot."""

    def prepare(frame: np.ndarray):
        y, small, scale = _luma_and_half(frame, half)
        weight = mertens_weights(_scaled(small, scale), *exponents)
        if luma_level:
            y = cv2.pyrDown(_scaled(y, scale))  # level 1, as exposure_fusion's ``down``
            for _ in range(luma_level - 1):
                y = cv2.pyrDown(y)
        return y, (small if deghost or not luma_level else None), scale, weight

    lumas, smalls, scales, weights = map(list, zip(*pool.map(prepare, frames)))
    if deghost:
        weights = _without_ghosts(weights, [_scaled(s, c) for s, c in zip(smalls, scales)], frames, deghost)
    total = sum(weights)
    weights = [cv2.divide(wt, total) for wt in weights]
    return lumas, (None if luma_level else smalls), scales, weights


def _without_ghosts(weights: list[np.ndarray], images: list[np.ndarray], frames: Frames, deghost: bool | DeghostPlan) -> list[np.ndarray]:
    """``weights`` times each shot's agreement with the reference shot (``images``: the shots at the weights' size)."""
    if not deghost:
        return weights
    plan = plan_deghost(frames) if deghost is True else deghost
    if len(plan.maps) != len(weights):
        raise InputMismatchError(f"the deghosting plan is for {len(plan.maps)} shots, not {len(weights)}")
    return [cv2.multiply(w, c) for w, c in zip(weights, consistency(images, plan, images[0].shape[0] / frames[0].shape[0]))]


def _luma_and_half(frame: np.ndarray, half: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """BT.601 luma ``(H, W)`` and the frame at ``half`` size (2x2 means), as stored values
    and the scale that makes them 0..1: 8/16-bit frames give uint16 arrays (half the memory
    of float32 while a bracket's shots wait for the blend), float frames float32 and 1."""
    if frame.dtype == np.uint8:
        wide, scale = np.left_shift(frame, 8, dtype=np.uint16), np.float32(1 / (255 * 256))  # exact
    elif frame.dtype == np.uint16:
        wide, scale = frame, np.float32(1 / 65535)
    else:
        return luminance(frame), _half_size(frame, half), np.float32(1)
    y = cv2.cvtColor(wide, cv2.COLOR_RGB2GRAY) if wide.ndim == 3 else wide
    return y, _half_size(wide, half), scale


def _half_size(image: np.ndarray, half: tuple[int, int]) -> np.ndarray:
    """Means of 2x2 pixels, an odd last row or column paired with itself: the half-size grid
    is then the same in a tile (starting at even pixels) as in the whole frame, where a plain
    resize of an odd size would stretch it by a fraction of a pixel."""
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        image = cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    return cv2.resize(image, half, interpolation=cv2.INTER_AREA)


def _scaled(stored: np.ndarray, scale: np.float32) -> np.ndarray:
    """float32 in 0..1 from :func:`_luma_and_half`'s stored values."""
    if stored.dtype == np.float32 and scale == 1:
        return stored
    return np.multiply(stored, scale, dtype=np.float32)


@FUSION_METHODS.register("focus-fusion", aliases=("focus-stack",))
def focus_fusion(frames: Frames, window: int = 9, levels: int | None = None) -> np.ndarray:
    """All-in-focus: local energy of the Laplacian as focus measure, the sharpest frame per
    pixel, a majority (median) filter for consistency, softened weights, pyramid blending.

    Streams over the stack, one frame at a time (8/16-bit frames stay integers until their
    turn), so memory does not grow with the number of frames: a focus stack of 7 or 50 shots
    needs one accumulating pyramid, the running best focus and the choice map, besides the
    stored frames. The result is the same as blending all weights at once (:func:`pyramid_blend`).
    """
    frames = _check(frames, keep_integers=True)
    n_levels = _levels(frames[0].shape[:2], levels)

    def focus(frame: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(cv2.Laplacian(stored_luminance(frame), cv2.CV_32F) ** 2, -1, (window, window))

    best = choice = None
    workers = max(1, min(2, cv2.getNumThreads()))  # OpenCV releases the GIL
    with ThreadPoolExecutor(workers) as pool:
        for k, energy in enumerate(_in_order(pool, workers, focus, frames)):
            if best is None:
                best, choice = energy, np.zeros(energy.shape, np.uint8 if len(frames) <= 255 else np.uint16)
            else:  # strictly sharper: ties go to the earlier frame, as argmax
                choice[energy > best] = k
                np.maximum(best, energy, out=best)
    del best
    choice = cv2.medianBlur(choice, 5 if min(choice.shape) >= 5 else 1)  # consistency filtering

    def weight(k: int) -> np.ndarray:
        return cv2.GaussianBlur((choice == k).astype(np.float32), (0, 0), 1.0) + np.float32(1e-6)

    total = weight(0)
    for k in range(1, len(frames)):  # summed in frame order, as pyramid_blend normalises
        total += weight(k)
    np.maximum(total, 1e-12, out=total)
    blend = _StreamingBlend(n_levels)
    for k, frame in enumerate(frames):
        blend.add(frame, weight(k) / total)
    return blend.result()


class _StreamingBlend:
    """:func:`pyramid_blend` one frame at a time: the sum of each frame's Laplacian pyramid
    times its (already normalised) weight's Gaussian pyramid, added level by level in frame
    order, so the result is the same. Its full-resolution scratch arrays are reused from frame
    to frame: on a 24 MP frame, fresh 300 MB arrays cost as much in page faults as the arithmetic."""

    def __init__(self, levels: int):
        self.levels = levels
        self.sum: list[np.ndarray] | None = None
        self._float: np.ndarray | None = None  # the frame as float32 (8/16-bit frames)
        self._detail: np.ndarray | None = None  # its finest Laplacian level, weighted

    def add(self, frame: np.ndarray, weight: np.ndarray) -> None:
        """Add ``frame`` (stored pixels, ``(H, W)`` or ``(H, W, C)``) with ``weight`` ``(H, W)``."""
        stored = frame.dtype in (np.uint8, np.uint16)  # converted into the reused buffer
        if stored and (self._float is None or self._float.shape != frame.shape):
            self._float = np.empty(frame.shape, np.float32)
        image = as_float(frame, out=self._float if stored else None)
        if self.levels < 2 or min(image.shape[:2]) < 2:
            terms = _weighted_laplacian(image, weight, self.levels)
        else:
            h, w = image.shape[:2]
            down = cv2.pyrDown(image)
            if self._detail is None or self._detail.shape != image.shape:
                self._detail = np.empty(image.shape, np.float32)
            detail = cv2.pyrUp(down, dst=self._detail, dstsize=(w, h))
            np.subtract(image, detail, out=detail)
            np.multiply(detail, weight[..., None] if detail.ndim == 3 else weight, out=detail)
            terms = [detail, *_weighted_laplacian(down, cv2.pyrDown(weight), self.levels - 1)]
        if self.sum is None:  # the first frame's terms become the sum (the scratch is handed over)
            self.sum, self._detail = terms, None
        else:
            for total, term in zip(self.sum, terms):
                cv2.add(total, term, dst=total)

    def result(self) -> np.ndarray:
        assert self.sum is not None, "no frame added"
        out = collapse(self.sum)
        return np.clip(out, 0.0, 1.0, out=out)


@FUSION_METHODS.register("pyramid-vif")
def pyramid_vif(frames: Frames, levels: int | None = None) -> np.ndarray:
    """Infrared + visible ``[ir, vis]``: Laplacian pyramids of the luminances, details chosen
    by larger magnitude (per pixel, per level), bases averaged; colour from the visible image."""
    frames = [as_float(np.asarray(f)) for f in frames]
    if len(frames) != 2:
        raise InputMismatchError(f"pyramid-vif fuses one infrared and one visible image, got {len(frames)}")
    ir, vis = luminance(frames[0]), luminance(frames[1])
    if ir.shape != vis.shape:
        raise InputMismatchError("infrared and visible images must have the same size")
    n_levels = _levels(ir.shape, levels)
    a, b = laplacian_pyramid(ir, n_levels), laplacian_pyramid(vis, n_levels)
    fused = [np.where(np.abs(x) >= np.abs(y), x, y) for x, y in zip(a[:-1], b[:-1])]
    fused.append(0.5 * (a[-1] + b[-1]))
    y = np.clip(collapse(fused), 0.0, 1.0).astype(np.float32)
    return colorize(y, frames[1][..., :3]) if frames[1].ndim == 3 else y


def fuse_frames(method: str, frames: Frames, levels: int | None = None) -> np.ndarray:
    """Fuse ``frames`` with the registered training-free method ``method`` (``levels``: its
    pyramid depth; default: the method's own, :func:`method_levels`)."""
    return FUSION_METHODS.get(method)(frames, levels=levels)
