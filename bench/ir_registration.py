"""How well does ``--ir-warp auto`` (fusecli.geometry.warp_estimation) find a rig's infrared → visible warp?

Why: the public VIF pairs are registered already, so a known rig warp is put on them: each
RoadScene pair's infrared frame is re-recorded as a separate thermal camera would see it (its
own resolution, 0.45-1.0 of the visible one; a narrower field of view, 0.7-0.95 of it per side;
a roll of up to 3 degrees; a shift inside the frame; seeded per pair), and the estimate is
compared with that warp: the corner error is the mean distance, in visible pixels, between
where the true and the estimated warps send the infrared frame's four corners (the usual
homography-estimation error). Also measured: the same pairs left as they are (the estimate
should be the identity: what is left there is the data set's own misregistration plus the
estimator's), and mismatched pairs (the infrared of one scene with the visible frame of
another), which must be refused: this is how ``MIN_CORRELATION`` was chosen. Where the estimate
moves a published pair by over 2 px, normalised mutual information of the intensities (which
the estimator does not use) tells whether the data set or the estimate is off.

    python bench/ir_registration.py              # every RoadScene pair, ~3 min on 2 CPU cores
    python bench/ir_registration.py --pairs 40
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from fusecli.imaging.color import luminance
from fusecli.imaging import read_image
from fusecli.geometry.registration import corner_distance
from fusecli.geometry.warp_estimation import RegistrationError, estimate_ir_warp
from data_root import DATA_ROOT

ROOT = Path(__file__).resolve().parents[1]
ROADSCENE = DATA_ROOT / "vif" / "RoadScene"


def rig_warp(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """A random infrared camera beside the visible one: ``(matrix, (width, height))``, the
    matrix from its pixels to the visible frame's."""
    h, w = shape
    resolution = rng.uniform(0.45, 1.0)
    view = rng.uniform(0.7, 0.95)
    size = (round(w * resolution), round(h * resolution))
    scale = view * (w - 1) / (size[0] - 1)
    roll = np.deg2rad(rng.uniform(-3, 3))
    centre = np.array([(w - 1) / 2, (h - 1) / 2]) + rng.uniform(-1, 1, 2) * (1 - view) / 2 * np.array([w, h]) * 0.8
    c, s = np.cos(roll) * scale, np.sin(roll) * scale
    ir_centre = np.array([(size[0] - 1) / 2, (size[1] - 1) / 2])
    linear = np.array([[c, -s], [s, c]])
    shift = centre - linear @ ir_centre
    return np.array([[c, -s, shift[0]], [s, c, shift[1]], [0.0, 0.0, 1.0]]), size


def normalised_mi(a: np.ndarray, b: np.ndarray, bins: int = 48) -> float:
    """Studholme's normalised mutual information (H(A) + H(B)) / H(A, B) of two 0..1 images' intensities."""
    joint, _, _ = np.histogram2d(a.ravel(), b.ravel(), bins=bins, range=[[0, 1], [0, 1]])
    p = joint / joint.sum()

    def entropy(q: np.ndarray) -> float:
        q = q[q > 0]
        return float(-(q * np.log(q)).sum())

    return (entropy(p.sum(axis=1)) + entropy(p.sum(axis=0))) / entropy(p)


def mi_gain(infrared: np.ndarray, visible: np.ndarray, matrix: np.ndarray, margin: int = 15) -> float:
    """NMI of the intensities with ``infrared`` moved by ``matrix`` minus NMI as given (an independent check)."""
    gray = luminance(visible)
    h, w = gray.shape
    moved = cv2.warpPerspective(infrared, matrix, (w, h), flags=cv2.INTER_LINEAR)
    inner = (slice(margin, h - margin), slice(margin, w - margin))
    return normalised_mi(moved[inner], gray[inner]) - normalised_mi(infrared[inner], gray[inner])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=0, help="first N pairs by name (0: all)")
    args = parser.parse_args()
    names = sorted(p.name for p in (ROADSCENE / "ir").iterdir())
    names = names[: args.pairs] if args.pairs else names
    rigged, identity, consistency, refused_wrong, times, failures, gains = [], [], [], 0, [], [], []
    correlations_true, correlations_wrong = [], []
    for index, name in enumerate(names):
        infrared = read_image(ROADSCENE / "ir" / name, channels=1)[0]
        visible = read_image(ROADSCENE / "vi" / name)[0]
        rng = np.random.default_rng(index)
        matrix, size = rig_warp(visible.shape[:2], rng)
        rig = cv2.warpPerspective(infrared, np.linalg.inv(matrix), size, flags=cv2.INTER_AREA if size[0] < visible.shape[1] * 0.7 else cv2.INTER_LINEAR)
        start = time.perf_counter()
        try:
            estimate = estimate_ir_warp(rig, visible)
            rigged.append(corner_distance(matrix, estimate.matrix, size[::-1]))
            correlations_true.append(estimate.correlation)
        except RegistrationError as exc:
            failures.append(f"{name}: {exc}")
            rigged.append(np.inf)
            correlations_true.append(exc.correlation)
        times.append(time.perf_counter() - start)
        try:
            as_is = estimate_ir_warp(infrared, visible).matrix
            identity.append(corner_distance(np.eye(3), as_is, visible.shape))
            if identity[-1] > 2:
                gains.append(mi_gain(infrared, visible, as_is))
            if np.isfinite(rigged[-1]):
                consistency.append(corner_distance(as_is @ matrix, estimate.matrix, size[::-1]))
        except RegistrationError:
            identity.append(np.inf)
        other = read_image(ROADSCENE / "vi" / names[(index + len(names) // 2) % len(names)])[0]
        try:
            wrong = estimate_ir_warp(rig, other)
            correlations_wrong.append(wrong.correlation)
        except RegistrationError as exc:
            refused_wrong += 1
            correlations_wrong.append(exc.correlation)
    rigged, identity = np.array(rigged), np.array(identity)
    n = len(names)
    print(f"{n} RoadScene pairs; {np.mean(times):.3f} s per estimate (mean)")
    consistency = np.array(consistency)
    for label, errors in (("rig warp", rigged), ("as registered (identity)", identity), ("rig warp vs as-registered estimate", consistency)):
        print(
            f"{label}: corner error median {np.median(errors):.2f} px, "
            f"<= 1 px {np.mean(errors <= 1):.0%}, <= 2 px {np.mean(errors <= 2):.0%}, <= 5 px {np.mean(errors <= 5):.0%}, "
            f"refused {np.mean(~np.isfinite(errors)):.0%}"
        )
    gains = np.array(gains)
    print(
        f"published pairs the estimate moves by over 2 px: {len(gains)}; intensity NMI higher at the estimate in "
        f"{int(np.sum(gains > 0))} (median change {np.median(gains):+.4f})"
    )
    wrong_accepted = int(np.sum(np.isfinite(rigged) & (rigged > 10)))
    print(f"rig warp accepted though over 10 px off: {wrong_accepted}/{n}")
    print(f"mismatched pairs refused: {refused_wrong}/{n}")
    if correlations_true:
        print(f"edge correlation, true pairs: min {min(correlations_true):.3f}, 5th pct {np.percentile(correlations_true, 5):.3f}, median {np.median(correlations_true):.3f}")
    if correlations_wrong:
        print(f"edge correlation, mismatched pairs: max {max(correlations_wrong):.3f}, 95th pct {np.percentile(correlations_wrong, 95):.3f}, median {np.median(correlations_wrong):.3f}")
    for line in failures[:5]:
        print("refused:", line)


if __name__ == "__main__":
    main()
