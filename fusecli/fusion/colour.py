"""Colour of a fusion: learned models fuse luminance (BT.601 Y), and the chroma comes from here.

VIF takes the visible frame's chroma; MEF / MFF blend the frames' chroma weighted by saturation
``|C - 0.5|`` (Prabhakar et al.'s DeepFuse rule: the most colourful, i.e. best exposed / least
washed-out, frame dominates), which avoids the grey casts of plain averaging. Requests to
brighten or dehaze stretch the chroma as the tones were stretched.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from fusecli.imaging.color import brightness_gain, colorize, denoise_chroma, luminance, rgb_to_ycbcr, stretch_chroma, tone_gain
from fusecli.imaging import as_float
from fusecli.methods import fuse_frames
from fusecli.restore import RestoreStats, chroma_gain, restore, tone_requests


log = logging.getLogger(__name__)


def blend_chroma(frames: Sequence[np.ndarray], gains: Sequence[float] | None = None, denoise_guide: np.ndarray | None = None) -> np.ndarray | None:
    """``(H, W, 2)`` Cb/Cr of the colour frames weighted by ``|C - 0.5|`` (None if all gray);
    ``gains``: per frame, a stretch of its chroma about neutral first (:func:`fusecli.restore.chroma_gain`);
    ``denoise_guide``: the fused ``(H, W)`` luminance, to smooth each frame's chroma noise along
    its edges first (:func:`fusecli.imaging.color.denoise_chroma`), before the weights favour noisy frames."""
    gains = [1.0] * len(frames) if gains is None else list(gains)
    colour = [(f, g) for f, g in zip(frames, gains) if f.ndim == 3]
    if not colour:
        return None

    def frame_chroma(frame: np.ndarray, gain: float) -> np.ndarray:
        chroma = stretch_chroma(rgb_to_ycbcr(frame[..., :3])[..., 1:], gain)
        return chroma if denoise_guide is None else denoise_chroma(chroma, denoise_guide)

    chroma = np.stack([frame_chroma(f, g) for f, g in colour])  # (N, H, W, 2)
    weight = np.abs(chroma - 0.5) + 1e-3
    return (chroma * weight).sum(0) / weight.sum(0)


def tone_colour_gain(requests: list[str], y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """MEF / MFF: the ``(H, W)`` gain of the blended chroma for brightening / dehazing
    ``requests`` (:func:`fusecli.restore.tone_requests`), from the fused luminance ``y`` over the
    plain fusion's ``reference``. A request to brighten only is an exposure change, whose colours
    scale with the brightness (:func:`fusecli.imaging.color.brightness_gain`; chroma error against the
    clean fusion 0.0101 -> 0.0065 on MEF, 0.0130 -> 0.0065 on MFF with the contrast gain before,
    ``bench/restoration_colour.py --real 6``); haze adds light without colour, so any dehazing
    request takes the local contrast gain (:func:`fusecli.imaging.color.tone_gain`)."""
    return brightness_gain(y, reference) if requests == ["low_exposure"] else tone_gain(y, reference)


def vif_colour(y: np.ndarray, visible: np.ndarray, stats: RestoreStats | None, prompt: str | None, denoise: bool) -> np.ndarray:
    """The fused ``(H, W)`` luminance ``y`` with the ``visible`` frame's chroma (if it has any),
    stretched by its contrast restoration's gain (``stats``) and, for a request to brighten or
    dehaze (``prompt``), by :func:`_visible_tone_gain`; ``denoise``: its chroma noise smoothed. On the whole image, after
    the tiles: the gain is a median, which tiles would each read differently."""
    if visible.ndim != 3:
        return y
    visible = as_float(visible)
    gain = chroma_gain(stats)
    if tone_requests(prompt):
        gain *= _visible_tone_gain(y, visible, stats)
    return colorize(y, visible, chroma_gain=gain, denoise=denoise)


def _visible_tone_gain(y: np.ndarray, visible: np.ndarray, stats: RestoreStats | None) -> float:
    """VIF, for a request to brighten or dehaze: by how much the fused luminance ``y`` has the
    visible frame's tones stretched (after the contrast stretch its chroma already got, ``stats``),
    which its colours follow. One number, the median of :func:`fusecli.imaging.color.tone_gain`, at least
    1: where the infrared's own detail shows, the local gain says nothing of the visible frame, and
    a map of it would paint colour there. (A brightness ratio, exact for an exposure change, read
    the infrared's brightness as the visible frame's: twice the clean colour on the astronaut.)"""
    return max(1.0, float(np.median(tone_gain(y, _contrast_stretched(luminance(visible), stats)))))


def _contrast_stretched(y: np.ndarray, stats: RestoreStats | None) -> np.ndarray:
    """A frame's ``(H, W)`` luminance with the contrast stretch its chroma got (``stats``), if any."""
    return restore(y, ["low_contrast"], stats) if stats and "low_contrast" in stats else y


def tone_reference(method: str, ys: list[np.ndarray], stats: list | None) -> np.ndarray:
    """The luminance that the blended chroma belongs to: ``method``'s fusion of the frames, with
    the contrast stretch their chroma got (``stats``), for :func:`fusecli.imaging.color.tone_gain`."""
    if stats:
        ys = [_contrast_stretched(y, frame) for y, frame in zip(ys, stats)]
    return fuse_frames(method, ys)
