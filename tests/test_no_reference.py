"""No-reference metrics: NIQE (AGGD fit, agreement with scikit-video, direction, missing model) and PIQE."""

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


# ----------------------------------------------------------------------------- PIQE


def _piqe_loops(gray: np.ndarray) -> float:
    """PIQE block by block with explicit loops, as the reference MATLAB procedure reads."""
    from fusecli.metrics.piqe import piqe_mscn

    norm = piqe_mscn(gray)
    total, active = 0.0, 0
    for i in range(0, norm.shape[0], 16):
        for j in range(0, norm.shape[1], 16):
            block = norm[i : i + 16, j : j + 16]
            var = block.var(ddof=1)
            if var <= 0.1:
                continue
            active += 1
            edges = [block[0, :], block[:, 15], block[15, :], block[:, 0]]
            impaired = any(edge[k : k + 6].std(ddof=1) < 0.1 for edge in edges for k in range(11))
            centre = np.concatenate([block[:, 7], block[:, 8]]).std(ddof=1)
            surround = np.delete(np.delete(block, 7, axis=1), 8, axis=1).std(ddof=1)  # 2nd delete after the 1st
            ratio = centre / surround if surround > 0 else 0.0
            sigma = np.sqrt(var)
            beta = abs(sigma - ratio) / max(sigma, ratio)
            total += (1 - var) * impaired + var * (sigma > 2 * beta)
    return 100 * (total + 1) / (active + 1)


def test_piqe_matches_a_block_by_block_implementation():
    from fusecli.metrics.piqe import piqe

    gray = data.camera().astype(np.float64)[:200, :250]  # not a multiple of 16: padded
    noisy = np.clip(gray + np.random.default_rng(1).normal(0, 10, gray.shape), 0, 255)
    for image in (gray, noisy):
        assert piqe(image) == pytest.approx(_piqe_loops(image), rel=1e-12)


def test_piqe_direction_and_featureless_image():
    from fusecli.metrics.piqe import piqe

    gray = data.camera().astype(np.float64)
    noisy = np.clip(gray + np.random.default_rng(0).normal(0, 20, gray.shape), 0, 255)
    _, encoded = cv2.imencode(".jpg", gray.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 5])
    blocky = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE).astype(np.float64)
    clean = piqe(gray)
    assert 0 < clean < piqe(noisy) and clean < piqe(blocky) <= 100
    assert piqe(np.full((64, 64), 90.0)) == 100.0  # nothing active: worst score, as defined
    assert score_arrays(gray.astype(np.float32) / 255, metrics=["PIQE"])["PIQE"] == pytest.approx(clean, abs=0.5)
