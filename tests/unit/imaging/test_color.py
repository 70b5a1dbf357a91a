from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import smooth_image

from fusecli.imaging.color import colorize, luminance, rgb_to_ycbcr, ycbcr_to_rgb
from fusecli.errors import InputMismatchError


def _all_ish_8bit_colours() -> np.ndarray:
    levels = np.arange(0, 256, 5, dtype=np.float32)
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    return np.stack([r, g, b], -1).reshape(-1, 3) / 255.0


def test_round_trip_within_one_level():
    rgb = _all_ish_8bit_colours()
    back = ycbcr_to_rgb(rgb_to_ycbcr(rgb))
    assert np.abs(back - rgb).max() < 1 / 255
    # Also through 8-bit quantisation of YCbCr, as when a YCbCr image is stored.
    q = np.round(rgb_to_ycbcr(rgb) * 255) / 255
    assert np.abs(np.round(ycbcr_to_rgb(q) * 255) - rgb * 255).max() <= 2


def test_matches_opencv_bt601():
    rgb = _all_ish_8bit_colours().reshape(1, -1, 3).astype(np.float32)
    ours = rgb_to_ycbcr(rgb)
    theirs = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)  # Y, Cr, Cb; offset 0.5 for float
    assert np.abs(ours[..., 0] - theirs[..., 0]).max() < 1e-5
    # OpenCV rounds the chroma scales to 0.564 and 0.713 (exact: 0.5/0.886, 0.5/0.701),
    # a difference below a tenth of an 8-bit level.
    assert np.abs(ours[..., 1] - theirs[..., 2]).max() < 0.1 / 255
    assert np.abs(ours[..., 2] - theirs[..., 1]).max() < 0.1 / 255
    back = cv2.cvtColor(theirs, cv2.COLOR_YCrCb2RGB)
    assert np.abs(ycbcr_to_rgb(ours) - np.clip(back, 0, 1)).max() < 0.2 / 255


def test_known_values():
    ycc = rgb_to_ycbcr(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert np.allclose(ycc[0], [1.0, 0.5, 0.5], atol=1e-6)
    assert np.allclose(ycc[1], [0.0, 0.5, 0.5], atol=1e-6)
    assert np.allclose(ycc[2], [0.299, 0.5 - 0.168736, 1.0], atol=1e-6)


def test_colorize_keeps_fused_luma_and_source_chroma(rng):
    source = np.clip(rng.random((16, 20, 3)).astype(np.float32) * 0.6 + 0.2, 0, 1)
    fused = np.full((16, 20), 0.5, np.float32)
    out = colorize(fused, source)
    assert out.shape == (16, 20, 3) and out.dtype == np.float32
    ycc_out, ycc_src = rgb_to_ycbcr(out), rgb_to_ycbcr(source)
    unclipped = ((out > 0.001) & (out < 0.999)).all(-1)
    assert np.abs(ycc_out[..., 0] - fused)[unclipped].max() < 1e-5
    assert np.abs(ycc_out[..., 1:] - ycc_src[..., 1:])[unclipped].max() < 1e-5


def test_colorize_gray_source_is_an_identity_on_luma(rng):
    fused = rng.random((8, 8)).astype(np.float32)
    gray_rgb = np.repeat(rng.random((8, 8, 1)).astype(np.float32), 3, axis=2)
    out = colorize(fused, gray_rgb)
    assert np.allclose(out, fused[..., None].repeat(3, 2), atol=1e-5)


def test_colorize_errors_and_resize(rng):
    with pytest.raises(InputMismatchError, match="RGB"):
        colorize(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(InputMismatchError, match="--resize"):
        colorize(np.zeros((4, 4)), np.zeros((8, 8, 3)))
    out = colorize(np.zeros((4, 6)), np.full((8, 12, 3), 0.5, np.float32), resize=True)
    assert out.shape == (4, 6, 3)
    assert np.allclose(luminance(np.ones((2, 2, 3))), 1.0)



def test_tone_gain_reads_a_tone_change_and_not_a_detail_change(rng):
    """The local contrast gain of a restored luminance over the one its chroma came with: 2 for a
    contrast doubled about a local mean (or a brightening by 2 of a dark image), 1 where only fine
    detail differs (denoising, sharpening) or nothing does."""
    from fusecli.imaging.color import stretch_chroma, tone_gain

    reference = 0.1 + 0.4 * smooth_image(rng, 96, 128)
    np.testing.assert_array_equal(tone_gain(reference, reference), np.ones_like(reference))
    inner = (slice(24, -24), slice(24, -24))
    doubled = 2 * (reference - reference.mean()) + reference.mean()
    for stretched in (doubled, 2 * reference):  # where flat, the floor pulls it towards 1: never past the change
        gain = tone_gain(stretched, reference)[inner]
        assert np.median(gain) > 1.8 and gain.max() <= 2.0 + 1e-4, (np.median(gain), gain.max())
    noisy = np.clip(reference + rng.normal(0, 0.03, reference.shape), 0, 1).astype(np.float32)  # the input; the output is denoised
    assert np.abs(tone_gain(reference, noisy)[inner] - 1).max() < 0.05
    assert tone_gain(np.full((32, 32), 0.5), np.full((32, 32), 0.2)).tolist() == np.ones((32, 32)).tolist()  # both flat
    with pytest.raises(ValueError, match="two \\(H, W\\) images of one size"):
        tone_gain(reference, reference[:10])
    chroma = np.stack([reference, 1 - reference], axis=2)
    np.testing.assert_allclose(stretch_chroma(chroma, 2.0), np.clip(0.5 + 2 * (chroma - 0.5), 0, 1))
    np.testing.assert_allclose(stretch_chroma(chroma, np.full(reference.shape, 0.5)), 0.5 + 0.5 * (chroma - 0.5), atol=1e-6)


def test_brightness_gain_reads_an_exposure_change(rng):
    """The local brightness ratio of a restored luminance over the one its chroma came with: the
    exposure factor for a brightened image (not the contrast gain's 1 for a uniform lift), 1 for
    the same image, clipped to its limit; a dehazing request must not use it (it would read the
    removed airlight as exposure), which fusecli.fusion.colour.tone_colour_gain decides."""
    from fusecli.imaging.color import brightness_gain, tone_gain
    from fusecli.fusion.colour import tone_colour_gain as _tone_colour_gain

    reference = 0.05 + 0.3 * smooth_image(rng, 96, 128)
    np.testing.assert_allclose(brightness_gain(reference, reference), 1.0, atol=1e-6)
    inner = (slice(24, -24), slice(24, -24))
    gain = brightness_gain(2.5 * reference, reference)[inner]
    assert np.abs(gain - 2.5).max() < 0.1, (gain.min(), gain.max())  # the floor pulls it slightly towards 1
    assert brightness_gain(reference, np.zeros_like(reference)).max() == pytest.approx(5.0)
    with pytest.raises(ValueError, match="two \\(H, W\\) images of one size"):
        brightness_gain(reference, reference[:10])
    hazy = 0.5 * reference + 0.4  # airlight: brighter and flatter; dehazing darkens and stretches
    np.testing.assert_array_equal(_tone_colour_gain(["low_exposure"], 2 * reference, reference), brightness_gain(2 * reference, reference))
    for requests in (["haze"], ["low_exposure", "haze"]):
        np.testing.assert_array_equal(_tone_colour_gain(requests, reference, hazy), tone_gain(reference, hazy))


def test_guided_filter_smooths_noise_but_not_the_guides_edges(rng):
    """Chroma noise on a two-colour scene goes; the colour edge, which the clean luminance
    shares, stays sharp (a plain box blur of that size would smear it over 5 px)."""
    from fusecli.imaging.color import denoise_chroma, guided_filter

    y = np.full((64, 64), 0.3, np.float32)
    y[:, 32:] = 0.7
    clean = np.stack([np.where(y > 0.5, 0.7, 0.4), np.where(y > 0.5, 0.35, 0.6)], axis=2).astype(np.float32)
    noisy = clean + rng.normal(0, 0.03, clean.shape).astype(np.float32)
    out = denoise_chroma(noisy, y)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert np.abs(out - clean).std() < 0.4 * np.abs(noisy - clean).std()
    blurred = cv2.blur(cv2.blur(noisy, (5, 5), borderType=cv2.BORDER_REFLECT), (5, 5), borderType=cv2.BORDER_REFLECT)
    edge = (slice(None), slice(30, 34))  # the columns beside the edge
    assert np.abs(out - clean)[edge].mean() < 0.35 * np.abs(blurred - clean)[edge].mean()
    flat = np.full((32, 32), 0.5, np.float32)  # no edges: twice a box mean
    p = rng.random((32, 32)).astype(np.float32)
    twice = cv2.blur(cv2.blur(p, (5, 5), borderType=cv2.BORDER_REFLECT), (5, 5), borderType=cv2.BORDER_REFLECT)
    np.testing.assert_allclose(guided_filter(flat, p, 2, 1e-2), twice, atol=1e-5)
    with pytest.raises(ValueError, match="guided_filter takes"):
        guided_filter(y, noisy[:10], 2, 1e-2)


def test_colorize_denoise_follows_the_fused_edges(rng):
    """``colorize(denoise=True)`` (``fusecli colorize --denoise``) takes the source's colour
    without its noise; off, the noise comes through unchanged. The scene's colours vary over
    tens of pixels, as real chroma does; the fused luminance is its own."""
    source = cv2.GaussianBlur(smooth_image(rng, 48, 64, 3), (0, 0), 4.0)
    source = (source - source.min()) / (source.max() - source.min())
    y = luminance(source)
    noisy = np.clip(source + rng.normal(0, 0.05, source.shape), 0, 1).astype(np.float32)
    truth = rgb_to_ycbcr(colorize(y, source))[..., 1:]
    plain, denoised = (rgb_to_ycbcr(colorize(y, noisy, denoise=d))[..., 1:] for d in (False, True))
    assert np.abs(denoised - truth).mean() < 0.5 * np.abs(plain - truth).mean()  # measured (seed 0): 0.34
    np.testing.assert_allclose(rgb_to_ycbcr(colorize(y, noisy, denoise=True))[..., 0], y, atol=2e-3)
