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


@pytest.mark.parametrize("name,margin_noise,margin_blur", [("NIQE", 5, 2), ("BRISQUE", 20, 20)])
def test_no_reference_scores_rise_with_noise_and_blur(name, margin_noise, margin_blur):
    from fusecli.metrics.brisque import brisque

    metric = {"NIQE": niqe, "BRISQUE": brisque}[name]
    gray = data.camera().astype(np.float64)
    noisy = np.clip(gray + np.random.default_rng(0).normal(0, 15, gray.shape), 0, 255)
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    clean = metric(gray)
    assert metric(noisy) > clean + margin_noise and metric(blurred) > clean + margin_blur
    assert score_arrays(gray.astype(np.float32) / 255, metrics=[name])[name] == pytest.approx(clean, abs=0.05)


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


# ----------------------------------------------------------------------------- BRISQUE

# Reference: brisque 0.2.0 (PyPI) BRISQUE().score's computation on the same gray images, given
# as R = G = B (its score() needs one fix under NumPy 2: its features are shape-(1,) arrays,
# flattened before scaling; the libsvm prediction is libsvm's own): camera -7.87940,
# astronaut 10.79486, coffee 3.04793, moon 18.81898.
@pytest.mark.parametrize("name,expected", [("camera", -7.87940), ("astronaut", 10.79486), ("coffee", 3.04793), ("moon", 18.81898)])
def test_brisque_matches_the_brisque_package(name, expected):
    from fusecli.metrics.brisque import brisque

    image = getattr(data, name)()
    gray = image.astype(np.float64) if image.ndim == 2 else color.rgb2gray(image) * 255
    assert brisque(gray) == pytest.approx(expected, abs=2e-3)


def test_brisque_model_files_json_ranges_and_refused_pickles(monkeypatch, tmp_path):
    import json
    import pickle

    from fusecli.metrics import brisque as b

    source = b._model_dir()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "svm.txt").write_bytes((source / "svm.txt").read_bytes())
    low, high = b.read_ranges(source / "normalize.pickle")
    (folder / "normalize.json").write_text(json.dumps({"min_": low.tolist(), "max_": high.tolist()}))
    monkeypatch.setenv("FUSECLI_BRISQUE_MODEL", str(folder))
    gray = data.camera().astype(np.float64)
    assert b.brisque(gray) == pytest.approx(-7.87940, abs=2e-3)
    # a range file that would run code is refused
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "svm.txt").write_bytes((source / "svm.txt").read_bytes())
    (tmp_path / "evil" / "normalize.pickle").write_bytes(pickle.dumps({"min_": np.zeros(36), "max_": np.ones(36)}))
    monkeypatch.setenv("FUSECLI_BRISQUE_MODEL", str(tmp_path / "evil"))
    with pytest.raises(MissingModelError, match="refusing"):
        b.brisque(gray)
    monkeypatch.setenv("FUSECLI_BRISQUE_MODEL", str(tmp_path / "nowhere"))
    with pytest.raises(MissingModelError, match="svm.txt"):
        b.brisque(gray)
