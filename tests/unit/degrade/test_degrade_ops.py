"""Each degradation does what it claims, measurably, with Table 2's ranges."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusecli.degrade import DEGRADATIONS, apply, sample_params
from fusecli.degrade.ops import motion_kernel
from fusecli.degrade.weather import haze_depth_proxy

from conftest import smooth_image

ALL = [
    "low_exposure", "gaussian_blur", "motion_blur", "gaussian_noise", "rain", "haze",
    "snow", "jpeg", "low_contrast", "downsample", "ir_stripes",
]


def test_all_eleven_registered():
    assert sorted(DEGRADATIONS.names()) == sorted(ALL)


def _draws(name, level, count=200):
    rng = np.random.default_rng(0)
    return [sample_params(name, rng, level) for _ in range(count)]


@pytest.mark.parametrize(
    "name,key,heavy,mild",
    [
        ("low_exposure", "brightness", (0.3, 0.6), (0.5, 0.8)),
        ("gaussian_blur", "ksize", (5, 21), (5, 9)),
        ("gaussian_blur", "sigma", (1.0, 2.0), (1.0, 1.5)),
        ("motion_blur", "ksize", (5, 21), (5, 9)),
        ("rain", "blur_ksize", (5, 17), (5, 9)),
        ("rain", "blur_sigma", (1.0, 2.0), (1.0, 1.5)),
        ("rain", "low_light", (0.8, 1.0), (0.85, 1.0)),
        ("haze", "distance", (3.0, 15.0), (5.0, 20.0)),
        ("haze", "blur_ksize", (5, 17), (5, 9)),
        ("jpeg", "quality", (10, 30), (30, 60)),
        ("low_contrast", "contrast", (0.3, 0.8), (0.5, 0.8)),
        ("downsample", "scale", (2.0, 3.5), (1.4, 2.0)),
    ],
)
def test_table2_ranges(name, key, heavy, mild):
    for level, (lo, hi) in (("heavy", heavy), ("mild", mild)):
        values = [p[key] for p in _draws(name, level)]
        assert min(values) >= lo and max(values) <= hi
        assert max(values) - min(values) > 0.5 * (hi - lo)  # the range is really used
    if "ksize" in key:
        assert all(p[key] % 2 == 1 for p in _draws(name, "heavy"))


def test_table2_fixed_settings():
    assert {(p["angle"], p["direction"]) for p in _draws("motion_blur", "heavy")} == {(35.0, 0.5)}
    assert {p["std"] for p in _draws("gaussian_noise", "heavy")} == {15 / 255}
    assert {p["std"] for p in _draws("gaussian_noise", "mild")} == {10 / 255}
    assert {p["mode"] for p in _draws("rain", "heavy")} == {"light", "heavy"}
    assert {p["mode"] for p in _draws("rain", "mild")} == {"light"}
    assert {p["mode"] for p in _draws("snow", "heavy")} == {"combine", "small", "mid"}
    assert {p["mode"] for p in _draws("snow", "mild")} == {"small", "mid"}
    assert {p["direction"] for p in _draws("ir_stripes", "heavy")} == {"vertical", "horizontal"}


def _hf_energy(image):
    gray = image if image.ndim == 2 else image.mean(-1)
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_32F)).mean())


@pytest.fixture
def photo(rng):
    return smooth_image(rng, 96, 128, 3) * 0.6 + 0.2


def test_low_exposure_scales_mean(photo, rng):
    for level in ("heavy", "mild"):
        params = sample_params("low_exposure", rng, level)
        out = apply("low_exposure", photo, rng, params)
        assert out.mean() / photo.mean() == pytest.approx(params["brightness"], rel=1e-4)


def test_noise_has_configured_std(rng):
    gray = np.full((200, 200, 3), 0.5, np.float32)
    for level, std in (("heavy", 15 / 255), ("mild", 10 / 255)):
        out = apply("gaussian_noise", gray, rng, sample_params("gaussian_noise", rng, level))
        assert (out - gray).std() == pytest.approx(std, rel=0.02)
        assert abs((out - gray).mean()) < 1e-3


@pytest.mark.parametrize("name", ["gaussian_blur", "motion_blur", "downsample"])
def test_blurs_cut_high_frequencies(photo, rng, name):
    rough = np.clip(photo + rng.normal(0, 0.05, photo.shape).astype(np.float32), 0, 1)
    for level in ("heavy", "mild"):
        out = apply(name, rough, rng, sample_params(name, rng, level))
        assert _hf_energy(out) < 0.6 * _hf_energy(rough)
        assert out.shape == rough.shape


def test_motion_kernel_is_directional():
    kernel = motion_kernel(15, 35.0, 0.5)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    ys, xs = np.nonzero(kernel > kernel.max() * 0.2)
    angle = np.degrees(np.arctan2(-(ys - 7), xs - 7))
    spread = np.polyfit(xs - 7, -(ys - 7), 1)[0]
    assert np.degrees(np.arctan(spread)) % 180 == pytest.approx((90 + 35) % 180, abs=8)
    assert angle.size > 5


def test_jpeg_matches_opencv(photo, rng):
    params = {"quality": 23}
    out = apply("jpeg", photo, rng, params)
    pixels = cv2.cvtColor(np.round(photo * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    _, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 23])
    expected = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) / 255.0
    assert np.array_equal(out, expected.astype(np.float32))


def test_low_contrast_shrinks_spread(photo, rng):
    params = sample_params("low_contrast", rng, "heavy")
    out = apply("low_contrast", photo, rng, params)
    assert out.std() == pytest.approx(params["contrast"] * photo.std(), rel=1e-3)


@pytest.mark.parametrize("direction", ["vertical", "horizontal"])
def test_stripes_are_line_correlated(rng, direction):
    flat = np.full((120, 160), 0.5, np.float32)
    params = sample_params("ir_stripes", rng, "heavy") | {"direction": direction}
    diff = apply("ir_stripes", flat, rng, params) - flat
    along = 0 if direction == "vertical" else 1  # a column is constant for vertical stripes
    line_means = diff.mean(axis=along)
    within = diff.std(axis=along).mean()
    assert line_means.std() > 0.03 and within < 1e-4
    assert np.corrcoef(line_means[:-1], line_means[1:])[0, 1] > 0.2  # partly smooth, like real FPN


def test_haze_follows_depth(rng):
    depth = haze_depth_proxy((100, 120), horizon=0.4)
    assert depth[:30].min() > 0.95  # above the horizon: far
    column = depth[:, 60]
    assert np.all(np.diff(column[45:]) <= 1e-6) and column[-1] < 0.2  # nearer towards the bottom
    scene = np.full((100, 120, 3), 0.2, np.float32)
    params = sample_params("haze", rng, "heavy") | {"horizon": 0.4, "tilt": 0.0}
    out = apply("haze", scene, rng, params)
    # I = J t + A (1 - t)  =>  t = (A - I) / (A - J)
    t = (params["airlight"] - out[..., 0]) / (params["airlight"] - 0.2)
    expected = np.exp(-3.912 / params["distance"] * 5.0 * depth)
    assert np.allclose(t, expected, atol=1e-4)
    assert t[10, 60] < t[95, 60]


def test_haze_mild_is_thinner_than_heavy(photo):
    rng = np.random.default_rng(3)
    mean_t = {}
    for level in ("heavy", "mild"):
        ts = [np.exp(-3.912 / p["distance"] * 5.0 * 0.5) for p in _draws("haze", level, 400)]
        mean_t[level] = np.mean(ts)
    assert mean_t["mild"] > mean_t["heavy"]


def test_rain_and_snow_are_streaks_and_flakes_not_salt(rng):
    scene = np.full((240, 320, 3), 0.3, np.float32)
    for name in ("rain", "snow"):
        params = sample_params(name, rng, "heavy")
        out = apply(name, scene, rng, params)
        brighter = (out.mean(-1) - scene.mean(-1) * params.get("low_light", 1.0)) > 0.15
        assert 0.002 < brighter.mean() < 0.5
        count, _, stats, _ = cv2.connectedComponentsWithStats(brighter.astype(np.uint8))
        sizes = stats[1:, cv2.CC_STAT_AREA]
        assert np.median(sizes) >= 3  # blobs and streaks, not isolated salt pixels
        if name == "rain":
            heights = stats[1:, cv2.CC_STAT_HEIGHT]
            widths = stats[1:, cv2.CC_STAT_WIDTH]
            assert np.median(heights / widths) > 2  # elongated along the fall direction


def test_rain_streak_angle_follows_wind(rng):
    scene = np.full((200, 200), 0.2, np.float32)
    base = sample_params("rain", rng, "heavy") | {"mode": "heavy", "low_light": 1.0}
    left = apply("rain", scene, rng, base | {"angle": -20.0})
    right = apply("rain", scene, rng, base | {"angle": 20.0})
    assert not np.allclose(left, right)


def test_determinism(photo):
    for name in ALL:
        subject = photo.mean(-1) if name == "ir_stripes" else photo
        a = apply(name, subject, np.random.default_rng(7), sample_params(name, np.random.default_rng(1), "heavy"))
        b = apply(name, subject, np.random.default_rng(7), sample_params(name, np.random.default_rng(1), "heavy"))
        assert np.array_equal(a, b), name


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 70),
    w=st.integers(1, 70),
    color=st.booleans(),
    name=st.sampled_from(ALL),
    level=st.sampled_from(["heavy", "mild"]),
    seed=st.integers(0, 2**16),
)
def test_random_sizes_never_crash(h, w, color, name, level, seed):
    rng = np.random.default_rng(seed)
    image = rng.random((h, w, 3) if color else (h, w)).astype(np.float32)
    out = apply(name, image, rng, sample_params(name, rng, level))
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
