"""Synthetic multi-focus pairs (known all-in-focus target), the weight-map MoE-Fusion and a tiny run on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.imaging import write_image
from fusecli.models.base import FuseOptions
from fusecli.models.moe_fusion_arch import MoEFusion, MoEFusionConfig
from fusecli.models.weights import load_weights
from fusecli.train import load_config
from fusecli.train.config import ConfigError
from fusecli.train.data import load_scenes, make_batch
from fusecli.train.synthetic_focus import defocus_pair, focus_mask, sharpest_frame

from conftest import smooth_image
from fusecli.fusion.learned import fuse_network


def _textured(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Fine texture everywhere, so blurring changes every region."""
    return np.clip(0.5 + 0.4 * (rng.random((h, w)) - 0.5), 0, 1).astype(np.float32)


def test_mask_covers_both_classes_in_regions_and_is_seeded():
    for seed in range(20):
        mask = focus_mask((96, 128), np.random.default_rng(seed))
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert 0.2 < mask.mean() < 0.8
        # regions, not salt and pepper: few label changes between neighbours
        assert np.abs(np.diff(mask, axis=1)).mean() < 0.1
    assert np.array_equal(focus_mask((40, 40), np.random.default_rng(3)), focus_mask((40, 40), np.random.default_rng(3)))


def test_defocus_pair_is_sharp_where_the_mask_says_and_blurred_elsewhere():
    rng = np.random.default_rng(0)
    sharp = _textured(rng, 80, 96)
    for seed in range(10):
        near, far, mask = defocus_pair(sharp, np.random.default_rng(seed))
        on, off = mask == 1, mask == 0
        np.testing.assert_array_equal(far[off], sharp[off])  # the far shot is untouched off the mask
        gain = np.median(near[on] / np.maximum(sharp[on], 1e-6))
        assert 0.97 <= gain <= 1.03
        np.testing.assert_allclose(near[on], np.clip(sharp[on] * gain, 0, 1), atol=1e-5)  # sharp up to the gain
        # blurred halves lose detail: lower local variation than the sharp photo
        assert np.abs(np.diff(near, axis=1))[off[:, 1:] & off[:, :-1]].mean() < 0.6 * np.abs(np.diff(sharp, axis=1)).mean()
        assert np.abs(np.diff(far, axis=1))[on[:, 1:] & on[:, :-1]].mean() < 0.6 * np.abs(np.diff(sharp, axis=1)).mean()
    with pytest.raises(ValueError, match="luminance"):
        defocus_pair(np.zeros((8, 8, 3), np.float32), rng)


def test_sharpest_frame_picks_the_best_exposed():
    frames = [np.full((4, 4), v, np.float32) for v in (0.1, 0.45, 0.9)]
    assert sharpest_frame(frames) is frames[1]


def test_weight_output_blends_source_pixels(rng):
    torch.manual_seed(0)
    for downscale in (1, 2):
        model = MoEFusion(MoEFusionConfig(channels=4, local_hidden=4, global_widths=(8,), downscale=downscale, output="weights")).eval()
        a = torch.from_numpy(smooth_image(rng, 32, 48))[None, None]
        b = torch.from_numpy(smooth_image(rng, 32, 48))[None, None]
        with torch.no_grad():
            result = fuse_network(model, torch.stack([a, b], 1), FuseOptions(task="mff"))
        w = result.maps["weights"]
        assert w.shape == a.shape and float(w.min()) >= 0 and float(w.max()) <= 1
        torch.testing.assert_close(result.image, w * a + (1 - w) * b)
        assert torch.all(result.image >= torch.minimum(a, b) - 1e-6) and torch.all(result.image <= torch.maximum(a, b) + 1e-6)
    with pytest.raises(ValueError, match="output"):
        MoEFusion(MoEFusionConfig(output="mask"))


@pytest.fixture(scope="module")
def photo_root(tmp_path_factory):
    """Sharp photos as a stack folder (best-exposed frame used) and real MFF pairs for validation."""
    import cv2

    rng = np.random.default_rng(5)
    root = tmp_path_factory.mktemp("photos")
    for i in range(6):
        scene = _textured(rng, 64, 72)
        for k, gain in enumerate((0.3, 1.0, 1.8)):
            write_image(root / "stacks" / f"s{i}" / f"{k}.png", np.clip(scene * gain, 0, 1), bit_depth=8)
    for i in range(4):
        scene = _textured(rng, 48, 48)
        blur = cv2.GaussianBlur(scene, (0, 0), 2)
        near, far = scene.copy(), scene.copy()
        near[:, 24:], far[:, :24] = blur[:, 24:], blur[:, :24]
        write_image(root / "mff" / "A" / f"p{i}.png", near, bit_depth=8)
        write_image(root / "mff" / "B" / f"p{i}.png", far, bit_depth=8)
    return root


def _focus_config(tmp_path, root, extra: str = "") -> str:
    path = tmp_path / "mff.toml"
    path.write_text(f"""
name = "tiny-mff"
arch = "moe-fusion"
model = {{ channels = 4, local_hidden = 4, global_widths = [8, 4], global_first_kernel = 1, output = "weights" }}
tasks = ["mff"]
steps = 4
log_every = 1
threads = 1
out = "run"
losses = {{ target_l1 = 1.0, target_gradient = 1.0, target_ssim = 0.5, load_local = 0.01, load_global = 0.02 }}
validation = {{ every = 4, items = 2, metric = "Qabf" }}
{extra}
[data]
mff = ["{root / 'mff'}"]
focus_synthetic = ["{root / 'stacks'}"]
crop = 32
batch = 2
val_fraction = 0.5
""", encoding="utf-8")
    return str(path)


def test_synthetic_batches_target_the_sharp_photo(tmp_path, photo_root):
    cfg = load_config(_focus_config(tmp_path, photo_root))
    train, val = load_scenes(cfg)
    synthetic = [s for s in train if s.synthetic]
    assert synthetic and all(len(s.frames) == 1 and s.task == "mff" for s in synthetic)
    assert val and all(not s.synthetic for s in val)  # validation stays on real pairs
    # the stack's best-exposed frame (gain 1.0) is the photo, not the dark or the bright one
    assert all(0.35 < float(s.frames[0].astype(np.float32).mean()) < 0.65 for s in synthetic)
    batch = make_batch(train, cfg, 3)
    assert batch.target is not None and batch.sources.shape == (2, 2, 1, 32, 32)
    for k in range(2):
        target = batch.target[k, 0]
        agree = [(batch.sources[k, i, 0] - target).abs() < 2e-2 for i in range(2)]
        assert float((agree[0] | agree[1]).float().mean()) > 0.95  # every pixel is sharp in one shot
        assert float((agree[0] & agree[1]).float().mean()) < 0.5  # and blurred in the other
    assert torch.equal(batch.sources, make_batch(train, cfg, 3).sources)
    real = make_batch(train, load_config(_focus_config(tmp_path, photo_root), ["data.focus_synthetic_fraction=0"]), 3)
    assert real.target is None  # fraction 0: the real pairs (no target without a teacher)
    with pytest.raises(ConfigError, match="mff"):
        load_config(_focus_config(tmp_path, photo_root), ['tasks=["vif"]'])


def test_tiny_weight_map_run_through_the_cli(tmp_path, photo_root):
    result = CliRunner().invoke(cli, ["-q", "train", _focus_config(tmp_path, photo_root)])
    assert result.exit_code == 0, result.output
    log = [json.loads(x) for x in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "val" not in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert all({"target_l1", "target_gradient", "target_ssim"} <= set(r) and np.isfinite(r["loss"]) for r in steps)
    assert "Qabf" in log[-1]["val"]
    provenance = load_weights(tmp_path / "run/checkpoints/best.safetensors").provenance
    assert provenance["data"]["focus_synthetic"] == ["stacks"]
    out = tmp_path / "fused.png"
    fused = CliRunner().invoke(cli, ["-q", "fuse", "--task", "mff", str(photo_root / "mff/A/p0.png"), str(photo_root / "mff/B/p0.png"),
                                     "--model", str(tmp_path / "run/checkpoints/best.safetensors"), "-o", str(out)])
    assert fused.exit_code == 0, fused.output
    assert out.is_file()
