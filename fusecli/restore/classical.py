"""Classical single-frame restorations (denoise, deblock, destripe, dehaze, stretch, ...).

Two users: the "classical restoration + classical fusion" baseline of the model card (told the
degradations, an oracle), and ``mmaif-reg``'s classical base, which restores the frames the
prompt names before the training-free fusion it corrects (config ``restore``), so the network
starts from a dehazed / denoised / stretched fusion instead of having to undo heavy haze itself.

Frames are ``(H, W)`` float32 in 0..1. Restorations that depend on whole-image statistics
(airlight, mean, contrast percentiles) take them from :func:`restoration_stats` when given, so tiles
of a large image are restored alike.
"""

from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np

Stats = dict[str, float]  # one frame's statistics (frame_stats)
RestoreStats = dict[str, Stats]  # per global restoration (restoration_stats)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def denoise(x: np.ndarray, stats: Stats | None = None, strength: float = 12.0) -> np.ndarray:
    """Non-local means (Buades et al.), OpenCV."""
    return cv2.fastNlMeansDenoising(_u8(x), None, h=strength, templateWindowSize=7, searchWindowSize=21).astype(np.float32) / 255.0


def deblock(x: np.ndarray, stats: Stats | None = None) -> np.ndarray:
    """JPEG: a gentler non-local means."""
    return denoise(x, strength=6.0)


def remove_streaks(x: np.ndarray, stats: Stats | None = None) -> np.ndarray:
    """Rain/snow: 5x5 median filter."""
    return cv2.medianBlur(_u8(x), 5).astype(np.float32) / 255.0


def destripe(x: np.ndarray, stats: Stats | None = None) -> np.ndarray:
    """IR fixed-pattern stripes: remove each column's deviation from its smoothed neighbours."""
    cols = x.mean(axis=0)
    smooth = cv2.GaussianBlur(cols[None].astype(np.float32), (0, 0), 5)[0]
    return np.clip(x - (cols - smooth)[None], 0, 1)


def dehaze(x: np.ndarray, stats: Stats | None = None, patch: int = 15, omega: float = 0.95) -> np.ndarray:
    """Dark-channel prior (He et al. 2009) on one channel, box-smoothed transmission."""
    dark = cv2.erode(x.astype(np.float32), np.ones((patch, patch), np.uint8))
    a = (stats or {}).get("airlight", float(np.quantile(x, 0.999)))
    t = 1 - omega * dark / max(a, 1e-3)
    t = cv2.blur(t, (patch * 2 + 1, patch * 2 + 1))
    return np.clip((x - a) / np.maximum(t, 0.1) + a, 0, 1)


def brighten(x: np.ndarray, stats: Stats | None = None, target: float = 0.45) -> np.ndarray:
    """Low exposure: gamma that brings the mean to ``target``."""
    mean = float(np.clip((stats or {}).get("mean", x.mean()), 1e-3, 0.999))
    return np.clip(x, 0, 1) ** (np.log(target) / np.log(mean))


# Contrast restoration: the quantiles that stand for the darkest / brightest pixels (robust to a
# few outliers), and the strongest gain it applies (5x: no real frame is flatter than that).
CONTRAST_QUANTILE = 0.001
MIN_CONTRAST = 0.2


def stretch(x: np.ndarray, stats: Stats | None = None) -> np.ndarray:
    """Low contrast: stretch away from the mean, ``mean + (x - mean) / c``, with the largest gain
    ``1 / c`` that keeps the 0.1st..99.9th percentiles within 0..1.

    Why this and not a percentile-to-range stretch: a flat image is its scene's intensities pulled
    towards their mean, so the mean is kept; and a natural frame reaches black or white somewhere,
    so the gain that first touches either limit undoes the compression (an exposure stack's frames,
    or a frame with a highlight, exactly). A frame already at full range is left unchanged, and
    nothing is clipped beyond the percentiles, where the 1..99 % stretch clipped 2 % of the pixels
    and moved the brightness."""
    stats = stats or frame_stats(x)
    mean = float(np.clip(stats["mean"], 1e-3, 1 - 1e-3))
    return np.clip(mean + (x - mean) / applied_contrast(stats), 0, 1)


def applied_contrast(stats: Stats) -> float:
    """The contrast :func:`stretch` undoes with these statistics: a stack's shared value
    (:func:`share_stack_contrast`) where set, else the frame's own :func:`contrast_of`."""
    return stats.get("contrast") or contrast_of(stats)


def contrast_of(stats: Stats) -> float:
    """The contrast ``c`` (:data:`MIN_CONTRAST`..1) that :func:`stretch` undoes for a frame with
    :func:`frame_stats` ``stats``: the largest that keeps its percentiles within 0..1 after the
    stretch. Never above the true ``c`` of a ``mean + c (x - mean)`` loss, and equal to it when
    the frame's scene reached black or white."""
    mean, low, high = float(np.clip(stats["mean"], 1e-3, 1 - 1e-3)), stats["low"], stats["high"]
    return float(np.clip(max((high - mean) / (1 - mean), (mean - low) / mean), MIN_CONTRAST, 1.0))


def sharpen(x: np.ndarray, stats: Stats | None = None, sigma: float = 2.0, amount: float = 1.0) -> np.ndarray:
    """Blur / down-sampling: unsharp masking."""
    return np.clip(x + amount * (x - cv2.GaussianBlur(x.astype(np.float32), (0, 0), sigma)), 0, 1)


# Applied in this order: noise-like first, then stripes and haze, tone, and sharpening last.
RESTORATIONS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian_noise": denoise,
    "jpeg": deblock,
    "rain": remove_streaks,
    "snow": remove_streaks,
    "ir_stripes": destripe,
    "haze": dehaze,
    "low_exposure": brighten,
    "low_contrast": stretch,
    "gaussian_blur": sharpen,
    "motion_blur": sharpen,
    "downsample": sharpen,
}


# The restorations that read whole-image statistics (the others work on a neighbourhood).
GLOBAL_RESTORATIONS = ("haze", "low_exposure", "low_contrast")
# Whole-image decisions taken with them: which frames of a sample look up-sampled (a prompt that
# names low resolution does not say which frame it means).
FRAME_DECISIONS = ("downsample",)

# Up-sampling detection: log10 of the spectral power at 0.75..1 of Nyquist over that at 0.25..0.4.
# A frame shrunk by s >= 1.4 and resized back (bicubic) has next to nothing above 1/s of Nyquist.
# On the 384-px training and held-out frames (bench/eval_restorer.py's scenes): clean frames
# -2.85..-0.89 (VIF -2.13.., MEF -1.98..; the low end: MFF frames mostly out of focus), frames
# down-sampled by fusecli.degrade -4.49..-2.47; at native size clean VIF -2.18.., MEF -1.86...
# Its heavy range (scale 2..3.5) is told apart; frames shrunk less (1.4..1.6) keep too much fine
# detail (-2.3..-1.5 on a 1/f test frame) and are left unrestored.
UPSAMPLED_BELOW = -2.6
_HIGH_BAND, _MID_BAND = (0.75, 1.0), (0.25, 0.4)


def frame_stats(x: np.ndarray) -> Stats:
    """The statistics a global restoration reads, of one ``(H, W)`` frame (``extreme``:
    :func:`extreme_share`)."""
    low, high, airlight = np.quantile(x, [CONTRAST_QUANTILE, 1 - CONTRAST_QUANTILE, 0.999])
    return {"low": float(low), "high": float(high), "airlight": float(airlight), "mean": float(x.mean()), "extreme": extreme_share(x)}


def extreme_share(x: np.ndarray) -> float:
    """The larger share of an ``(H, W)`` frame's pixels that hold exactly its lowest or exactly its
    highest value.

    Why: a frame whose scene reached black or white (a shadow, a highlight, a sky) has a pile of
    pixels at that limit, and a contrast loss ``mean + c (x - mean)`` moves the pile but keeps it
    a pile at the new extreme. Where it holds at least :data:`CONTRAST_QUANTILE` of the pixels,
    :func:`stretch` takes its gain from that side and undoes the loss exactly; without one the
    scene may not have reached the limit, and the stretch leaves the frame somewhat flat. The
    all-in-one models' correction gate reads it (``correction_gate_extremes``)."""
    x = np.asarray(x)
    return float(max(np.count_nonzero(x <= x.min() + 1e-6), np.count_nonzero(x >= x.max() - 1e-6)) / max(x.size, 1))


def upsampling_score(x: np.ndarray) -> float:
    """How much of an ``(H, W)`` frame's fine detail is missing, as :data:`UPSAMPLED_BELOW` reads it
    (lower: more up-sampled-looking). Hann-windowed, so the frame's borders add no false edges."""
    x = np.asarray(x, np.float64)
    h, w = x.shape
    if min(h, w) < 16:  # too small to tell: treat as detailed
        return 0.0
    x = (x - x.mean()) * np.hanning(h)[:, None]
    x *= np.hanning(w)[None, :]
    power = np.abs(np.fft.rfft2(x)) ** 2
    fy = np.abs(np.fft.fftfreq(h))[:, None] * 2  # in units of Nyquist
    fx = np.fft.rfftfreq(w)[None, :] * 2
    radius = np.hypot(fy, fx)

    def band(limits: tuple[float, float]) -> float:
        return float(power[(radius > limits[0]) & (radius < limits[1])].mean())

    return float(np.log10(band(_HIGH_BAND) / max(band(_MID_BAND), 1e-30) + 1e-20))


def looks_upsampled(x: np.ndarray, stats: Stats | None = None) -> bool:
    """True when frame ``x`` looks shrunk and resized back: what a low-resolution restoration is
    for. ``stats``: :func:`restoration_stats`'s ``"downsample"`` entry of the whole image (tiles)."""
    score = (stats or {}).get("upsampling")
    return (upsampling_score(x) if score is None else score) < UPSAMPLED_BELOW


def restoration_stats(frame: np.ndarray, ops: Sequence[str]) -> RestoreStats:
    """Per global restoration in ``ops`` (and per whole-frame decision: :func:`looks_upsampled`),
    the statistics of the whole frame as that restoration will see it (the restorations before it
    applied: a denoised frame's percentiles, not the noisy one's). Compute once per frame and pass
    to :func:`restore` (or the decision) for every tile, so a tile is restored like the whole
    image, and like the whole image restored without statistics."""
    wanted = [name for name in RESTORATIONS if name in ops]
    last = max((i for i, name in enumerate(wanted) if name in GLOBAL_RESTORATIONS + FRAME_DECISIONS), default=-1)
    stats: RestoreStats = {}
    out = frame.astype(np.float32)
    for index, name in enumerate(wanted[: last + 1]):
        if name in GLOBAL_RESTORATIONS:
            stats[name] = frame_stats(out)
        elif name in FRAME_DECISIONS:
            stats[name] = {"upsampling": upsampling_score(out)}
        if index < last:  # the last one's output is not read
            out = RESTORATIONS[name](out, stats.get(name)).astype(np.float32)
    return stats


def restore(frame: np.ndarray, ops: Sequence[str], stats: RestoreStats | None = None) -> np.ndarray:
    """``frame`` ``(H, W)`` with the restorations for the degradations ``ops`` applied, in the
    order of :data:`RESTORATIONS`; unknown names are an error. ``stats``: from
    :func:`restoration_stats` of the whole image (default: this frame's own, at each step)."""
    if np.ndim(frame) != 2:
        raise ValueError(f"restore takes one (H, W) luminance frame, got shape {np.shape(frame)}")
    _check_ops(ops)
    out = frame.astype(np.float32)
    for name, function in RESTORATIONS.items():
        if name in ops:
            out = function(out, (stats or {}).get(name)).astype(np.float32)
    return out


# Tasks whose frames are one scene seen through one lens (a bracket, a focus stack): a contrast
# loss compresses every frame by the same c (fusecli.degrade does the same: one draw per stack).
STACK_TASKS = ("mef", "mff")


def share_stack_contrast(stats: Sequence[RestoreStats]) -> list[RestoreStats]:
    """The frames' :func:`restoration_stats` with one contrast for the whole stack: the largest of
    the frames' own :func:`contrast_of`.

    Why: each frame's estimate can only fall short of the stack's true ``c`` (it reaches it where
    that frame's scene reached black or white: the dark shot of a bracket, the sharp frame of a
    focus stack), so the largest is the closest, and every frame gets the same gain, which keeps
    the stack's frames consistent for the fusion (``bench/restoration_colour.py``)."""
    contrasts = [contrast_of(frame["low_contrast"]) for frame in stats if "low_contrast" in frame]
    if not contrasts:
        return [dict(frame) for frame in stats]
    shared = max(contrasts)
    return [{**frame, "low_contrast": {**frame["low_contrast"], "contrast": shared}} if "low_contrast" in frame else dict(frame) for frame in stats]


def stack_restoration_stats(frames: Sequence[np.ndarray], ops: Sequence[str], task: str) -> list[RestoreStats]:
    """:func:`restoration_stats` of each of one sample's ``(H, W)`` frames, with the contrast
    shared over an MEF / MFF stack (:func:`share_stack_contrast`; VIF sensors differ, so not there)."""
    stats = [restoration_stats(np.asarray(f, np.float32), ops) for f in frames]
    return share_stack_contrast(stats) if task in STACK_TASKS else stats


def restore_stack(frames: Sequence[np.ndarray], ops: Sequence[str], task: str, stats: Sequence[RestoreStats] | None = None) -> list[np.ndarray]:
    """Every ``(H, W)`` frame of one sample restored for ``ops`` (:func:`restore`), a stack's with
    its shared contrast. ``stats``: :func:`stack_restoration_stats` of the whole frames (tiles);
    without them the statistics are taken on the way, of the frames as each restoration gets them."""
    _check_ops(ops)
    if stats is not None:
        return [restore(f, ops, s) for f, s in zip(frames, stats)]
    if task not in STACK_TASKS or "low_contrast" not in ops:
        return [restore(f, ops) for f in frames]
    order = list(RESTORATIONS)
    before = [name for name in order[: order.index("low_contrast")] if name in ops]
    after = [name for name in order[order.index("low_contrast") :] if name in ops]
    frames = [restore(f, before) for f in frames]
    shared = share_stack_contrast([{"low_contrast": frame_stats(f)} for f in frames])
    return [restore(f, after, s) for f, s in zip(frames, shared)]


def chroma_gain(stats: RestoreStats | None) -> float:
    """By how much a frame's chroma is to be stretched about neutral to go with its restored
    luminance: ``1 / c`` for the contrast ``c`` that :func:`stretch` undoes, 1 without a
    low-contrast restoration in ``stats`` (:func:`restoration_stats` / :func:`stack_restoration_stats`).

    Why: low contrast ``mean + c (RGB - mean)`` scales Cb and Cr about neutral by the same ``c``
    (their RGB weights sum to 0), and the all-in-one models fuse luminance only and take the
    chroma from their inputs; without this a "fix the contrast" request comes back with restored
    tones in washed-out colours."""
    entry = (stats or {}).get("low_contrast")
    if entry is None:
        return 1.0
    return 1.0 / applied_contrast(entry)


def _check_ops(ops: Sequence[str]) -> None:
    unknown = sorted(set(ops) - set(RESTORATIONS))
    if unknown:
        raise ValueError(f"no restoration for {', '.join(unknown)}; known: {', '.join(RESTORATIONS)}")
