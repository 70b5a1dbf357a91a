"""NIQE: AGGD fitting, agreement with scikit-video's implementation, direction, missing model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.stats import gennorm
from skimage import color, data

from fusecli.metrics import score_arrays
from fusecli.metrics.niqe import MissingModelError, aggd_fit, niqe


@pytest.mark.parametrize("shape", [0.8, 1.5, 2.0])
def test_aggd_fit_recovers_a_generalised_gaussian(shape):
    values = gennorm.rvs(shape, size=200_000, random_state=1)
    alpha, left, right = aggd_fit(values)
    assert alpha == pytest.approx(shape, abs=0.03)
    assert left == pytest.approx(1.0, abs=0.02) and right == pytest.approx(1.0, abs=0.02)


# Reference: scikit-video 1.1.11 skvideo.measure.niqe on the same gray images (scipy.misc.imresize,
# removed from SciPy, replaced by the Pillow bicubic resize it wrapped): camera 9.0707,
# astronaut 8.8319, coffee 8.2587.
@pytest.mark.parametrize("name,expected", [("camera", 9.0707), ("astronaut", 8.8319), ("coffee", 8.2587)])
def test_niqe_matches_scikit_video(name, expected):
    image = getattr(data, name)()
    gray = image.astype(np.float64) if image.ndim == 2 else color.rgb2gray(image) * 255
    assert niqe(gray) == pytest.approx(expected, abs=0.01)


def test_niqe_rises_with_noise_and_blur():
    gray = data.camera().astype(np.float64)
    noisy = np.clip(gray + np.random.default_rng(0).normal(0, 15, gray.shape), 0, 255)
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    clean = niqe(gray)
    assert niqe(noisy) > clean + 5 and niqe(blurred) > clean + 2


def test_niqe_through_score_arrays_and_errors(monkeypatch, tmp_path):
    fused = data.camera().astype(np.float32) / 255
    assert score_arrays(fused, metrics=["NIQE"])["NIQE"] == pytest.approx(9.0707, abs=0.02)
    assert np.isnan(score_arrays(fused[:100, :100], metrics=["NIQE"])["NIQE"])  # too small: NaN + warning
    monkeypatch.setenv("FUSECLI_NIQE_PARAMS", str(tmp_path / "missing.mat"))
    with pytest.raises(MissingModelError, match="not found"):
        niqe(data.camera().astype(np.float64))
