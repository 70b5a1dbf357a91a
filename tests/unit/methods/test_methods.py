"""Training-free fusion methods (used for --gt ground truths and as baselines)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.errors import InputMismatchError
from fusecli.imaging.color import luminance
from fusecli.imaging import as_float, read_image
from fusecli.metrics import score_arrays
from fusecli.methods import fuse_frames, method_names
from fusecli.methods.pyramid import collapse, laplacian_pyramid, pyramid_blend

from conftest import smooth_image, EXAMPLES



def test_registry_names():
    assert set(method_names()) == {"exposure-fusion", "focus-fusion", "pyramid-vif", "energy-vif"}


def test_pyramid_round_trip_and_constant_weights(rng):
    image = smooth_image(rng, 67, 91, 3)
    assert np.abs(collapse(laplacian_pyramid(image, 5)) - image).max() < 1e-5
    a, b = smooth_image(rng, 40, 50), smooth_image(rng, 40, 50)
    blended = pyramid_blend([a, b], np.stack([np.full(a.shape, 0.25), np.full(a.shape, 0.75)]))
    assert np.abs(blended - np.clip(0.25 * a + 0.75 * b, 0, 1)).max() < 1e-5


def test_exposure_fusion_beats_every_shot_on_mef_ssim():
    shots = [read_image(EXAMPLES / "mef" / f"coffee_{n}.jpg")[0] for n in ("under", "normal", "over")]
    fused = fuse_frames("exposure-fusion", shots)
    assert fused.shape == shots[0].shape
    ours = score_arrays(fused, shots, ["MEF-SSIM"])["MEF-SSIM"]
    assert all(ours > score_arrays(s, shots, ["MEF-SSIM"])["MEF-SSIM"] for s in shots)
    assert (fused > 0.98).mean() < (shots[2] > 0.98).mean()  # fewer clipped highlights than the bright shot


@pytest.mark.parametrize("channels", [None, 3])
def test_exposure_fusion_reads_8_and_16_bit_frames_like_floats(rng, channels):
    """Integer frames go in as stored (no float copy of the full frames); the result matches
    fusing the same frames converted to float, for odd sizes too."""
    scene = smooth_image(rng, 61, 87, channels)
    shots = [np.clip(scene * gain, 0, 1) for gain in (0.4, 1.0, 1.9)]
    for dtype, peak in ((np.uint8, 255), (np.uint16, 65535)):
        stored = [np.round(s * peak).astype(dtype) for s in shots]
        ints = fuse_frames("exposure-fusion", stored)
        floats = fuse_frames("exposure-fusion", [as_float(s) for s in stored])  # the same values as float32
        assert ints.dtype == np.float32 and ints.shape == scene.shape
        # 16-bit integer luma/area averages round at 1/65280 (8-bit data is scaled by 256 first):
        # far below one 8-bit level, even where flat regions make the weights sensitive
        difference = np.abs(ints - floats)
        assert difference.max() < 1 / 255 and difference.mean() < 1e-4


def test_exposure_fusion_is_on_par_with_opencv_mertens():
    """The half-resolution weights and chroma keep MEF-SSIM near cv2.createMergeMertens's
    (full-resolution RGB blending) on the example bracket. This synthetic bracket is one where
    the deep exposure-fusion pyramid costs a little (0.9623 -> 0.9595, OpenCV 0.9614); on 138 real
    brackets it gains 0.011 and beats OpenCV on 110 (bench/mef_depth.py)."""
    import cv2

    stored = [read_image(EXAMPLES / "mef" / f"coffee_{n}.jpg", keep_integers=True)[0] for n in ("under", "normal", "over")]
    shots = [as_float(s) for s in stored]
    ours = fuse_frames("exposure-fusion", stored)
    mertens = np.clip(cv2.createMergeMertens().process([s[..., ::-1] for s in stored])[..., ::-1], 0, 1)
    assert score_arrays(ours, shots, ["MEF-SSIM"])["MEF-SSIM"] >= score_arrays(mertens, shots, ["MEF-SSIM"])["MEF-SSIM"] - 0.003


def test_exposure_fusion_pyramid_reaches_across_the_frame():
    """Exposure fusion's pyramid stops at 4-7 px whatever the size (24 MP: 10 levels, not the
    8 of the other methods' rule), so large-scale tones blend with frame-wide weights."""
    from fusecli.methods import exposure_levels, method_levels, pyramid_levels

    for shape in [(8, 8), (63, 64), (400, 600), (4000, 6000), (5, 20000)]:
        levels = exposure_levels(shape)
        coarsest = min(shape) / 2 ** (levels - 1)
        assert 4 <= coarsest < 8, (shape, levels)
        assert method_levels("mertens", shape) == levels and method_levels("focus-fusion", shape) == pyramid_levels(shape)
    assert exposure_levels((4000, 6000)) == 10 > pyramid_levels((4000, 6000))
    stored = [read_image(EXAMPLES / "mef" / f"coffee_{n}.jpg", keep_integers=True)[0] for n in ("under", "normal", "over")]
    fused = fuse_frames("exposure-fusion", stored)
    np.testing.assert_array_equal(fused, fuse_frames("exposure-fusion", stored, levels=exposure_levels(fused.shape[:2])))
    assert np.abs(fused - fuse_frames("exposure-fusion", stored, levels=pyramid_levels(fused.shape[:2]))).max() > 0.05


@pytest.mark.parametrize("channels", [1, 3])
def test_exposure_fusion_tiles_agree_with_the_whole_image(rng, channels):
    """A bracket too large for one tile is fused in tiles that take the whole image's coarse
    levels (exposure_coarse), so a deep pyramid leaves no tile-to-tile tone steps: the same as
    fusing it whole, also with odd sizes (the half-size grid starts at every tile's corner).
    Without the shared levels, the tiles' own coarse blends differ by several 8-bit levels."""
    import functools

    import cv2

    from fusecli.fusion import fuse
    from fusecli.fusion.pipeline import _method_tile
    from fusecli.methods import exposure_coarse, exposure_levels
    from fusecli.methods.exposure import exposure_fusion
    from fusecli.fusion.tiling import run_tiled

    shape = (301, 459) + ((3,) if channels == 3 else ())
    texture = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 3)
    light = np.linspace(0.2, 3.0, shape[1], dtype=np.float32).reshape(1, -1, *([1] * (channels == 3)))  # dark left, bright right
    scene = (texture - texture.min()) / np.ptp(texture) * light
    shots = [(np.clip(scene * gain, 0, 1) * 255).astype(np.uint8) for gain in (0.35, 1.0, 2.8)]
    whole = fuse_frames("exposure-fusion", shots)
    tiled = fuse(list(shots), task="mef", model="exposure-fusion", tile=32, overlap=8).image  # tiles of 192 px, 48 px overlap
    assert np.abs(tiled - whole).max() < 0.25 / 255  # a quarter of an 8-bit level, in the overlaps
    np.testing.assert_array_equal(exposure_fusion(shots, coarse=exposure_coarse(shots, 3)), whole)  # one tile: bit for bit
    levels = exposure_levels(shots[0].shape[:2])
    alone = run_tiled(functools.partial(_method_tile, "exposure-fusion", levels), shots, 192, 48)
    assert np.abs(alone - whole).max() > 3 / 255


def test_focus_fusion_is_sharper_than_both_inputs():
    near = read_image(EXAMPLES / "mff" / "motorcycle_near.jpg")[0]
    far = read_image(EXAMPLES / "mff" / "motorcycle_far.jpg")[0]
    fused = fuse_frames("focus-fusion", [near, far])
    q = score_arrays(fused, [near, far], ["Qabf"])["Qabf"]
    assert q > score_arrays(near, [near, far], ["Qabf"])["Qabf"] and q > score_arrays(far, [near, far], ["Qabf"])["Qabf"]


def _focus_stack(rng, count: int, size: int = 96) -> list[np.ndarray]:
    """``count`` 8-bit RGB shots of one scene, each sharp in its own vertical band, blurred elsewhere."""
    import cv2

    scene = smooth_image(rng, size, size, 3) * 0.5 + rng.random((size, size, 3)).astype(np.float32) * 0.5
    blurred = cv2.GaussianBlur(scene, (0, 0), 2.5)
    shots = []
    for k in range(count):
        shot = blurred.copy()
        band = slice(k * size // count, (k + 1) * size // count)
        shot[:, band] = scene[:, band]
        shots.append(np.round(shot * 255).astype(np.uint8))
    return shots


def test_focus_fusion_streams_to_the_whole_stack_blend(rng):
    """Frame by frame, the result is the documented whole-stack method: the sharpest frame per
    pixel (argmax of the box-filtered squared Laplacian), a 5x5 median, Gaussian-softened
    weights, one Laplacian-pyramid blend of all frames."""
    import cv2

    shots = _focus_stack(rng, 5)
    floats = [as_float(s) for s in shots]
    energy = np.stack([cv2.boxFilter(cv2.Laplacian(luminance(f), cv2.CV_32F) ** 2, -1, (9, 9)) for f in floats])
    choice = cv2.medianBlur(np.argmax(energy, 0).astype(np.uint8), 5)
    weights = np.stack([cv2.GaussianBlur((choice == k).astype(np.float32), (0, 0), 1.0) for k in range(5)])
    expected = pyramid_blend(floats, weights + 1e-6)
    assert np.abs(fuse_frames("focus-fusion", shots) - expected).max() < 1e-6
    assert np.abs(fuse_frames("focus-fusion", floats) - expected).max() < 1e-6


def test_focus_fusion_memory_does_not_grow_with_the_stack(rng):
    """A photographer's focus stack has 5-50 shots: the working memory (beyond the stored
    frames) must not grow with their number. Peak traced allocations for 12 shots against 3."""
    import tracemalloc

    def peak(shots: list[np.ndarray]) -> int:
        tracemalloc.start()
        fuse_frames("focus-fusion", shots)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    few, many = peak(_focus_stack(rng, 3, 256)), peak(_focus_stack(rng, 12, 256))
    assert many < 1.3 * few, (few, many)


def test_exposure_fusion_memory_per_shot_is_small(rng):
    """While a bracket waits for its blend, each shot keeps its luma and half-size colour as
    16-bit stored values (not float32) and its half-size weight: under 9 bytes per pixel per
    extra shot in all (14 with float copies), so a 7-shot 24 MP bracket fits in 3 GB."""
    import tracemalloc

    base = (rng.random((512, 512, 3)) * 255).astype(np.uint8)

    def peak(count: int) -> int:
        shots = [np.clip(base * gain, 0, 255).astype(np.uint8) for gain in np.geomspace(0.3, 3, count)]
        tracemalloc.start()
        fuse_frames("exposure-fusion", shots)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    per_shot = (peak(8) - peak(2)) / 6 / base.shape[0] / base.shape[1]
    assert per_shot < 9, per_shot


def test_focus_fusion_takes_more_than_255_shots(rng):
    """Deep stacks: a frame index past 255 still picks that frame (the choice map widens)."""
    import cv2

    sharp = np.round(smooth_image(rng, 32, 32) * 255).astype(np.uint8)
    soft = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    shots = [soft] * 300
    shots[290] = sharp
    fused = fuse_frames("focus-fusion", shots)
    assert np.abs(fused - as_float(sharp))[4:-4, 4:-4].mean() < 0.25 * np.abs(as_float(soft) - as_float(sharp))[4:-4, 4:-4].mean()


def test_pyramid_vif_keeps_colour_and_edges():
    ir = read_image(EXAMPLES / "vif" / "astronaut_ir.png")[0]
    vis = read_image(EXAMPLES / "vif" / "astronaut_vis.jpg")[0]
    fused = fuse_frames("pyramid-vif", [ir, vis])
    assert fused.shape == vis.shape
    average = 0.5 * ir[..., None] + 0.5 * vis
    assert score_arrays(fused, [ir, vis], ["Qabf"])["Qabf"] > score_arrays(average, [ir, vis], ["Qabf"])["Qabf"]
    with pytest.raises(InputMismatchError):
        fuse_frames("pyramid-vif", [ir, vis, vis])


def test_energy_vif_leans_to_the_brighter_frame_and_keeps_the_stronger_detail(rng):
    """energy-vif's base leans toward the brighter frame where pyramid-vif averages (a warm
    body at night stays bright, the lit visible background is not dimmed by a cold infrared);
    its details follow the frame with more local energy (the visible texture over a flat
    infrared); a frame fused with itself comes back."""
    h, w = 160, 200
    yy, xx = np.mgrid[:h, :w]
    ir = np.where(xx < w // 2, 0.9, 0.1).astype(np.float32)  # warm left half, cold right half
    vis = np.clip(0.5 + 0.1 * np.sin(xx / 1.5) * np.sin(yy / 1.5), 0, 1).astype(np.float32)
    energy, pyramid = fuse_frames("energy-vif", [ir, vis]), fuse_frames("pyramid-vif", [ir, vis])
    left, right = (slice(40, 120), slice(20, 70)), (slice(40, 120), slice(130, 180))
    for half in (left, right):  # the brighter frame there: infrared on the left, visible on the right
        assert energy[half].mean() > pyramid[half].mean() + 0.05
    texture = lambda f: np.std(f[right] - cv2.GaussianBlur(f, (0, 0), 4)[right])  # noqa: E731
    assert texture(energy) > 0.9 * texture(vis)
    np.testing.assert_allclose(fuse_frames("energy-vif", [vis, vis]), vis, atol=2e-5)
    colour = fuse_frames("energy-vif", [ir, np.dstack([vis, vis * 0.9, vis * 0.8])])
    assert colour.shape == (h, w, 3) and colour[..., 0].mean() > colour[..., 2].mean()
    with pytest.raises(InputMismatchError):
        fuse_frames("energy-vif", [ir, vis, vis])
    with pytest.raises(InputMismatchError):
        fuse_frames("energy-vif", [ir, vis[:-1]])


def test_methods_handle_16bit_precision_and_gray(rng):
    a = smooth_image(rng, 48, 64) * 0.01  # values far below one 8-bit level apart
    b = a + 1e-4
    out = fuse_frames("focus-fusion", [a, b])
    assert out.dtype == np.float32 and len(np.unique(np.round(out * 65535))) > 200


def test_degrade_gt_writes_fused_ground_truth(tmp_path, rng):
    from fusecli.imaging import write_image

    for name in ("x", "y"):
        write_image(tmp_path / "ir" / f"{name}.png", smooth_image(rng, 40, 48))
        write_image(tmp_path / "vis" / f"{name}.png", smooth_image(rng, 40, 48, 3))
    runner = CliRunner()
    args = ["degrade", "--task", "vif", "--ir", str(tmp_path / "ir"), "--vis", str(tmp_path / "vis"), "--out", str(tmp_path / "d")]
    out = runner.invoke(cli, args + ["--gt", "pyramid-vif"])
    assert out.exit_code == 0, out.output
    record = json.loads((tmp_path / "d" / "meta" / "x.json").read_text())
    gt, _ = read_image(tmp_path / "d" / record["files"]["gt"])
    clean = [read_image(tmp_path / "d" / rel)[0] for rel in record["files"]["clean"]]
    assert np.abs(gt - fuse_frames("pyramid-vif", clean)).max() <= 1 / 255
    wrong = runner.invoke(cli, args[:-1] + [str(tmp_path / "e"), "--gt", "exposure-fusion"])
    assert wrong.exit_code == 2 and "does not fit" in wrong.output and "energy-vif" in wrong.output
    other = runner.invoke(cli, args[:-1] + [str(tmp_path / "f"), "--gt", "energy-vif"])  # any VIF method fits
    assert other.exit_code == 0, other.output
    record = json.loads((tmp_path / "f" / "meta" / "x.json").read_text())
    gt, _ = read_image(tmp_path / "f" / record["files"]["gt"])
    assert np.abs(gt - fuse_frames("energy-vif", clean)).max() <= 1 / 255
