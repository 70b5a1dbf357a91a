"""Metric formulas: hand-computed values, independent formulations, invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from fusecli.metrics import fmi as fmi_mod
from fusecli.metrics import functional as fn
from fusecli.metrics import gradient as gr
from fusecli.metrics import mef_ssim as ms
from fusecli.metrics.functional import freqspace

from conftest import smooth_image


def img(rng, h=64, w=80):
    return np.round(smooth_image(rng, h, w) * 255).astype(np.float64)


# ----------------------------------------------------------------------------- hand-computed


def test_entropy_sd_by_hand():
    two = np.array([[0, 0, 255, 255]], float)
    assert fn.entropy(two) == pytest.approx(1.0)
    four = np.array([[0, 10, 20, 30]], float)
    assert fn.entropy(four) == pytest.approx(2.0)
    assert fn.entropy(np.full((3, 3), 7.0)) == 0.0
    assert fn.standard_deviation(two) == pytest.approx(127.5)


def test_spatial_frequency_by_hand():
    f = np.array([[0, 1, 3], [2, 2, 2]], float)
    rf = (1 + 4 + 0 + 0) / 4  # M(N-1) horizontal differences
    cf = (4 + 1 + 1) / 3  # (M-1)N vertical differences
    assert fn.spatial_frequency(f) == pytest.approx(math.sqrt(rf + cf))
    assert fn.spatial_frequency(f, "mn") == pytest.approx(math.sqrt(5 / 6 + 6 / 6))


def test_average_gradient_on_a_ramp():
    ramp = np.tile(np.arange(6, dtype=float) * 3, (5, 1))  # gx = 3 everywhere, gy = 0
    assert fn.average_gradient(ramp) == pytest.approx(3 / math.sqrt(2))
    assert fn.average_gradient(ramp, "m1n1") == pytest.approx(3 / math.sqrt(2) * 30 / 20)


def test_mutual_information_against_direct_histogram(rng):
    a, b = img(rng), img(rng)
    f = np.round(0.5 * a + 0.5 * b)
    joint, _, _ = np.histogram2d(a.ravel(), f.ravel(), bins=256, range=[[-0.5, 255.5], [-0.5, 255.5]])
    p = joint / joint.sum()
    pa, pf = p.sum(1), p.sum(0)
    nz = p > 0
    direct = float((p[nz] * np.log2(p[nz] / np.outer(pa, pf)[nz])).sum())
    assert fn.mutual_information_pair(a, f) == pytest.approx(direct, rel=1e-9)
    # MI(A, A) = H(A); nats = bits · ln 2
    assert fn.mutual_information_pair(a, a) == pytest.approx(fn.entropy(a), rel=1e-9)
    assert fn.mutual_information(f, [a, b], base=math.e) == pytest.approx(fn.mutual_information(f, [a, b]) * math.log(2))
    constant = np.zeros((4, 4))
    constant[:, 2:] = 255
    assert fn.mutual_information_pair(constant, constant, base=math.e) == pytest.approx(math.log(2))


def test_nmi_cc_scd_ce_psnr_mse(rng):
    a, b = img(rng), img(rng)
    assert fn.normalized_mutual_information(a, [a, a]) == pytest.approx(2.0)
    assert fn.correlation_coefficient(a, [a, 2 * a + 1]) == pytest.approx(1.0)
    f = a + b
    assert fn.scd(f, [a, b]) == pytest.approx(2.0)  # F − B = A and F − A = B
    assert fn.cross_entropy(a, [a, a]) == pytest.approx(0.0)
    assert fn.mse(a + 2, [a, a]) == pytest.approx(4.0)
    assert fn.psnr(a + 2, [a, a]) == pytest.approx(10 * math.log10(255**2 / 4))
    assert fn.psnr(a + 2, [a, a], "tang") == pytest.approx(fn.psnr(a + 2, [a, a]) + 20 * math.log10(255), rel=1e-9)
    assert fn.psnr(a + 2, [a, a], "max_f") == pytest.approx(10 * math.log10((a.max() + 2) ** 2 / 4))
    sse = 4 * a.size
    assert fn.psnr(a + 2, [a, a], "vifb") == pytest.approx(10 * math.log10(255**2 / (math.sqrt(sse) / a.size)))


# ----------------------------------------------------------------------------- SSIM family


def test_ssim_matches_scikit_image(rng):
    a, b = img(rng), img(rng)
    ours = fn.ssim_pair(a, b)
    theirs = structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert ours == pytest.approx(theirs, abs=1e-9)
    cdd = fn.ssim_pair(a, b, data_range=2.0, variant="skimage_uniform")
    assert cdd == pytest.approx(structural_similarity(a, b, data_range=2.0), abs=1e-9)
    assert fn.ssim(a, [a, a]) == pytest.approx(2.0)


def test_ms_ssim_properties(rng):
    a = img(rng, 200, 220)
    assert fn.ms_ssim_pair(a, a) == pytest.approx(1.0)
    noisy = a + rng.normal(0, 10, a.shape)
    noisier = a + rng.normal(0, 30, a.shape)
    assert 1.0 > fn.ms_ssim_pair(a, noisy) > fn.ms_ssim_pair(a, noisier) > 0
    with pytest.raises(ValueError, match="160"):
        fn.ms_ssim_pair(a[:100], a[:100])


def _mef_ssim_reference(sources, f, size=11):
    """Direct per-patch transcription of Ma et al.'s mef_ssim.m (slow, for testing)."""
    eps = np.finfo(float).eps
    window = fn.gaussian_window(size, 1.5).ravel(order="F")
    c = (0.03 * 255) ** 2
    h, w = f.shape
    bd = size // 2
    q = []
    for i in range(bd, h - bd):
        for j in range(bd, w - bd):
            vecs = np.stack([s[i - bd : i + bd + 1, j - bd : j + bd + 1].ravel(order="F") for s in sources], 1)
            mu = vecs.mean(0)
            ed = np.linalg.norm(vecs - mu, axis=0) + 0.001
            r = (np.linalg.norm(vecs.sum(1) - vecs.sum(1).mean()) + eps) / (np.linalg.norm(vecs - mu, axis=0).sum() + eps)
            r = 1 - eps if r > 1 else (eps if r < 0 else r)
            p = min(math.tan(math.pi / 2 * r), 10)
            wts = (ed / size) ** p + eps
            wts /= wts.sum()
            block = ((vecs - mu) / ed * wts).sum(1)
            if np.linalg.norm(block) > 0:
                block = block / np.linalg.norm(block) * ed.max()
            fv = f[i - bd : i + bd + 1, j - bd : j + bd + 1].ravel(order="F")
            m1, m2 = (window * block).sum(), (window * fv).sum()
            s1 = (window * (block - m1) ** 2).sum()
            s2 = (window * (fv - m2) ** 2).sum()
            s12 = (window * (block - m1) * (fv - m2)).sum()
            q.append((2 * s12 + c) / (s1 + s2 + c))
    return float(np.mean(q))


def test_mef_ssim_matches_per_patch_reference(rng):
    base = smooth_image(rng, 22, 26)
    stack = [np.clip(base * g, 0, 1) * 255 for g in (0.4, 1.0, 1.8)]
    fused = np.clip(base * 1.1, 0, 1) * 255 + rng.normal(0, 3, base.shape)
    # Box-filter moments (E[xy] − μ²) vs per-patch sums: equal up to float cancellation.
    assert ms.mef_ssim(fused, stack) == pytest.approx(_mef_ssim_reference(stack, fused), abs=1e-6)
    assert ms.mef_ssim(stack[1], stack) > ms.mef_ssim(rng.random(base.shape) * 255, stack)
    scene = smooth_image(rng, 60, 70)
    big = [np.clip(scene * g, 0, 1) * 255 for g in (0.5, 1.5)]
    good, bad = ms.mef_ms_ssim(scene * 255, big), ms.mef_ms_ssim(rng.random(scene.shape) * 255, big)
    assert 1.0 >= good > 0.5 and bad < 0.2


# ----------------------------------------------------------------------------- VIF


def test_vif_identity_and_degradation(rng):
    a, b = img(rng), img(rng)
    assert fn.vif(a, [a, a]) == pytest.approx(2.0)
    noisy = a + rng.normal(0, 15, a.shape)
    assert fn.vif_pair(a, noisy) < fn.vif_pair(a, a + rng.normal(0, 3, a.shape)) < 1.0
    v = fn.viff(0.5 * (a + b), [a, b])
    assert 0 < v <= 1.0 and fn.viff(a, [a, a]) == pytest.approx(1.0, abs=1e-6)


# ----------------------------------------------------------------------------- gradient metrics


def test_qabf_maximal_when_fused_equals_sources(rng):
    a = img(rng)
    best = gr.qabf(a, [a, a])
    # With the shared "equal strengths -> G = g_F" quirk, identical images give Qg ≈ 0.9994 and Qa(1) = 0.9879/(1+e^-4.4).
    assert best == pytest.approx(0.9994 * 0.9879 / (1 + math.exp(-22 * 0.2)), abs=0.01)
    b = img(rng)
    assert gr.qabf(0.5 * (a + b), [a, b]) < best
    assert gr.qabf(a + rng.normal(0, 20, a.shape), [a, a]) < best


def test_nabf_zero_for_pixel_average(rng):
    a, b = img(rng), img(rng)
    assert gr.nabf(0.5 * (a + b), [a, b]) == 0.0
    assert gr.nabf(0.3 * a + 0.7 * b, [a, b]) < 1e-6  # only float round-off where gradients are parallel
    sharpened = 2.0 * a - fn.filter_same(a, np.full((3, 3), 1 / 9), "reflect")
    assert gr.nabf(sharpened, [a, b]) > 0.0


def test_qcv_qcb_identity(rng):
    a = img(rng)
    assert gr.qcv(a, [a, a]) == pytest.approx(0.0, abs=1e-9)
    assert gr.qcb(a, [a, a]) == pytest.approx(1.0)
    b = img(rng)
    mixed = 0.5 * (a + b)
    assert gr.qcv(mixed, [a, b]) > 0
    assert 0 < gr.qcb(mixed, [a, b]) < 1


@pytest.mark.parametrize("shape", [(32, 48), (33, 47)])
def test_real_frequency_filter_equals_matlab_complex_form(rng, shape):
    x = rng.random(shape) * 255
    u, v = freqspace(shape)
    r = np.sqrt((u * shape[1] / 8) ** 2 + (v * shape[0] / 8) ** 2)
    csf = 2.6 * (0.0192 + 0.144 * r) * np.exp(-((0.144 * r) ** 1.1))
    literal = gr.frequency_filter_complex(x, csf)
    assert np.abs(literal.imag).max() < 1e-9
    assert np.allclose(gr.frequency_filter(x, csf), literal.real, atol=1e-9)


def test_freqspace_matches_matlab_convention():
    u, v = freqspace((4, 5))
    assert np.allclose(u[0], [-0.8, -0.4, 0.0, 0.4, 0.8])
    assert np.allclose(v[:, 0], [-1.0, -0.5, 0.0, 0.5])


# ----------------------------------------------------------------------------- FMI


def _fmi_window_reference(a, f):
    """Direct transcription of Haghighat's per-window loop (one window pair)."""
    if np.array_equal(a, f):
        return 1.0
    l = a.size
    def norm(x):
        return np.ones_like(x) if x.max() == x.min() else (x - x.min()) / (x.max() - x.min())
    ap = norm(a).ravel(order="F"); ap = ap / ap.sum()
    fp = norm(f).ravel(order="F"); fp = fp / fp.sum()
    acdf, fcdf = np.cumsum(ap), np.cumsum(fp)
    at, ft = ap - ap.mean(), fp - fp.mean()
    c = 0.0 if (at * ft).sum() == 0 else (at * ft).sum() / math.sqrt((at * at).sum() * (ft * ft).sum())
    i = np.arange(1, l + 1)
    asd = math.sqrt(max((i * i * ap).sum() - (i * ap).sum() ** 2, 0))
    fsd = math.sqrt(max((i * i * fp).sum() - (i * fp).sum() ** 2, 0))
    up = lambda x, y: 0.5 * (x + y - abs(x - y))  # noqa: E731
    lo = lambda x, y: 0.5 * (x + y - 1 + abs(x + y - 1))  # noqa: E731
    bound = up if c >= 0 else lo
    if c >= 0:
        k = 0.0 if (c == 0 or asd == 0 or fsd == 0) else c / (sum(up(fcdf[p], acdf[q]) - fcdf[p] * acdf[q] for p in range(l) for q in range(l)) / (fsd * asd))
    else:
        k = 0.0 if (asd == 0 or fsd == 0) else c / (sum(lo(fcdf[p], acdf[q]) - fcdf[p] * acdf[q] for p in range(l) for q in range(l)) / (fsd * asd))
    F = np.concatenate([[0], fcdf]); A = np.concatenate([[0], acdf])
    je = 0.0
    for p in range(1, l + 1):
        for q in range(1, l + 1):
            d = bound(F[p], A[q]) - bound(F[p - 1], A[q]) - bound(F[p], A[q - 1]) + bound(F[p - 1], A[q - 1])
            if p == 1 or q == 1:  # MATLAB's boundary terms omit the (0, ·) / (·, 0) corners
                d = bound(F[p], A[q]) - (bound(F[p - 1], A[q]) if p > 1 else 0) - (bound(F[p], A[q - 1]) if q > 1 else 0)
            j = k * d + (1 - k) * fp[p - 1] * ap[q - 1]
            if j != 0:
                je += -j * math.log2(abs(j))
    ha = -(ap[ap > 0] * np.log2(ap[ap > 0])).sum()
    hf = -(fp[fp > 0] * np.log2(fp[fp > 0])).sum()
    mi = ha + hf - je
    return 0.0 if mi == 0 else 2 * mi / (ha + hf)


def test_fmi_matches_per_window_reference(rng):
    a, b = img(rng, 7, 8), img(rng, 7, 8)
    f = np.round(0.5 * a + 0.5 * b)
    f[0, 0] = 255 - f[0, 0]  # some negatively correlated windows too
    windows = []
    for p in range(1, 6):
        for q in range(1, 7):
            sl = (slice(p - 1, p + 2), slice(q - 1, q + 2))
            windows.append((_fmi_window_reference(a[sl], f[sl]) + _fmi_window_reference(b[sl], f[sl])) / 2)
    assert fmi_mod.fmi(f, [a, b]) == pytest.approx(np.mean(windows), abs=1e-9)
    assert fmi_mod.fmi(a, [a, a]) == 1.0


# ----------------------------------------------------------------------------- MATLAB semantics


def test_matlab_round_takes_halves_away_from_zero_exactly():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 42.5, 0.49999999999999994, 2.4999999999999996, 3.0])
    assert fn.matlab_round(x).tolist() == [1.0, 2.0, 3.0, -1.0, -3.0, 43.0, 0.0, 2.0, 3.0]


def test_normalize1_rounds_like_matlab_on_exact_halves():
    """1/6 of the way from min to max is 42.5 grey levels: MATLAB's round gives 43, np.round 42."""
    x = np.array([[0.0, 1.0, 6.0]])
    assert fn.normalize1(x).tolist() == [[0.0, 43.0, 255.0]]
    assert fn.normalize1(x * 255, im2double=True).tolist() == [[0.0, 43.0, 255.0]]


def test_edge_intensity_by_hand():
    """A vertical step of height 10: Sobel responses 40 on the two columns beside it (replicated
    border), 0 elsewhere; EI is their mean."""
    step = np.zeros((5, 6))
    step[:, 3:] = 10.0
    assert fn.edge_intensity(step) == pytest.approx(2 * 5 * 40 / 30)
    assert fn.edge_intensity(np.full((4, 4), 7.0)) == 0.0


def test_tang_sd_saturates_like_matlab_uint8_arithmetic():
    f = np.array([[100.0, 200.0]])  # mean 150: 100 - 150 -> 0, 200 - 150 = 50 -> 50^2 saturates at 255
    assert fn.standard_deviation(f, "uint8") == pytest.approx(math.sqrt(255 / 2))
    assert fn.standard_deviation(f) == pytest.approx(50.0)


def test_qabf_gradient_ties_are_the_same_for_any_data_layout(rng):
    """The ordered conv2 gives bit-identical gradients for a C- or Fortran-ordered copy and for
    float32 input: ties (and so Qabf) cannot depend on memory layout or dtype."""
    a, b = img(rng), img(rng)
    f = np.round(0.5 * (a + b))
    reference = gr.qabf(f, [a, b], 1 / 255)
    assert gr.qabf(np.asfortranarray(f), [np.asfortranarray(a), b], 1 / 255) == reference
    assert gr.qabf(f.astype(np.float32), [a.astype(np.float32), b], 1 / 255) == reference


def test_liu_similarity_metrics_on_copies_and_noise(rng):
    """Qy, Qc and Qw are 1 when every image is the same; a fused image that loses the sources'
    structure scores lower; three sources are refused (the definitions weigh two)."""
    from fusecli.metrics import similarity as sim

    a, b = img(rng), img(rng)
    noise = np.round(np.clip(0.5 * (a + b) + rng.normal(0, 40, a.shape), 0, 255))
    for metric in (sim.qy, sim.qc, sim.qw):
        assert metric(a, [a, a]) == pytest.approx(1.0, abs=1e-6)
        assert metric(noise, [a, b]) < metric(np.round(0.5 * (a + b)), [a, b])
        with pytest.raises(ValueError, match="two sources"):
            metric(a, [a, b, a])


def test_tsallis_and_ncie_by_hand():
    """A two-level image against itself: the joint distribution is diagonal (1/2, 1/2), so Liu's
    Tsallis sum is 2·(1/2)^q / (1/4)^(q−1); each NCC is 1 bit / log2(256) = 1/8, so the
    correlation matrix has eigenvalues 1 + 2/8 and 1 − 1/8 (twice)."""
    q = 1.85
    two = np.array([[0.0, 255.0], [0.0, 255.0]])
    single = (1 - 2 * 0.5**q / 0.25 ** (q - 1)) / (1 - q)
    assert fn.tsallis_entropy(two, [two, two], q) == pytest.approx(2 * single)
    eigen = np.array([1.25, 0.875, 0.875])
    assert fn.ncie(two, [two, two]) == pytest.approx(1 + float((eigen * np.log2(eigen / 3) / 3).sum()) / 8)


def test_qabf_is_not_moved_by_float_round_off_of_8bit_values(rng):
    """8-bit pixels through float32 (as files are read) are integers only up to round-off; a
    horizontal gradient that is 0 up to that round-off must not flip an edge's orientation."""
    a, b = img(rng), img(rng)
    f = np.round(0.5 * (a + b))
    through_float32 = [(x / 255).astype(np.float32).astype(np.float64) * 255 for x in (f, a, b)]
    assert gr.qabf(through_float32[0], through_float32[1:]) == pytest.approx(gr.qabf(f, [a, b]), rel=1e-7)


def test_qp_rewards_kept_phase_congruency(rng):
    """Qp of a source against itself is close to 1 (C = 1e-4 keeps it just under); noise that
    destroys the sources' features scores far lower; it weighs two sources, not three."""
    from fusecli.metrics import phase

    a, b = img(rng), img(rng)
    assert phase.qp(a, [a, a]) == pytest.approx(1.0, abs=0.02)
    average = phase.qp(np.round(0.5 * (a + b)), [a, b])
    noisy = phase.qp(np.clip(0.5 * (a + b) + rng.normal(0, 30, a.shape), 0, 255), [a, b])
    assert 0 < noisy < 0.5 * average
    with pytest.raises(ValueError, match="two sources"):
        phase.qp(a, [a, b, a])
