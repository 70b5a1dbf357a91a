"""`fusecli fuse` end to end: every task and method, colour, bit depth, tiles, resume, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import smooth_image, EXAMPLES
from fusecli.cli.main import cli
from fusecli.fusion import fuse
from fusecli.fusion.pipeline import TRAINING_FREE_TILE_SCALE
from fusecli.imaging import as_float, read_image, write_image
from fusecli.catalog import CATALOG
from fusecli.models.weights import build, build_entry, save_weights
from fusecli.fusion.tiling import run_tiled, tile_spans


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


@pytest.fixture
def scene(rng):
    return smooth_image(rng, 72, 96, 3)


@pytest.fixture
def vif_pair(tmp_path, scene, rng):
    ir = np.clip(scene.mean(2) * 0.5 + smooth_image(rng, 72, 96) * 0.5, 0, 1)
    write_image(tmp_path / "ir.png", ir)
    write_image(tmp_path / "vis.jpg", scene)
    return tmp_path / "ir.png", tmp_path / "vis.jpg"


@pytest.fixture
def bracket(tmp_path, scene):
    paths = []
    for name, gain in (("a_over", 2.2), ("b_under", 0.35), ("c_mid", 1.0)):
        paths.append(write_image(tmp_path / f"{name}.tif", np.clip(scene * gain, 0, 1), bit_depth=16))
    return paths


@pytest.fixture
def focus_pair(tmp_path, scene):
    blurred = cv2.GaussianBlur(scene, (0, 0), 3)
    near, far = scene.copy(), scene.copy()
    near[:, 48:], far[:, :48] = blurred[:, 48:], blurred[:, :48]
    return write_image(tmp_path / "near.png", near), write_image(tmp_path / "far.png", far)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    models = {name: build_entry(name) for name in ("moefusion-vif", "mmaif-reg")}
    # the all-in-one model's flow variant (examples/train/mmaif-flow.toml), sampled by --steps/--seed
    models["mmaif-flow"] = build("mmaif", {**CATALOG.get("mmaif-reg").config, "variant": "flow", "prediction": "target", "start_noise": 0.5})
    for part in (models["mmaif-flow"].state_proj, models["mmaif-flow"].head):  # zero at init: make the noise matter
        torch.nn.init.normal_(part.weight, std=0.05)
    return {name: save_weights(model, folder / f"{name}.safetensors") for name, model in models.items()}


def test_vif_default_method_keeps_visible_colour(vif_pair, tmp_path):
    ir, vis = vif_pair
    result = invoke("fuse", "--ir", ir, "--vis", vis, "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    out, meta = read_image(tmp_path / "out.png")
    assert out.shape == (72, 96, 3) and meta.bit_depth == 8
    # chroma comes from the visible image
    from fusecli.imaging.color import rgb_to_ycbcr

    visible, _ = read_image(vis)
    assert np.abs(rgb_to_ycbcr(out)[..., 1:] - rgb_to_ycbcr(visible)[..., 1:]).mean() < 0.01


def test_mef_16bit_any_order_inferred(bracket, tmp_path):
    result = invoke("fuse", *bracket, "-o", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    assert "task mef inferred" in result.output and "exposure-fusion" in result.output
    out, meta = read_image(tmp_path / "out.tif")
    assert meta.bit_depth == 16 and out.shape == (72, 96, 3)
    frames = [read_image(p)[0] for p in bracket]
    # the fused image is better exposed than the darkest and brightest shots
    assert abs(out.mean() - 0.5) < min(abs(f.mean() - 0.5) for f in (frames[0], frames[1]))


def test_mff_picks_the_sharp_half(focus_pair, tmp_path, scene):
    result = invoke("fuse", *focus_pair, "--task", "mff", "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    out, _ = read_image(tmp_path / "out.png")
    near, far = (read_image(p)[0] for p in focus_pair)
    assert np.abs(out - scene).mean() < 0.5 * min(np.abs(near - scene).mean(), np.abs(far - scene).mean())


@pytest.mark.parametrize("name,task", [("moefusion-vif", "vif"), ("mmaif-reg", "vif"), ("mmaif-reg", "mef"), ("mmaif-flow", "mff")])
def test_learned_models_through_the_cli(weights, vif_pair, bracket, focus_pair, tmp_path, name, task):
    inputs = {"vif": ["--ir", vif_pair[0], "--vis", vif_pair[1]], "mef": bracket, "mff": list(focus_pair)}[task]
    out = tmp_path / f"{name}-{task}.png"
    result = invoke("fuse", *inputs, "--task", task, "--model", weights[name], "--steps", 2, "-o", out, "--routing-map", tmp_path / "map.png")
    assert result.exit_code == 0, result.output
    image, meta = read_image(out)
    assert image.shape == (72, 96, 3)
    # two panels: dominant source, and the dominant expert of the mixture-of-experts model
    assert read_image(tmp_path / "map.png")[0].shape == (72, 2 * 96, 3)


def test_tiles_of_a_learned_model_take_the_whole_images_classical_base(scene, tmp_path):
    """mmaif-reg's classical base (exposure fusion, whose pyramid spans the whole frame) is fused
    once from the whole image and each tile takes its crop: with an untrained head and the detail
    gate open, whose output is its base, the tiled result is the whole image's exposure fusion at
    its own depth, not a patchwork of each tile's own fusion."""
    from fusecli.imaging.color import luminance
    from fusecli.catalog import MMAIF_REG
    from fusecli.methods import fuse_frames
    from fusecli.models.weights import build

    torch.manual_seed(0)
    model = build("mmaif", MMAIF_REG)
    torch.nn.init.constant_(model.detail_gate.proj.bias, 30.0)  # open: the base's fine detail passes whole
    path = save_weights(model, tmp_path / "base.safetensors")
    gray = luminance(np.clip(cv2.resize(scene, (157, 125)), 0, 1))  # grey: no colour transfer; odd sides: padded tiles
    frames = [gray * 0.5, np.clip(gray * 1.6, 0, 1)]
    whole = fuse(frames, task="mef", model=str(path)).image
    tiled = fuse(frames, task="mef", model=str(path), tile=64, overlap=32).image
    np.testing.assert_allclose(whole, fuse_frames("exposure-fusion", frames), atol=1e-4)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_tiles_of_a_restoring_model_get_the_whole_images_statistics(scene, tmp_path, monkeypatch):
    """A base that restores what the prompt names (here: stretching contrast) is restored with
    the whole image's percentiles in every tile, and the user is told what was restored."""
    from fusecli.imaging.color import luminance
    from fusecli.catalog import MMAIF_REG
    from fusecli.models.weights import build
    from fusecli.restore import stack_restoration_stats
    from fusecli.restore.stage import ClassicalStage

    torch.manual_seed(0)
    path = save_weights(build("mmaif", {**MMAIF_REG, "restore": {"mff": ["low_contrast"]}}), tmp_path / "restoring.safetensors")
    seen = []
    original = ClassicalStage.fuse_base
    monkeypatch.setattr(ClassicalStage, "fuse_base", lambda self, frames, task, prompts=None, stats=None: seen.append((frames.shape, stats)) or original(self, frames, task, prompts, stats))
    scene = np.clip(cv2.resize(scene, (160, 128)), 0, 1)
    frames = [cv2.GaussianBlur(scene, (0, 0), 2), scene]
    result = fuse(frames, task="mff", model=str(path), prompt="Boost the contrast.", tile=64, overlap=32)
    whole = stack_restoration_stats([luminance(f) for f in frames], ["low_contrast"], "mff")
    assert whole[0]["low_contrast"]["contrast"] == whole[1]["low_contrast"]["contrast"]  # a focus stack's shared gain
    assert seen == [((1, 2, 1, 128, 160), [whole])]  # once, on the whole image, which the tiles then crop
    assert any("low_contrast" in note for note in result.notes)
    seen.clear()
    fuse(frames, task="mff", model=str(path), tile=64, overlap=32)  # no prompt: nothing to restore
    assert [stats for _, stats in seen] == [None]


@pytest.mark.parametrize("name,task,experts", [("moefusion-vif", "vif", 8), ("mmaif-reg", "mef", 4)])
def test_expert_weights_for_the_routing_map(weights, scene, rng, name, task, experts):
    """Per-pixel expert weights are a convex combination, the same tiled and untiled."""
    scene = np.clip(cv2.resize(scene, (160, 128)), 0, 1)
    frames = [scene.mean(2), scene] if task == "vif" else [scene * 0.5, np.clip(scene * 1.6, 0, 1)]
    whole = fuse(frames, task=task, model=str(weights[name]), routing=True)
    tiled = fuse(frames, task=task, model=str(weights[name]), routing=True, tile=64, overlap=32)
    assert whole.experts.shape == (128, 160, experts) and len(whole.expert_names) == experts
    np.testing.assert_allclose(whole.experts.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(tiled.experts.sum(-1), 1, atol=1e-5)
    assert whole.experts.min() >= 0
    if name.startswith("mmaif"):  # top-2 routing per token: at most 2 experts per pixel
        assert ((whole.experts > 0).sum(-1) <= 2).all()
    without = fuse(frames, task=task, model=str(weights[name]))
    assert without.experts is None
    np.testing.assert_array_equal(without.image, whole.image)


def test_routing_map_of_a_training_free_method_has_one_panel(vif_pair, tmp_path):
    ir, vis = vif_pair
    result = invoke("fuse", "--ir", ir, "--vis", vis, "--model", "pyramid-vif", "-o", tmp_path / "o.png", "--routing-map", tmp_path / "map.png")
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "map.png")[0].shape == (72, 96, 3)


def test_flow_model_is_seeded(weights, vif_pair, tmp_path):
    ir, vis = vif_pair
    outs = []
    for i, seed in enumerate((3, 3, 4)):
        out = tmp_path / f"o{i}.png"
        result = invoke("fuse", "--ir", ir, "--vis", vis, "--model", weights["mmaif-flow"], "--steps", 3, "--seed", seed, "-o", out)
        assert result.exit_code == 0, result.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and outs[0] != outs[2]


def test_prompt_is_ignored_with_a_warning_by_training_free_methods(vif_pair, tmp_path):
    result = invoke("fuse", "--ir", vif_pair[0], "--vis", vif_pair[1], "--prompt", "remove the rain", "-o", tmp_path / "o.png")
    assert result.exit_code == 0 and "takes no prompt; ignored" in result.output


def test_prompt_notes_follow_the_loaded_model(weights, scene):
    """A model that takes prompts says when it runs blind; one that takes none says it ignores
    the prompt, also when it is given as a weights file rather than a zoo name."""
    frames = [scene * 0.5, np.clip(scene * 1.6, 0, 1)]
    blind = fuse(frames, task="mef", model=str(weights["mmaif-reg"]))
    asked = fuse(frames, task="mef", model=str(weights["mmaif-reg"]), prompt="remove the noise")
    ignored = fuse([scene.mean(2), scene], task="vif", model=str(weights["moefusion-vif"]), prompt="remove the rain")
    assert any(note.startswith("no prompt:") for note in blind.notes)
    assert not any(note.startswith("no prompt:") for note in asked.notes + ignored.notes)
    assert any("takes no prompt; ignored" in note for note in ignored.notes)
    odd = fuse(frames, task="mef", model=str(weights["mmaif-reg"]), prompt="remove the noise, it looks gloomy and smudgy")
    assert any("has not learned the words 'gloomy', 'smudgy'" in note for note in odd.notes)
    assert not any("has not learned" in note for note in asked.notes + blind.notes + ignored.notes)


@pytest.mark.parametrize("length,tile,overlap,align", [(6000, 4096, 256, 1), (410, 100, 24, 1), (1000, 128, 48, 64), (130, 128, 16, 16)])
def test_tile_spans_cover_overlap_and_align(length, tile, overlap, align):
    from fusecli.fusion.tiling import tile_spans

    spans = tile_spans(length, tile, overlap, align)
    assert spans[0][0] == 0 and spans[-1][1] == length
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 % align == 0 and a1 - b0 >= min(overlap, tile // 2)  # aligned, overlapping
    assert max(b - a for a, b in spans) <= tile + align - 1


def test_run_tiled_blends_to_the_untiled_result_for_a_pointwise_method(rng):
    frames = [smooth_image(rng, 300, 410), smooth_image(rng, 300, 410)]
    fn = lambda fs, where: 0.3 * fs[0] + 0.7 * fs[1] ** 2  # noqa: E731
    tiled = run_tiled(fn, frames, tile=100, overlap=24)
    assert np.abs(tiled - fn(frames, None)).max() < 1e-5
    colour = [np.dstack([f, f ** 2, 1 - f]) for f in frames]  # 3 channels, and tuples of results
    pair = lambda fs, where: (fn(fs, where), fs[0][..., 0] * 2)  # noqa: E731
    blended = run_tiled(pair, colour, tile=100, overlap=24)
    assert np.abs(blended[0] - fn(colour, None)).max() < 1e-5 and np.abs(blended[1] - 2 * colour[0][..., 0]).max() < 1e-5


@pytest.mark.parametrize("model", ["exposure-fusion", "focus-fusion", "pyramid-vif", "energy-vif"])
def test_tiles_leave_no_seams(rng, model):
    scene = smooth_image(rng, 400, 520, 3)
    frames = {"exposure-fusion": [np.clip(scene * g, 0, 1) for g in (0.4, 1.0, 2.0)],
              "focus-fusion": [scene, cv2.GaussianBlur(scene, (0, 0), 2)],
              "pyramid-vif": [scene.mean(2) ** 2, scene], "energy-vif": [scene.mean(2) ** 2, scene]}[model]
    whole = fuse(frames, model=model, tile=4096).image
    scale = TRAINING_FREE_TILE_SCALE  # training-free methods tile at this multiple of --tile
    tile, overlap = 26 * scale, 8 * scale
    tiled = fuse(frames, model=model, tile=tile // scale, overlap=overlap // scale).image
    diff = np.abs(whole - tiled).mean(2)
    assert diff.max() > 0  # really tiled
    # pyramids of small tiles see less context at their coarse levels: small differences
    assert diff.mean() < 0.004 and diff.max() < 0.1
    # no line along the tile borders: the error there is like the error elsewhere
    rows = sorted({e for span in tile_spans(400, tile, overlap) for e in span} - {0, 400})
    cols = sorted({e for span in tile_spans(520, tile, overlap) for e in span} - {0, 520})
    assert len(rows) >= 2 and len(cols) >= 2
    edges = [diff[max(0, r - 1) : r + 1].mean() for r in rows] + [diff[:, max(0, c - 1) : c + 1].mean() for c in cols]
    assert max(edges) < 3 * diff.mean() + 1e-3


def test_learned_model_tiles_leave_no_seams(weights, rng):
    scene = smooth_image(rng, 256, 320)
    frames = [scene, np.clip(scene * 0.5 + 0.2, 0, 1)]
    whole = fuse(frames, model=str(weights["mmaif-reg"]), task="mff", tile=4096).image
    tiled = fuse(frames, model=str(weights["mmaif-reg"]), task="mff", tile=128, overlap=48).image
    assert np.abs(whole - tiled).mean() < 0.01


def test_batch_vif_resume_and_one_bad_pair(tmp_path, scene, rng):
    ir_dir, vis_dir, out = tmp_path / "ir", tmp_path / "vis", tmp_path / "out"
    for i in range(4):
        write_image(ir_dir / f"s{i}.png", smooth_image(rng, 40, 48))
        write_image(vis_dir / f"s{i}.png", smooth_image(rng, 40, 48, 3))
    write_image(ir_dir / "lonely.png", smooth_image(rng, 40, 48))
    data = (vis_dir / "s2.png").read_bytes()
    (vis_dir / "s2.png").write_bytes(data[: len(data) // 2])  # truncated file
    result = invoke("fuse", "--ir", ir_dir, "--vis", vis_dir, "-o", out, "--jobs", 2)
    assert result.exit_code == 1
    assert "s2" in result.output and "unmatched" in result.output and "lonely" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["s0.png", "s1.png", "s3.png"]
    # an interrupted run: one output missing, a stale temporary file left behind
    (out / "s1.png").unlink()
    (out / ".s1.png.123.tmp").write_bytes(b"partial")
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("s*.png")}
    dry = invoke("fuse", "--ir", ir_dir, "--vis", vis_dir, "-o", out, "--dry-run")
    assert "skip (done)" in dry.output and "run          s1" in dry.output
    result = invoke("fuse", "--ir", ir_dir, "--vis", vis_dir, "-o", out)
    assert "1 done" in result.output and "2 already done" in result.output
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("s[03].png")} == before
    assert read_image(out / "s1.png")[0].shape == (40, 48, 3)


def test_batch_stacks(tmp_path, scene):
    for name in ("one", "two"):
        for j, gain in enumerate((0.4, 1.0, 1.8)):
            write_image(tmp_path / "stacks" / name / f"{j}.jpg", np.clip(scene * gain, 0, 1))
    (tmp_path / "stacks" / "forgotten").mkdir()  # a scene folder left empty is reported, not dropped in silence
    result = invoke("fuse", "--task", "mef", "--stacks", tmp_path / "stacks", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "forgotten" in result.output and "no images" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["one.jpg", "two.jpg"]


def test_output_quality_and_extension_options(vif_pair, tmp_path, monkeypatch):
    ir, vis = vif_pair
    assert invoke("fuse", ir, vis, "-o", tmp_path / "default.jpg").exit_code == 0
    assert invoke("fuse", ir, vis, "-o", tmp_path / "q40.jpg", "--quality", 40).exit_code == 0
    assert (tmp_path / "q40.jpg").stat().st_size < (tmp_path / "default.jpg").stat().st_size
    assert invoke("fuse", ir, vis, "-o", tmp_path / "lossless.webp").exit_code == 0
    assert invoke("fuse", ir, vis, "-o", tmp_path / "exact.png").exit_code == 0  # WebP by default: lossless
    assert np.array_equal(read_image(tmp_path / "lossless.webp")[0], read_image(tmp_path / "exact.png")[0])
    assert invoke("fuse", ir, vis, "-o", tmp_path / "q.jpg", "--quality", 0).exit_code == 2
    batch = invoke("fuse", "--ir", ir.parent, "--vis", vis.parent, "-o", tmp_path / "out", "--ext", "gif")
    assert batch.exit_code == 2 and "not an image extension" in batch.output and not (tmp_path / "out").exists()

    def never(*args, **kwargs):
        raise AssertionError("fused although the output could not be written")

    monkeypatch.setattr("fusecli.fusion.files.fuse", never)
    result = invoke("fuse", ir, vis, "-o", tmp_path / "x.gif")
    assert result.exit_code == 2 and "unsupported image extension '.gif'" in result.output


def test_bracket_colour_profile_reaches_the_fused_and_colorized_files(tmp_path, scene):
    from PIL import Image, ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for name, gain in (("dark", 0.4), ("mid", 1.0), ("bright", 1.8)):
        Image.fromarray((np.clip(scene * gain, 0, 1) * 255).astype(np.uint8)).save(tmp_path / f"{name}.jpg", icc_profile=profile)
    frames = [tmp_path / f"{n}.jpg" for n in ("dark", "mid", "bright")]
    assert invoke("fuse", *frames, "-o", tmp_path / "hdr.jpg").exit_code == 0
    assert Image.open(tmp_path / "hdr.jpg").info.get("icc_profile") == profile
    write_image(tmp_path / "gray.png", read_image(tmp_path / "hdr.jpg", channels=1)[0])
    assert invoke("colorize", tmp_path / "gray.png", frames[1], "-o", tmp_path / "colour.png").exit_code == 0
    assert Image.open(tmp_path / "colour.png").info.get("icc_profile") == profile  # the colour source's


def test_errors_are_one_clear_line(vif_pair, tmp_path, rng, weights):
    ir, vis = vif_pair
    small = write_image(tmp_path / "small.png", smooth_image(rng, 30, 40, 3))
    cases = [
        (("fuse", ir, small, "-o", tmp_path / "x.png"), f"{small} is 40x30 but {ir} is 96x72 (use --resize"),
        (("fuse", ir, "-o", tmp_path / "x.png"), "at least 2 images"),
        (("fuse", ir, vis, "--model", "nope", "-o", tmp_path / "x.png"), "unknown model"),
        (("fuse", ir, vis, "--model", "exposure-fusion", "--task", "vif", "-o", tmp_path / "x.png"), "does not do vif"),
        (("fuse", ir, vis, ir, "--task", "vif", "-o", tmp_path / "x.png"), "one infrared and one visible"),
    ]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"junk")
    cases.append((("fuse", ir, vis, "--model", bad, "-o", tmp_path / "x.png"), "not a readable safetensors"))
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()
    ok = invoke("fuse", ir, small, "--resize", "--task", "vif", "-o", tmp_path / "x.png")
    assert ok.exit_code == 0 and read_image(tmp_path / "x.png")[0].shape[:2] == (72, 96)
    assert "aspect ratio" not in ok.output  # 4:3 onto 4:3
    wide = write_image(tmp_path / "wide.png", smooth_image(rng, 27, 48, 3))  # 16:9 onto 4:3: stretched, said
    stretched = invoke("fuse", ir, wide, "--resize", "--task", "vif", "-o", tmp_path / "w.png")
    assert stretched.exit_code == 0 and "resampled to 96x72, another aspect ratio" in stretched.output
    again = invoke("fuse", ir, small, "--resize", "--task", "vif", "-o", tmp_path / "x.png")
    assert again.exit_code == 2 and "already exists" in again.output
    inplace = invoke("fuse", ir, vis, "-o", vis, "--overwrite")
    assert inplace.exit_code == 2 and vis.read_bytes()[:2] == b"\xff\xd8"


def test_frames_are_named_by_file_and_page():
    from fusecli.imaging import ImageMeta, frame_names

    a, stack = ImageMeta(Path("a.png"), "png", 8, 1), ImageMeta(Path("s.tif"), "tiff", 16, 1)
    assert frame_names([a, stack, stack]) == ["a.png", "s.tif page 1", "s.tif page 2"]


def test_align_recovers_shift_and_scale(scene):
    from fusecli.geometry.align import align_exposures, align_focus

    photo, _ = read_image(EXAMPLES / "mef" / "coffee_normal.jpg")
    big = cv2.resize(photo, (384, 288), interpolation=cv2.INTER_AREA)
    dark = np.roll(np.clip(big * 0.5, 0, 1), (3, -5), axis=(0, 1))
    aligned, motions = align_exposures([big, dark], reference=0)
    assert (motions[1].dx, motions[1].dy) == (5, -3)
    assert aligned[0].shape == aligned[1].shape and aligned[0].shape[0] <= 285
    m = cv2.getRotationMatrix2D((192, 144), 0, 1.03)
    zoomed = cv2.warpAffine(big, m, (384, 288), borderMode=cv2.BORDER_REFLECT)
    aligned, motions = align_focus([big, zoomed], reference=0)
    assert motions[1].scale == pytest.approx(1.03, abs=0.003)
    assert np.abs(aligned[0] - aligned[1])[10:-10, 10:-10].mean() < 0.015
    assert aligned[0].shape[0] < 288 / 1.02  # the wider shot is cropped to what the zoomed one sees
    # by default the narrowest view (the zoomed shot) is the reference: every shot covers it,
    # so its whole frame is kept at its own resolution
    aligned, motions = align_focus([big, zoomed])
    assert motions[1].reference and not motions[0].reference and motions[1].describe() == "reference"
    assert motions[0].scale == pytest.approx(1 / 1.03, abs=0.003)
    assert aligned[0].shape == aligned[1].shape == zoomed.shape
    assert np.abs(aligned[1] - zoomed).max() == 0
    assert np.abs(aligned[0] - zoomed)[10:-10, 10:-10].mean() < 0.015


def test_align_turns_a_hand_held_bracket_back():
    """A hand-held bracket turns between shots: 1 degree and a shift, 2 stops darker (gamma
    2.2, clipped, 8-bit). The bitmaps give the translation; ECC on histogram-matched shots adds
    the rotation, so the shot lands on the reference to a fraction of a pixel."""
    from fusecli.geometry.align import align_exposures

    photo, _ = read_image(EXAMPLES / "mef" / "coffee_normal.jpg")
    scene = cv2.resize(photo, (480, 360), interpolation=cv2.INTER_AREA)
    dark = np.round(np.clip((scene**2.2 * 0.25) ** (1 / 2.2), 0, 1) * 255).astype(np.uint8)
    turn = cv2.getRotationMatrix2D((240, 180), 1.0, 1.0)
    turn[:, 2] += (6, -4)
    shot = cv2.warpAffine(dark, turn, (480, 360), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    bright = np.round(scene * 255).astype(np.uint8)
    aligned, motions = align_exposures([shot, bright], reference=1)
    assert motions[1].reference and motions[0].angle == pytest.approx(-1.0, abs=0.03)
    assert (motions[0].dx, motions[0].dy) == pytest.approx((-6, 4), abs=0.3)
    assert "rotated -1.00 deg" in motions[0].describe()
    # a shot ECC cannot follow (here: noise) keeps the bitmaps' translation, and the notes say so
    noise = (np.random.default_rng(0).random((360, 480, 3)) * 255).astype(np.uint8)
    _, motions = align_exposures([noise, bright], reference=1)
    assert motions[0].angle == 0 and "translation only" in motions[0].describe()
    # the reference is only cropped: find where, and compare the turned-back shot with the dark scene there
    h, w = aligned[1].shape[:2]
    y, x = np.unravel_index(np.argmax(cv2.matchTemplate(bright, aligned[1], cv2.TM_CCORR_NORMED)), (361 - h, 481 - w))
    assert np.array_equal(aligned[1], bright[y : y + h, x : x + w]) and h > 330
    error = np.abs(aligned[0].astype(float) - dark[y : y + h, x : x + w])[10:-10, 10:-10].mean()
    assert error < 2.5, error  # 8-bit levels: 1.45 (two bilinear resamplings); a translation alone leaves 5.2


def test_release_inputs_lets_aligned_frames_replace_the_originals(rng):
    """fuse_files reads the frames for one call, so fuse() may let them go once aligned (a deep
    focus stack is not held twice); the Python API keeps the caller's list by default."""
    import weakref

    scene = smooth_image(rng, 128, 128, 3)

    def stack() -> list[np.ndarray]:
        zoom = [cv2.getRotationMatrix2D((64, 64), 0, 1.01**k) for k in range(4)]
        return [np.round(cv2.warpAffine(scene, z, (128, 128), borderMode=cv2.BORDER_REFLECT) * 255).astype(np.uint8) for z in zoom]

    kept = stack()
    plain = fuse(kept, task="mff", align=True)
    assert len(kept) == 4
    given = stack()
    originals = [weakref.ref(f) for f in given]
    released = fuse(given, task="mff", align=True, release_inputs=True)
    assert given == [] and all(ref() is None for ref in originals)  # only the aligned copies live on
    assert np.array_equal(released.image, plain.image)


def test_align_follows_focus_breathing_through_a_deep_stack():
    """Breathing builds up shot by shot: 8 shots each 8 % more magnified than the last (1.71x
    in all). Each search starts from its neighbour's answer; from the identity, the far shots
    converged to a wrong scale (43 % off), silently."""
    from fusecli.geometry.align import align_focus

    photo, _ = read_image(EXAMPLES / "mef" / "coffee_normal.jpg")
    big = cv2.resize(photo, (384, 288), interpolation=cv2.INTER_AREA)
    shots = [cv2.warpAffine(big, cv2.getRotationMatrix2D((192, 144), 0, 1.08**k), (384, 288), borderMode=cv2.BORDER_REFLECT) for k in range(8)]
    aligned, motions = align_focus(shots)
    assert motions[7].reference
    assert [m.scale for m in motions] == pytest.approx([1.08 ** (k - 7) for k in range(8)], rel=0.01)
    assert np.abs(aligned[0] - aligned[7])[10:-10, 10:-10].mean() < 0.03


def test_python_api_returns_arrays(scene):
    result = fuse([scene, np.clip(scene * 0.3, 0, 1)], task="mef")
    assert result.image.dtype == np.float32 and result.image.shape == scene.shape and result.model == "exposure-fusion"


def test_task_inference_and_alignment_on_8bit_files(focus_pair, tmp_path):
    inferred = invoke("fuse", *focus_pair, "-o", tmp_path / "mff.png")
    assert inferred.exit_code == 0 and "task mff inferred" in inferred.output, inferred.output
    photo, _ = read_image(EXAMPLES / "mef" / "coffee_normal.jpg")
    dark = write_image(tmp_path / "dark.jpg", np.roll(np.clip(photo * 0.45, 0, 1), (2, 4), axis=(0, 1)))
    bright = write_image(tmp_path / "bright.jpg", np.clip(photo * 1.6, 0, 1))
    result = invoke("fuse", dark, bright, "--align", "-o", tmp_path / "mef.jpg", "--routing-map", tmp_path / "map.png")
    assert result.exit_code == 0, result.output
    assert "task mef inferred" in result.output and "shift (-4.0, -2.0) px" in result.output
    out, _ = read_image(tmp_path / "mef.jpg")
    assert out.shape[0] <= photo.shape[0] - 2 and out.shape[1] <= photo.shape[1] - 4  # cropped to the common area
    # the map is drawn from the aligned frames (it crashed on the uncropped ones: exit 3)
    assert read_image(tmp_path / "map.png")[0].shape == out.shape


def test_raw_infrared_counts_are_stretched_like_a_camera_gain_control(scene, rng, tmp_path):
    """14-bit thermal counts in a 16-bit file (7000..9500 of 65535) would be fused as a nearly
    black frame that the fusion all but ignores; they are stretched to their own range."""
    from fusecli.imaging.infrared import display_infrared, raw_range

    infrared = smooth_image(rng, 72, 96)
    counts = np.round(7000 + 2500 * infrared).astype(np.uint16)
    assert raw_range(counts) == tuple(np.percentile(counts, (0.1, 99.9), method="inverted_cdf"))
    dead = counts.copy()
    dead[0, :3] = (0, 65535, 65535)  # dead and hot pixels: still raw counts
    assert raw_range(dead) is not None
    stretched, note = display_infrared(counts)
    assert "raw 16-bit counts" in note and stretched.min() == 0.0 and stretched.max() == 1.0
    auto = fuse([scene, counts], task="vif", model="pyramid-vif")  # visible first: the gray one is still the infrared
    assert any("raw 16-bit counts" in n for n in auto.notes)
    np.testing.assert_array_equal(auto.image, fuse([stretched, scene], task="vif", model="pyramid-vif").image)
    stored = fuse([counts, scene], task="vif", model="pyramid-vif", ir_range="stored")
    assert not any("raw" in n for n in stored.notes)
    np.testing.assert_array_equal(stored.image, fuse([as_float(counts), scene], task="vif", model="pyramid-vif").image)
    assert stored.image.mean() < auto.image.mean() - 0.05  # the dark frame pulled the fusion down
    # display values and other tasks keep their values: a full-range 16-bit frame, dark 16-bit exposures
    full = np.round(65535 * infrared).astype(np.uint16)
    assert raw_range(full) is None and not any("raw" in n for n in fuse([full, scene], task="vif", model="pyramid-vif").notes)
    dark = [np.round(scene.mean(2) * 65535 * g).astype(np.uint16) for g in (0.05, 0.2)]
    mef = fuse(dark, task="mef")
    assert not any("raw" in n for n in mef.notes) and mef.image.max() < 0.5  # not stretched (a stretch would reach 1)
    # the command line, and metrics scoring against the infrared that was fused
    import tifffile
    tifffile.imwrite(tmp_path / "ir.tif", counts)
    write_image(tmp_path / "vis.png", scene)
    scores = {}
    for mode in ("auto", "stored"):
        made = invoke("fuse", "--ir", tmp_path / "ir.tif", "--vis", tmp_path / "vis.png", "--model", "pyramid-vif", "--ir-range", mode, "-o", tmp_path / f"{mode}.png")
        assert made.exit_code == 0 and ("raw 16-bit counts" in made.output) == (mode == "auto"), made.output
        for task in ("vif", None):  # one gray and one colour source: VIF, as fuse infers it
            scored = invoke("metrics", "--fused", tmp_path / f"{mode}.png", "--sources", tmp_path / "ir.tif", tmp_path / "vis.png",
                            "--metrics", "SSIM", "--ir-range", mode, "--json", tmp_path / f"{mode}{task}.json", *(["--task", task] if task else []))
            assert scored.exit_code == 0, scored.output
            scores[mode, task] = json.loads((tmp_path / f"{mode}{task}.json").read_text())["mean"]["SSIM"]
    assert scores["auto", "vif"] == scores["auto", None] and scores["stored", "vif"] == scores["stored", None]
    assert scores["auto", "vif"] > scores["stored", "vif"] + 0.02  # each scored against the infrared it fused


def test_each_task_defaults_to_the_method_that_wins_its_quality_protocol(monkeypatch, tmp_path):
    """VIF: blend-vif, the one method ahead of pyramid-vif on Qabf, Qcb, Qcv, VIF and min SSIM on
    the validation scenes (bench/quality_protocol.py); without its weights, energy-vif, the
    training-free method it starts from. MEF and MFF: the training-free methods."""
    from fusecli import catalog
    from fusecli.fusion import default_model

    assert (default_model("vif"), default_model("mef"), default_model("mff")) == ("blend-vif", "exposure-fusion", "focus-fusion")
    monkeypatch.setattr(catalog, "weights_dirs", lambda: [tmp_path])  # no weights anywhere
    assert default_model("vif") == "energy-vif"
