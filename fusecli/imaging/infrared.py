"""Raw infrared frames -> display range, as a thermal camera's automatic gain control does.

Why: radiometric thermal cameras (FLIR Boson/Tau, the FLIR ADAS data set's 16-bit frames) store
12- or 14-bit counts in 16-bit files, e.g. 7,000..9,500 of 0..65,535. Read as 16-bit pixels that
is a nearly black frame with almost no contrast, and every fusion rule then gives the infrared
next to no say. Fusion papers use the 8-bit frames the camera's gain control made; fusecli makes
that mapping itself: a linear stretch of the frame's own 0.1..99.9th percentiles (hot spots above
it saturate, the ordering of temperatures is kept).

Only the infrared frame of a VIF pair is stretched: a dark 16-bit exposure of a bracket or a
12-bit microscope focus stack must keep its values.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fusecli.imaging.color import is_gray

IR_RANGES = ("auto", "stored")  # --ir-range choices
RAW_SHARE = 0.25  # a 16-bit gray frame spanning less of 0..65535 than this holds raw counts
PERCENTILES = (0.1, 99.9)


def infrared_index(frames: Sequence[np.ndarray]) -> int:
    """Which frame of a VIF pair is the infrared: the gray one; the first when both (or neither) are."""
    return 1 if len(frames) == 2 and is_gray(frames[1]) and not is_gray(frames[0]) else 0


def _percentiles(counts: np.ndarray, fractions: tuple[float, ...]) -> list[int]:
    """The values below which ``fractions`` (0..100) of the pixels lie, from a histogram."""
    cumulative = np.cumsum(counts)
    return [int(np.searchsorted(cumulative, f / 100.0 * cumulative[-1], side="left")) for f in fractions]


def raw_range(frame: np.ndarray) -> tuple[int, int] | None:
    """``(low, high)``: the 0.1..99.9th percentile counts of a gray uint16 ``(H, W)`` frame when
    they span less than a quarter of the 16-bit scale (raw camera counts); None for any other frame."""
    if frame.dtype != np.uint16 or frame.ndim != 2:
        return None
    counts = np.bincount(frame.ravel(), minlength=65536)
    low, high = _percentiles(counts, PERCENTILES)  # a dead or hot pixel does not widen them
    if high == low or high - low >= RAW_SHARE * 65535:
        return None  # flat, or display values already
    return low, high


def to_display(frame: np.ndarray, low: int, high: int) -> np.ndarray:
    """``(H, W)`` counts -> float32 0..1, ``low`` at 0 and ``high`` at 1, clipped."""
    out = (frame.astype(np.float32) - np.float32(low)) * np.float32(1.0 / (high - low))
    return np.clip(out, 0.0, 1.0, out=out)


def display_infrared(frame: np.ndarray, mode: str = "auto") -> tuple[np.ndarray, str | None]:
    """The infrared frame to fuse and, when it was stretched, a note saying how.

    ``mode``: ``"auto"`` stretches raw 16-bit counts (:func:`raw_range`), ``"stored"`` keeps
    every frame as it is.
    """
    if mode not in IR_RANGES:
        raise ValueError(f"ir_range must be one of {', '.join(IR_RANGES)}, not {mode!r}")
    found = raw_range(frame) if mode == "auto" else None
    if found is None:
        return frame, None
    low, high = found
    note = (
        f"the infrared frame holds raw 16-bit counts ({low}..{high} of 0..65535): stretched to that "
        f"range, its {PERCENTILES[0]:g}..{PERCENTILES[1]:g}th percentiles (--ir-range stored keeps it as stored)"
    )
    return to_display(frame, low, high), note
