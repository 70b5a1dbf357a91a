from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from fusecli.imaging import read_image
from conftest import EXAMPLES



def _load_script():
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_are_reproduced_by_the_script(tmp_path):
    written = _load_script().make_examples(tmp_path)
    assert len(written) == 10 + 2 * 12  # and the tiny training set
    for path in written:
        if path.suffix == ".txt":  # the rig's warp
            assert np.allclose(np.loadtxt(path), np.loadtxt(EXAMPLES / path.relative_to(tmp_path)))
            continue
        ours, _ = read_image(path)
        committed, _ = read_image(EXAMPLES / path.relative_to(tmp_path))
        assert ours.shape == committed.shape
        assert np.abs(ours - committed).mean() < 1 / 255, path.name


def test_bracket_is_ordered_and_clipped():
    means = [read_image(EXAMPLES / "mef" / f"coffee_{n}.jpg")[0].mean() for n in ("under", "normal", "over")]
    assert means[0] < means[1] < means[2]
    over, _ = read_image(EXAMPLES / "mef" / "coffee_over.jpg")
    assert (over > 0.98).mean() > 0.1  # the bright shot really clips


def test_focus_pair_differs_in_sharpness_by_depth():
    import cv2

    near, _ = read_image(EXAMPLES / "mff" / "motorcycle_near.jpg", channels=1)
    far, _ = read_image(EXAMPLES / "mff" / "motorcycle_far.jpg", channels=1)
    # The bike (lower middle, near) is sharper in the near-focused frame; the shelves (top) in the far one.
    lap = lambda x: np.abs(cv2.Laplacian(x, cv2.CV_32F))  # noqa: E731
    bike = (slice(250, 450), slice(200, 550))
    shelves = (slice(0, 120), slice(300, 700))
    assert lap(near)[bike].mean() > 1.5 * lap(far)[bike].mean()
    assert lap(far)[shelves].mean() > 1.5 * lap(near)[shelves].mean()
