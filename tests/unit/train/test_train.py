"""fusecli train: losses, config, deterministic data, tiny runs per model, resume, DDP, plots."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from unittest import mock
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from skimage.metrics import structural_similarity

from fusecli.cli.main import cli
from fusecli.imaging import read_image, write_image
from fusecli.train import load_config, train
from fusecli.train import losses as L
from fusecli.train.config import ConfigError
from fusecli.train.data import is_validation, load_scenes, make_batch, validation_items

from conftest import smooth_image, EXAMPLES


# ----------------------------------------------------------------------------- losses


def test_pixel_loss_matches_hand_computation():
    a = torch.tensor([[0.2, 0.8], [0.4, 0.0]])
    b = torch.tensor([[0.6, 0.2], [0.4, 1.0]])
    fused = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    mask = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    sources = torch.stack([a, b])[None, :, None]
    # fg (mask=1) against max: |0.5-0.6| + |0.5-1.0| ; bg against mean: |0.5-0.5| + |0.5-0.4|
    expected = (0.1 + 0.5) / 4 + (0.0 + 0.1) / 4
    got = L.pixel_loss(fused[None, None], sources, mask[None, None])
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_gradient_loss_zero_when_fused_keeps_the_strongest_edges(rng):
    a = torch.from_numpy(smooth_image(rng, 32, 32))[None, None]
    flat = torch.full_like(a, 0.3)
    sources = torch.stack([a, flat], dim=1)
    assert L.gradient_loss(a, sources).item() == pytest.approx(0.0, abs=1e-7)
    assert L.gradient_loss(flat, sources).item() > 0.01


def test_intensity_loss_pulls_towards_the_brighter_source_everywhere():
    a = torch.tensor([[0.2, 0.8], [0.4, 0.0]])
    b = torch.tensor([[0.6, 0.2], [0.4, 1.0]])
    sources = torch.stack([a, b])[None, :, None]
    assert L.intensity_loss(torch.maximum(a, b)[None, None], sources).item() == 0.0
    fused = torch.full((1, 1, 2, 2), 0.5)
    assert L.intensity_loss(fused, sources).item() == pytest.approx((0.1 + 0.3 + 0.1 + 0.5) / 4, abs=1e-6)


def test_target_psnr_loss_is_minus_the_mean_psnr_per_image(rng):
    """Each image counts by its own PSNR (skimage's), so a nearly exact one still pulls; an exact one is capped at 140 dB."""
    from skimage.metrics import peak_signal_noise_ratio

    target = torch.from_numpy(np.stack([smooth_image(rng, 24, 24) for _ in range(2)]))[:, None]
    fused = target.clone()
    fused[0] = (fused[0] + 0.05 * torch.from_numpy(rng.standard_normal((1, 24, 24)).astype(np.float32))).clamp(0, 1)
    fused[1] = fused[1] + 1e-4  # 80 dB
    psnrs = [peak_signal_noise_ratio(t[0].double().numpy(), f[0].double().numpy(), data_range=1.0) for t, f in zip(target, fused)]
    assert L.target_psnr_loss(fused, target).item() == pytest.approx(-np.mean(psnrs), abs=0.05)
    assert L.target_psnr_loss(target, target).item() == pytest.approx(-140.0, abs=1e-3)
    fused.requires_grad_(True)
    L.target_psnr_loss(fused, target).backward()
    # the 80 dB image's pixels pull ~(error ratio)^-1 harder than those of the ~26 dB one
    assert fused.grad[1].abs().mean() > 100 * fused.grad[0].abs().mean()


def test_ssim_map_matches_scikit_image(rng):
    x = smooth_image(rng, 48, 48)
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape).astype(np.float32), 0, 1)
    ours = L.ssim_map(torch.from_numpy(x)[None, None].double(), torch.from_numpy(y)[None, None].double())
    _, full = structural_similarity(x.astype(np.float64), y.astype(np.float64), data_range=1.0, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, full=True)
    np.testing.assert_allclose(ours[0, 0].numpy(), full[5:-5, 5:-5], atol=1e-6)


def test_mef_ssim_loss_is_zero_for_identical_frames_and_orders_fusions(rng):
    base = torch.from_numpy(smooth_image(rng, 40, 40))[None, None]
    same = torch.stack([base, base], dim=1)
    assert L.mef_ssim_loss(base, same).item() == pytest.approx(0.0, abs=1e-3)
    dark, bright = base * 0.3, (base * 0.5 + 0.5)
    stack = torch.stack([dark, bright], dim=1)
    good = 0.5 * (dark + bright)
    noise = torch.rand_like(base, generator=torch.Generator().manual_seed(0))
    assert L.mef_ssim_loss(good, stack) < L.mef_ssim_loss(noise, stack)
    good.requires_grad_(True)
    L.mef_ssim_loss(good, stack).backward()
    assert torch.isfinite(good.grad).all() and good.grad.abs().sum() > 0


def test_weighted_sum_uses_only_weighted_terms_and_rejects_nan():
    terms = {"a": torch.tensor(2.0), "b": torch.tensor(3.0)}
    total, logged = L.weighted_sum(terms, {"a": 0.5})
    assert total.item() == 1.0 and logged == {"a": 2.0}
    with pytest.raises(FloatingPointError):
        L.weighted_sum({"a": torch.tensor(float("nan"))}, {"a": 1.0})
    with pytest.raises(ValueError):
        L.weighted_sum(terms, {})


# ----------------------------------------------------------------------------- data on disk


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """Small real image files for the three tasks (6 VIF pairs, 4 MEF stacks, 4 MFF pairs)."""
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("data")
    for i in range(6):
        scene = smooth_image(rng, 72, 88, 3)
        write_image(root / "vif" / "ir" / f"s{i}.png", scene.mean(-1) ** 0.7, bit_depth=8)
        write_image(root / "vif" / "vi" / f"s{i}.jpg", scene, bit_depth=8)
    for i in range(4):
        scene = smooth_image(rng, 64, 80, 3)
        for k, gain in enumerate((0.35, 1.0, 2.2)):
            write_image(root / "mef" / f"scene {i}" / f"{k}.png", np.clip(scene * gain, 0, 1), bit_depth=8)
    import cv2

    for i in range(4):
        scene = smooth_image(rng, 64, 64)
        blur = cv2.GaussianBlur(scene, (0, 0), 3)
        near, far = scene.copy(), scene.copy()
        near[:, 32:], far[:, :32] = blur[:, 32:], blur[:, :32]
        write_image(root / "mff" / "A" / f"p{i}.png", near, bit_depth=8)
        write_image(root / "mff" / "B" / f"p{i}.png", far, bit_depth=8)
    return root


def _config(tmp_path: Path, data_root: Path, body: str) -> Path:
    path = tmp_path / "train.toml"
    path.write_text(
        body
        + f"""
out = "run"
threads = 1
[data]
vif = ["{data_root / 'vif'}"]
mef = ["{data_root / 'mef'}"]
mff = ["{data_root / 'mff'}"]
crop = 32
batch = 2
max_side = 64
val_fraction = 0.25
""",
        encoding="utf-8",
    )
    return path


MOE = """
name = "tiny-moe"
arch = "moe-fusion"
model = { channels = 4, local_hidden = 4, global_widths = [8, 4], global_first_kernel = 1 }
tasks = ["vif"]
steps = 6
log_every = 1
losses = { pixel = 1.0, gradient = 10.0, load_local = 0.01, load_global = 0.02 }
validation = { every = 3, items = 2, metric = "Qabf" }
"""

TINY_AE = "autoencoder = { widths = [4, 4], latent_channels = 4 }"

MMAIF = """
name = "tiny-{variant}"
arch = "mmaif"
model = {{ variant = "{variant}", dim = 16, depth = 2, heads = 2, window = 4, adaln_rank = 4, {ae}, text = {{ dim = 16, layers = 1, heads = 2 }} }}
tasks = ["vif", "mef", "mff"]
teacher = {{ vif = "pyramid-vif", mef = "exposure-fusion", mff = "focus-fusion" }}
steps = 3
log_every = 1
losses = {{ {first} = 1.0, target_l1 = 1.0, gradient = 1.0, load = 0.01 }}
validation = {{ every = 3, items = 3, metric = "PSNR-ref", steps = 2 }}
degrade = {{ enabled = true }}
"""


def _log(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


def test_config_overrides_paths_and_errors(tmp_path, data_root):
    path = _config(tmp_path, data_root, MOE)
    cfg = load_config(path, ["steps=9", "optim.lr=0.01", "data.batch=3", 'teacher.vif="pyramid-vif"'])
    assert (cfg.steps, cfg.optim.lr, cfg.data.batch, cfg.teacher) == (9, 0.01, 3, {"vif": "pyramid-vif"})
    assert cfg.path(cfg.out) == tmp_path / "run"
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(path, ["optim.learning_rate=1"])
    with pytest.raises(ConfigError, match="must be a number"):
        load_config(path, ['steps="many"'])
    with pytest.raises(ConfigError, match="unknown loss"):
        load_config(path, ["losses.perceptual=1"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_batches_are_deterministic_per_step_and_rank(tmp_path, data_root):
    cfg = load_config(_config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE)))
    scenes, val = load_scenes(cfg)
    assert {s.task for s in scenes} == {"vif", "mef", "mff"} and not {s.name for s in scenes} & {s.name for s in val}
    one, again = make_batch(scenes, cfg, 5), make_batch(scenes, cfg, 5)
    other_rank = make_batch(scenes, cfg, 5, rank=1)
    assert torch.equal(one.sources, again.sources) and one.prompts == again.prompts
    assert not (one.sources.shape == other_rank.sources.shape and torch.equal(one.sources, other_rank.sources))
    assert one.sources.shape[0] == 2 and one.sources.shape[2:] == (1, 32, 32)
    prompts = [p for step in range(12) for p in make_batch(scenes, cfg, step).prompts]
    assert any(p for p in prompts)  # degradations come with prompts
    assert is_validation("x/a", 0.0) is False and is_validation("x/a", 0.25) == is_validation("x/a", 0.25)


def test_camera_jitter_gives_each_vif_frame_its_own_response_and_a_stack_one(rng):
    """VIF: two sensors, each its own gain and gamma, the infrared sometimes black-hot; a stack keeps
    its exposures' order and its focus (one response for all its frames)."""
    from fusecli.train.data import camera_jitter

    frame = smooth_image(rng, 32, 32)
    pairs = [camera_jitter([frame, frame], "vif", np.random.default_rng(seed)) for seed in range(40)]
    assert all(f.dtype == np.float32 and 0 <= f.min() and f.max() <= 1 for pair in pairs for f in pair)
    assert all(not np.allclose(ir, vis) for ir, vis in pairs)
    inverted = [np.corrcoef(ir.ravel(), frame.ravel())[0, 1] < 0 for ir, _ in pairs]
    assert 3 <= sum(inverted) <= 20  # one time in four
    assert all(np.corrcoef(vis.ravel(), frame.ravel())[0, 1] > 0.5 for _, vis in pairs)  # the visible is never inverted
    dark, bright = frame * 0.5, np.clip(frame * 1.5, 0, 1)
    for seed in range(10):
        out = camera_jitter([dark, bright, bright], "mef", np.random.default_rng(seed))
        assert np.array_equal(out[1], out[2]) and (out[0] <= out[1] + 1e-7).all()
    again = camera_jitter([frame, frame], "vif", np.random.default_rng(7))
    assert all(np.array_equal(x, y) for x, y in zip(again, pairs[7]))


def test_camera_jitter_reaches_the_batches_only_when_configured(tmp_path, data_root):
    plain = load_config(_config(tmp_path, data_root, MOE))
    jitter = load_config(_config(tmp_path, data_root, MOE), ["data.camera_jitter=1.0"])
    scenes, _ = load_scenes(plain)
    a, b = make_batch(scenes, plain, 3), make_batch(scenes, jitter, 3)
    assert a.sources.shape == b.sources.shape and not torch.equal(a.sources, b.sources)
    assert torch.equal(a.sources, make_batch(scenes, plain, 3).sources)


def test_raw_infrared_counts_are_trained_on_as_fuse_stretches_them(tmp_path, data_root):
    """A 16-bit VIF infrared of raw camera counts reaches the model as `fusecli fuse` gives it."""
    import shutil

    import tifffile

    from fusecli.imaging.infrared import display_infrared

    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    ir, _ = read_image(root / "vif" / "ir" / "s0.png")
    counts = np.round(7000 + 2500 * ir).astype(np.uint16)
    (root / "vif" / "ir" / "s0.png").unlink()
    tifffile.imwrite(root / "vif" / "ir" / "s0.tif", counts)
    cfg = load_config(_config(tmp_path, root, MOE), ["data.val_fraction=0.0"])
    scenes, _ = load_scenes(cfg)
    loaded = next(s for s in scenes if s.name == "vif/s0").frames[0]
    import cv2

    stretched, note = display_infrared(counts)
    assert "raw 16-bit counts" in note
    expected = cv2.resize(stretched, loaded.shape[::-1], interpolation=cv2.INTER_AREA)  # at data.max_side
    assert np.abs(loaded.astype(np.float32) - expected).max() < 1e-3  # float16 storage


def test_full_range_low_contrast_samples_stretch_the_clean_frames_and_draw_the_same_degradation(tmp_path, data_root):
    """degrade.full_range_fraction: low-contrast samples' clean frames span the full range (1st..99th
    percentile -> 0..1, a stack with one map, VIF per sensor), degraded with the same draws;
    samples without low contrast are untouched."""
    from fusecli.train.data import full_range

    path = _config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE))
    only = lambda op, *more: load_config(path, ["degrade.n=[1]", "degrade.clean_fraction=0.0", f'degrade.allowed=["{op}"]', *more])  # noqa: E731
    scenes, _ = load_scenes(only("low_contrast"))
    for step in range(4):
        before, after = make_batch(scenes, only("low_contrast"), step), make_batch(scenes, only("low_contrast", "degrade.full_range_fraction=1.0"), step)
        assert before.task == after.task and before.prompts == after.prompts and before.sources.shape == after.sources.shape
        for item, clean in zip(before.clean, after.clean):  # (N, 1, H, W)
            expected = full_range(list(item[:, 0].numpy()), before.task)
            np.testing.assert_allclose(clean[:, 0].numpy(), np.stack(expected), atol=1e-6)
            lo, hi = np.quantile(clean.numpy(), [0.01, 0.99])
            assert lo < 0.02 and hi > 0.98  # whole range, where the plain crop need not be
        assert not torch.equal(before.sources, after.sources)
        noisy, kept = make_batch(scenes, only("gaussian_noise"), step), make_batch(scenes, only("gaussian_noise", "degrade.full_range_fraction=1.0"), step)
        assert torch.equal(noisy.clean, kept.clean) and torch.equal(noisy.sources, kept.sources)
    flat = [np.full((8, 8), 0.4, np.float32) + 0.1 * np.eye(8, dtype=np.float32), np.full((8, 8), 0.6, np.float32) + 0.1 * np.eye(8, dtype=np.float32)]
    joint, apart = full_range(flat, "mff"), full_range(flat, "vif")
    assert joint[0].max() < joint[1].max() and np.allclose(apart[0], apart[1])  # one map for a stack, one per sensor


def test_whole_frame_degradation_crops_clean_and_degraded_alike(tmp_path, data_root):
    """``degrade.whole_frames``: frames are degraded whole, then one window is cropped from the
    clean and the degraded frames; each sample carries its whole degraded frames' statistics."""
    from fusecli.train.objectives import MMAIFObjective
    from fusecli.train.loop import build_model

    path = _config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE))
    plain = load_config(path)
    scenes, _ = load_scenes(plain)
    assert make_batch(scenes, plain, 3).restore_stats is None
    untouched = load_config(path, ["degrade.whole_frames=true", "degrade.clean_fraction=1.0"])
    batch = make_batch(scenes, untouched, 3)  # nothing degraded: the two crops must be the same pixels
    assert torch.equal(batch.sources, batch.clean)
    whole = load_config(path, ["degrade.whole_frames=true", "degrade.clean_fraction=0.0", 'degrade.allowed=["low_contrast"]', "degrade.n=[1]"])
    batches = [make_batch(scenes, whole, step) for step in range(6)]
    for b in batches:  # each prompt names low contrast: its restoration's statistics, per frame
        n = b.sources.shape[1]
        assert b.sources.shape[3:] == (32, 32) and len(b.restore_stats) == b.sources.shape[0]
        keys = {"low", "high", "airlight", "mean", "extreme"} | ({"contrast"} if b.task != "vif" else set())  # a stack's shared gain
        assert all(len(item) == n and set(item[0]) == {"low_contrast"} and set(item[0]["low_contrast"]) == keys for item in b.restore_stats)
        assert b.task == "vif" or all(len({frame["low_contrast"]["contrast"] for frame in item}) == 1 for item in b.restore_stats)
    assert {b.task for b in batches} - {"vif"}  # a stack among them
    # whole 64 x 64 frames, 32 x 32 crops: the statistics are not the crops'
    crop_means = [float(b.sources[i, j].mean()) for b in batches for i in range(len(b.restore_stats)) for j in range(b.sources.shape[1])]
    whole_means = [item[j]["low_contrast"]["mean"] for b in batches for item in b.restore_stats for j in range(len(item))]
    assert max(abs(a - c) for a, c in zip(whole_means, crop_means)) > 0.01
    config = load_config(path, ["degrade.whole_frames=true", 'model.base={mef="exposure-fusion",mff="focus-fusion",vif="pyramid-vif"}'])
    model, batch, seen = build_model(config), make_batch(scenes, config, 0, teacher=lambda task, frames: frames[0]), []
    from fusecli.restore.stage import ClassicalStage

    original = ClassicalStage.fuse_base
    with mock.patch.object(ClassicalStage, "fuse_base", lambda self, *args: seen.append(args[3]) or original(self, *args)):  # (frames, task, prompts, stats)
        terms = MMAIFObjective(model)(batch)
    assert torch.isfinite(terms["latent"]) and seen == [batch.restore_stats]  # the objective hands them to the base


def test_all_in_one_objective_scores_its_output_on_the_clean_sources_when_asked(tmp_path, data_root):
    """The protocol's metric losses (Qabf, min SSIM...) join the all-in-one model's terms only
    when the config weighs them, are computed on its output against the clean sources, and
    reach the network's weights: a target the teacher does not cap."""
    from fusecli.train import metric_losses as ML
    from fusecli.train.loop import build_model
    from fusecli.train.objectives import MMAIFObjective

    path = _config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE))
    config = load_config(path, ['model.base={mef="exposure-fusion",mff="focus-fusion",vif="pyramid-vif"}', "losses.qabf=1.0", "losses.min_ssim=0.5"])
    scenes, _ = load_scenes(config)
    model = build_model(config)
    batch = make_batch(scenes, config, 0, teacher=lambda task, frames: frames[0])
    plain = MMAIFObjective(model)(batch)
    assert not {"qabf", "qcb", "qcv", "min_ssim"} & set(plain)  # not computed unless weighed
    seen = []
    original = model.decode_fused
    with mock.patch.object(model, "decode_fused", lambda *a, **k: seen.append(original(*a, **k)) or seen[-1]):
        terms = MMAIFObjective(model, config.losses)(batch)
    assert {"qabf", "min_ssim"} <= set(terms) and not {"qcb", "qcv"} & set(terms)
    fused = seen[-1].detach()
    assert torch.allclose(terms["qabf"], ML.qabf_loss(fused, batch.clean))
    assert torch.allclose(terms["min_ssim"], ML.min_ssim_loss(fused, batch.clean))
    assert not torch.allclose(terms["qabf"], ML.qabf_loss(fused, batch.sources))  # the clean frames, not the degraded inputs
    model.zero_grad()
    terms["qabf"].backward()
    assert model.head.weight.grad is not None and float(model.head.weight.grad.abs().sum()) > 0


def test_task_losses_replace_the_loss_weights_for_that_tasks_batches(tmp_path, data_root):
    """``task_losses`` re-weighs one task's batches (a source term can be right for one task and
    wrong for another): its metric terms are not computed where its weight is 0, the step's sum
    uses that task's weights, and a table for an untrained task or an unknown loss is an error."""
    from fusecli.train.loop import build_model
    from fusecli.train.objectives import MMAIFObjective

    path = _config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE))
    base = ['model.base={mef="exposure-fusion",mff="focus-fusion",vif="pyramid-vif"}', "losses.qabf=1.0", "losses.min_ssim=0.5"]
    probe = load_config(path, base)
    scenes, _ = load_scenes(probe)
    batch = make_batch(scenes, probe, 0, teacher=lambda task, frames: frames[0])
    config = load_config(path, [*base, f"task_losses.{batch.task}.min_ssim=0"])
    assert config.loss_weights(batch.task) == {**config.losses, "min_ssim": 0}
    other = next(task for task in ("vif", "mef", "mff") if task != batch.task)
    assert config.loss_weights(other) == config.losses
    terms = MMAIFObjective(build_model(config), config.losses, config.task_losses)(batch)
    assert "qabf" in terms and "min_ssim" not in terms
    assert "min_ssim" in MMAIFObjective(build_model(probe), probe.losses, probe.task_losses)(batch)
    with pytest.raises(ConfigError, match="does not train"):
        load_config(path, [*base, 'tasks=["vif"]', "task_losses.mef.qabf=0"])
    with pytest.raises(ConfigError, match=f"task_losses.{batch.task}.sharpness"):
        load_config(path, [*base, f"task_losses.{batch.task}.sharpness=1"])
    with pytest.raises(ConfigError, match=">= 0"):
        load_config(path, [*base, f"task_losses.{batch.task}.qabf=-1"])


def test_validation_items_do_not_follow_the_training_seed(tmp_path, data_root):
    """A fine-tune with another training seed is validated on the very same degraded items."""
    path = _config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE))
    items = {}
    for overrides in ([], ["seed=5"], ["validation.seed=1"]):
        cfg = load_config(path, overrides)
        items[tuple(overrides)] = validation_items(load_scenes(cfg)[1], cfg, 8)
    same, other = items[("seed=5",)], items[("validation.seed=1",)]
    for (name, a), (name_b, b), (_, c) in zip(items[()], same, other):
        assert name == name_b and torch.equal(a.sources, b.sources) and a.prompts == b.prompts
    assert any(not torch.equal(a.sources, c.sources) for (_, a), (_, c) in zip(items[()], other))


def test_tiny_moe_fusion_run_through_the_cli_and_fuse_with_it(tmp_path, data_root):
    path = _config(tmp_path, data_root, MOE)
    result = CliRunner().invoke(cli, ["-q", "train", str(path)])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    log = _log(run)
    assert [r["step"] for r in log if "val" not in r] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(r["loss"]) and {"pixel", "gradient", "load_local", "load_global"} <= set(r) for r in log if "val" not in r)
    assert [r["step"] for r in log if "val" in r] == [3, 6] and "Qabf" in log[-1]["val"]
    best = run / "checkpoints" / "best.safetensors"
    from fusecli.models.weights import read_metadata

    meta = read_metadata(best)
    assert meta["arch"] == "moe-fusion" and meta["provenance"]["trained_by"].startswith("fusecli") and meta["provenance"]["steps"] in (3, 6)
    out = tmp_path / "fused.png"
    fused = CliRunner().invoke(cli, ["-q", "fuse", "--ir", str(data_root / "vif/ir/s0.png"), "--vis", str(data_root / "vif/vi/s0.jpg"),
                                     "--model", str(best), "-o", str(out)])
    assert fused.exit_code == 0, fused.output
    assert out.is_file()
    again = CliRunner().invoke(cli, ["-q", "train", str(path)])
    assert again.exit_code == 2 and "--resume" in again.output  # never silently overwrites a run
    plot = CliRunner().invoke(cli, ["train", "--plot", str(run)])
    assert plot.exit_code == 0 and (run / "curves.png").stat().st_size > 1000


BLEND = """
name = "tiny-blend"
arch = "blend-vif"
model = { width = 4, depth = 2 }
tasks = ["vif"]
steps = 4
log_every = 1
losses = { qabf = 1.0, qcv = 1.0, qcb = 1.0, min_ssim = 1.0 }
validation = { every = 4, items = 2 }
"""


def test_tiny_blend_vif_run_trains_on_the_metric_losses_and_fuses(tmp_path, data_root):
    path = _config(tmp_path, data_root, BLEND)
    result = CliRunner().invoke(cli, ["-q", "train", str(path)])
    assert result.exit_code == 0, result.output
    log = _log(tmp_path / "run")
    steps = [r for r in log if "val" not in r]
    assert len(steps) == 4 and all({"qabf", "qcv", "qcb", "min_ssim"} <= set(r) and np.isfinite(r["loss"]) for r in steps)
    assert {"Qabf", "Qcb", "Qcv", "loss"} <= set(log[-1]["val"])
    best = tmp_path / "run" / "checkpoints" / "best.safetensors"
    out = tmp_path / "fused.png"
    fused = CliRunner().invoke(cli, ["-q", "fuse", "--ir", str(data_root / "vif/ir/s0.png"), "--vis", str(data_root / "vif/vi/s0.jpg"),
                                     "--model", str(best), "-o", str(out)])
    assert fused.exit_code == 0, fused.output
    assert read_image(out)[0].shape[:2] == read_image(data_root / "vif/vi/s0.jpg")[0].shape[:2]


def test_plot_draws_negative_loss_terms_linearly_and_smooths_from_the_first_step(tmp_path):
    from fusecli.imaging import read_image
    from fusecli.train.plot import _smooth, plot_run

    smoothed = _smooth([(10 * i, float(i)) for i in range(1, 41)])  # window 4
    assert smoothed[0] == (10, 1.0) and smoothed[1] == (20, 1.5) and smoothed[-1] == (400, 38.5)
    records = [{"step": 10 * i, "lr": 1e-3, "loss": -30.0 - i % 5, "latent": 0.1 + 0.01 * (i % 3), "target_psnr": -30.0 - i % 5}
               for i in range(1, 31)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    sheet, _ = read_image(plot_run(tmp_path))
    assert sheet.shape[:2] == (600, 960)  # log panel, linear panel, learning rate
    linear = sheet[30:270, 540:950]  # inside the second panel's frame
    coloured = (linear.max(axis=2) - linear.min(axis=2)) > 0.2
    assert coloured.sum() > 200  # the PSNR terms are drawn, not dropped for having no log scale


def test_init_model_fine_tunes_a_whole_weights_file(tmp_path, data_root):
    from fusecli.models.weights import build, save_weights
    from fusecli.train.loop import build_model

    cfg = load_config(_config(tmp_path, data_root, MOE))
    start = build_model(cfg)
    with torch.no_grad():
        for p in start.parameters():
            p.add_(0.5)  # unlike any fresh initialisation
    save_weights(start, tmp_path / "start.safetensors")
    tuned = build_model(load_config(_config(tmp_path, data_root, MOE + 'init = { model = "start.safetensors" }\n')))
    for key, value in start.state_dict().items():
        assert torch.equal(tuned.state_dict()[key], value), key
    save_weights(build("moe-fusion", {"channels": 6}), tmp_path / "other.safetensors")
    with pytest.raises(ConfigError, match="channels: 6 != 4"):  # the run's model overrides do not fit
        build_model(load_config(_config(tmp_path, data_root, MOE + 'init = { model = "other.safetensors" }\n')))
    free = MOE.replace("model = { channels = 4, local_hidden = 4, global_widths = [8, 4], global_first_kernel = 1 }\n", "")
    other = build_model(load_config(_config(tmp_path, data_root, free + 'init = { model = "other.safetensors" }\n')))
    assert other.config.channels == 6  # without overrides the config comes from the weights file


def test_init_model_with_an_added_part_and_a_reset_head(tmp_path, data_root):
    from fusecli.models.weights import save_weights
    from fusecli.train.loop import build_model

    body = MMAIF.format(variant="regression", first="latent", ae=TINY_AE)
    start = build_model(load_config(_config(tmp_path, data_root, body)))
    with torch.no_grad():
        for p in start.parameters():
            p.add_(0.5)
    save_weights(start, tmp_path / "start.safetensors")
    base = 'base = { mef = "exposure-fusion" }'
    tune = body.replace("adaln_rank = 4,", f"adaln_rank = 4, {base},") + 'init = { model = "start.safetensors" }\nreset = ["head"]\n'
    tuned = build_model(load_config(_config(tmp_path, data_root, tune)))
    state = tuned.state_dict()
    assert tuned.config.base == {"mef": "exposure-fusion"}
    assert not state["base_proj.weight"].any() and not state["head.weight"].any()  # new part and reset part: fresh (zero) init
    for key, value in start.state_dict().items():
        if not key.startswith("head."):
            assert torch.equal(state[key], value), key
    flow = build_model(load_config(_config(tmp_path, data_root, MMAIF.format(variant="flow", first="velocity", ae=TINY_AE))))
    save_weights(flow, tmp_path / "flow.safetensors")
    with pytest.raises(ConfigError, match="variant: 'flow' != 'regression'"):  # parts of the file would be dropped
        build_model(load_config(_config(tmp_path, data_root, body + 'init = { model = "flow.safetensors" }\n')))
    with pytest.raises(ConfigError, match="no part 'nope'"):
        build_model(load_config(_config(tmp_path, data_root, body + 'init = { model = "start.safetensors" }\nreset = ["nope"]\n')))
    with pytest.raises(ConfigError, match="no init.model"):
        build_model(load_config(_config(tmp_path, data_root, body + 'reset = ["head"]\n')))


@pytest.mark.parametrize("variant,first", [("regression", "latent"), ("flow", "velocity")])
def test_tiny_all_in_one_runs_with_degradation_and_teacher(tmp_path, data_root, variant, first):
    # the autoencoder first (as shipped), then the all-in-one model initialised from it, frozen
    ae_cfg = _config(tmp_path, data_root, f"""
name = "tiny-ae"
arch = "autoencoder"
model = {{ widths = [4, 4], latent_channels = 4 }}
tasks = ["vif", "mef", "mff"]
steps = 2
losses = {{ reconstruction = 1.0 }}
validation = {{ every = 2, items = 2, metric = "PSNR-ref" }}
""")
    result = CliRunner().invoke(cli, ["-q", "train", str(ae_cfg), "--out", str(tmp_path / "ae")])
    assert result.exit_code == 0, result.output
    assert "PSNR-ref" in _log(tmp_path / "ae")[-1]["val"]
    body = MMAIF.format(variant=variant, first=first, ae=TINY_AE) + f'init = {{ autoencoder = "{tmp_path / "ae/checkpoints/best.safetensors"}" }}\nfreeze = ["autoencoder"]\n'
    path = _config(tmp_path, data_root, body)
    result = CliRunner().invoke(cli, ["-q", "train", str(path)])
    assert result.exit_code == 0, result.output
    log = _log(tmp_path / "run")
    assert all(first in r and "target_l1" in r for r in log if "val" not in r)
    _, held_out = load_scenes(load_config(path))
    expected = {"vif": "vif/PSNR-ref", "mef": "mef/MEF-SSIM", "mff": "mff/Qabf"}
    assert len({s.task for s in held_out}) >= 2
    assert {expected[s.task] for s in held_out} <= set(log[-1]["val"])
    from fusecli.models.weights import load_weights

    trained = load_weights(tmp_path / "run/checkpoints/last.safetensors")
    ae = load_weights(tmp_path / "ae/checkpoints/best.safetensors")
    for key, value in ae.state_dict().items():  # the frozen autoencoder is unchanged
        assert torch.equal(trained.autoencoder.state_dict()[key], value)
    # fine-tuning the whole model keeps its latent calibration (not recomputed from the new data)
    tune = body.split("init = ")[0] + f'init = {{ model = "{tmp_path / "run/checkpoints/last.safetensors"}" }}\nfreeze = ["autoencoder"]\n'
    result = CliRunner().invoke(cli, ["-q", "train", str(_config(tmp_path, data_root, tune)), "--out", str(tmp_path / "tuned"),
                                      "--set", "steps=1", "--set", "data.crop=24"])
    assert result.exit_code == 0, result.output
    tuned = load_weights(tmp_path / "tuned/checkpoints/last.safetensors")
    assert tuned.config.autoencoder.latent_scale == trained.config.autoencoder.latent_scale != 1.0
    # the fine-tuned file states the whole lineage: itself <- the all-in-one run <- the autoencoder run
    lineage = tuned.provenance["initialized_from"]["model"]
    assert (lineage["file"], lineage["steps"]) == ("last.safetensors", trained.provenance["steps"])
    assert lineage["initialized_from"]["autoencoder"]["name"] == "tiny-ae"
    assert lineage["initialized_from"]["autoencoder"]["steps"] == 2


def test_mmaif_without_teacher_is_a_clear_error(tmp_path, data_root):
    body = MMAIF.format(variant="regression", first="latent", ae=TINY_AE).replace('teacher = { vif = "pyramid-vif", mef = "exposure-fusion", mff = "focus-fusion" }\n', "")
    result = CliRunner().invoke(cli, ["train", str(_config(tmp_path, data_root, body))])
    assert result.exit_code == 2 and "teacher" in result.output


def test_resume_after_a_kill_replays_the_same_loss_curve(tmp_path, data_root):
    path = _config(tmp_path, data_root, MOE)
    straight = load_config(path, ["out='straight'"])
    train(straight)
    interrupted = load_config(path, ["out='resumed'"])

    def kill(step: int, loss: float) -> None:
        if step == 5:  # after the step-3 checkpoint and two more logged steps
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(interrupted, on_step=kill)
    assert [r["step"] for r in _log(tmp_path / "resumed")][-1] == 5
    result = CliRunner().invoke(cli, ["-q", "train", str(path), "--set", "out='resumed'", "--resume"])
    assert result.exit_code == 0, result.output
    a, b = _log(tmp_path / "straight"), _log(tmp_path / "resumed")
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for x, y in zip(a, b):
        if "val" in x:
            assert x["val"] == pytest.approx(y["val"], rel=1e-6)
        else:
            assert x["loss"] == pytest.approx(y["loss"], rel=1e-6)
    missing = CliRunner().invoke(cli, ["train", str(path), "--set", "out='never'", "--resume"])
    assert missing.exit_code == 2 and "nothing to resume" in missing.output


def test_background_workers_make_the_same_batches(tmp_path, data_root):
    # degradation + teacher in 2 worker processes must replay the in-process run exactly
    path = _config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE))
    train(load_config(path, ["out='inline'", "steps=4"]))
    train(load_config(path, ["out='workers'", "steps=4", "data.workers=2"]))
    a, b = _log(tmp_path / "inline"), _log(tmp_path / "workers")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2, 3, 3, 4, 4]
    losses = [[r.get("loss") for r in log] for log in (a, b)]  # validation records have none
    assert [x is None for x in losses[0]] == [x is None for x in losses[1]]
    assert [x for x in losses[0] if x is not None] == pytest.approx([x for x in losses[1] if x is not None], rel=1e-6)
    assert [r.get("task") for r in a] == [r.get("task") for r in b]


def test_data_parallel_two_processes_on_cpu(tmp_path, data_root):
    path = _config(tmp_path, data_root, MOE.replace("steps = 6", "steps = 2").replace("every = 3", "every = 2"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "fusecli", "-q", "train", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    from fusecli.models.weights import read_metadata

    meta = read_metadata(tmp_path / "run/checkpoints/last.safetensors")
    assert "x2 processes" in meta["provenance"]["hardware"] and meta["provenance"]["steps"] == 2
    assert [r["step"] for r in _log(tmp_path / "run") if "val" not in r] == [1, 2]


def _example_configs() -> list:
    """Every example config; those that start from shipped weights (``init``) need them."""
    return [pytest.param(path, marks=pytest.mark.weights, id=path.stem) if "init" in tomllib.loads(path.read_text()) else pytest.param(path, id=path.stem)
            for path in sorted((EXAMPLES / "train").glob("*.toml"))]


@pytest.mark.parametrize("path", _example_configs())
def test_every_example_config_loads_and_builds_its_model(path):
    """The shipped configs stay valid as the config schema and the zoo change (their data is not needed)."""
    from fusecli.models.weights import CATALOG, build_entry
    from fusecli.train.loop import build_model

    cfg = load_config(path)
    model = build_model(cfg)  # also loads the shipped weights named in init
    assert model.arch == cfg.arch and (cfg.name not in CATALOG or cfg.arch == CATALOG.get(cfg.name).arch)
    # the configs of the shipped weights, the tiny example, and two variants of the all-in-one model whose weights do not ship
    assert cfg.name in CATALOG or path.stem in ("tiny", "mmaif-flow", "mmaif-sources")
    assert (cfg.objective == "prompt-words") == (path.stem == "mmaif-words")
    def architecture(config) -> dict:  # the latent scale is a data statistic training calibrates, and a
        from fusecli.models.base import config_to_dict  # gate's initial logit only where training began

        d = config_to_dict(config)
        d.get("autoencoder", {}).pop("latent_scale", None)
        d.get("text", {}).pop("extra_words", None)  # words a prompt-words run taught the file
        d.pop("correction_gate_bias", None)
        return d

    if cfg.name in CATALOG:
        assert architecture(model.config) == architecture(build_entry(cfg.name).config)  # the example trains what the catalog ships
    if path.stem == "mmaif-flow":  # mmaif-reg as a flow from the same base
        flow = {**architecture(build_entry("mmaif-reg").config), "variant": "flow", "prediction": "target", "start_noise": 0.5}
        assert architecture(model.config) == flow
    if path.stem == "mmaif-sources":  # mmaif-reg itself, fine-tuned against the clean sources too
        assert architecture(model.config) == architecture(build_entry("mmaif-reg").config)
        assert {"qabf", "min_ssim"} <= set(cfg.losses) and cfg.validation.metric == "Qabf"


def test_packed_data_copy_loads_the_same_scenes(tmp_path, data_root):
    from fusecli.train.data import load_scenes
    from fusecli.errors import FusecliError
    from fusecli.train.pack import pack_data

    path = _config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE))
    config = load_config(path, [f'data.focus_synthetic=["{data_root / "mef"}"]'])
    folders, written = pack_data(config, tmp_path / "packed", "png")
    assert set(folders) == {"vif", "mef", "mff", "focus_synthetic"} and written > 0
    packed = load_config(path, [f"data.{k}={json.dumps(v)}" for k, v in folders.items()])
    for original, copy in zip(load_scenes(config), load_scenes(packed)):
        # the same names (folder/scene) and so the same validation split
        assert [(s.task, s.name, s.synthetic) for s in original] == [(s.task, s.name, s.synthetic) for s in copy]
        for a, b in zip(original, copy):
            assert len(a.frames) == len(b.frames)
            for fa, fb in zip(a.frames, b.frames):  # 8-bit PNG: within half a grey level
                assert np.abs(fa.astype(np.float32) - fb.astype(np.float32)).max() <= 0.5 / 255 + 1e-3
    _, jpeg_bytes = pack_data(config, tmp_path / "jpeg", "jpg")
    assert 0 < jpeg_bytes < written
    for inside in (data_root, data_root / "vif", data_root / "vif" / "packed"):  # never over or into the data
        with pytest.raises(FusecliError, match="overlaps the data folder"):
            pack_data(config, inside, "png")
    with pytest.raises(FusecliError, match="unknown format"):
        pack_data(config, tmp_path / "x", "bmp")


def test_a_regression_model_on_a_base_fine_tunes_into_a_flow_from_that_base(tmp_path, data_root):
    """What examples/train/mmaif-flow.toml does: a regression file with a classical base, turned
    into a flow predicting the target by model overrides."""
    base = 'variant = "regression", base = { vif = "pyramid-vif", mef = "exposure-fusion", mff = "focus-fusion" }, detail = true'
    body = MMAIF.format(variant="regression", first="latent", ae=TINY_AE).replace('variant = "regression"', base)
    result = CliRunner().invoke(cli, ["-q", "train", str(_config(tmp_path, data_root, body)), "--set", "steps=2"])
    assert result.exit_code == 0, result.output
    start = tmp_path / "run/checkpoints/last.safetensors"
    tune = body + f'init = {{ model = "{start}" }}\n'
    result = CliRunner().invoke(cli, ["-q", "train", str(_config(tmp_path, data_root, tune)), "--out", str(tmp_path / "flow"), "--set", "steps=2",
                                      "--set", 'model={variant="flow",prediction="target",start_noise=0.5}'])
    assert result.exit_code == 0, result.output
    assert all("latent" in r and "velocity" not in r for r in _log(tmp_path / "flow") if "val" not in r)
    from fusecli.models.weights import load_weights

    flow = load_weights(tmp_path / "flow/checkpoints/last.safetensors")
    assert (flow.config.variant, flow.config.prediction, flow.config.start_noise) == ("flow", "target", 0.5)
    assert flow.config.base == load_weights(start).config.base and flow.provenance["initialized_from"]["model"]["steps"] == 2


RESTORER = """
name = "tiny-restorer"
arch = "restorer"
model = { width = 4, depth = 3, ops = ["jpeg", "downsample"] }
tasks = ["vif", "mef", "mff"]
steps = 3
log_every = 1
losses = { reconstruction = 1.0 }
validation = { every = 3, items = 2, metric = "PSNR-ref" }
degrade = { enabled = true, n = [1], allowed = ["jpeg", "downsample"] }
"""


def test_tiny_restorer_run_and_its_insertion_into_the_all_in_one_model(tmp_path, data_root):
    """The restorer trains through the CLI on frames degraded only by its ops, and a later run
    loads it into an mmaif model (init.model + init.restorer), frozen, as the base's JPEG restorer."""
    from fusecli.models.weights import load_weights, save_weights
    from fusecli.train.loop import build_model

    result = CliRunner().invoke(cli, ["-q", "train", str(_config(tmp_path, data_root, RESTORER)), "--out", str(tmp_path / "restorer")])
    assert result.exit_code == 0, result.output
    log = _log(tmp_path / "restorer")
    assert all("reconstruction" in r for r in log if "val" not in r) and "PSNR-ref" in log[-1]["val"]
    restorer = load_weights(tmp_path / "restorer/checkpoints/last.safetensors")
    assert restorer.arch == "restorer" and restorer.config.ops == ["jpeg", "downsample"]

    body = MMAIF.format(variant="regression", first="latent", ae=TINY_AE).replace("adaln_rank = 4,", 'adaln_rank = 4, base = { mef = "exposure-fusion" }, restore = { mef = ["jpeg"] },')
    save_weights(build_model(load_config(_config(tmp_path, data_root, body))), tmp_path / "start.safetensors")
    learned = body.replace('restore = { mef = ["jpeg"] },', 'restore = { mef = ["jpeg"] }, learned_restore = ["jpeg"], restorer = { width = 4, depth = 3, ops = ["jpeg", "downsample"] },')
    tune = learned + f'init = {{ model = "start.safetensors", restorer = "{tmp_path / "restorer/checkpoints/last.safetensors"}" }}\nfreeze = ["autoencoder", "restorer"]\n'
    result = CliRunner().invoke(cli, ["-q", "train", str(_config(tmp_path, data_root, tune)), "--out", str(tmp_path / "tuned"), "--set", "steps=1"])
    assert result.exit_code == 0, result.output
    tuned = load_weights(tmp_path / "tuned/checkpoints/last.safetensors")
    for key, value in restorer.state_dict().items():
        assert torch.equal(tuned.restorer.state_dict()[key], value), key
    # a part that init.model already holds cannot also come from another file, unless reset swaps it
    clash = body + f'init = {{ model = "start.safetensors", autoencoder = "{tmp_path / "start.safetensors"}" }}\n'
    with pytest.raises(ConfigError, match="init.model already sets that part"):
        build_model(load_config(_config(tmp_path, data_root, clash)))
    from fusecli.models.restorer_arch import Restorer, RestorerConfig

    wider = Restorer(RestorerConfig(width=6, depth=4, ops=["jpeg", "downsample"]))
    save_weights(wider, tmp_path / "wider.safetensors")
    swap = learned.replace("restorer = { width = 4, depth = 3,", "restorer = { width = 6, depth = 4,")
    swap += f'init = {{ model = "{tmp_path / "tuned/checkpoints/last.safetensors"}", restorer = "{tmp_path / "wider.safetensors"}" }}\nreset = ["restorer"]\n'
    swapped = build_model(load_config(_config(tmp_path, data_root, swap)))
    assert (swapped.restorer.config.width, swapped.restorer.config.depth) == (6, 4)
    for key, value in wider.state_dict().items():
        assert torch.equal(swapped.restorer.state_dict()[key], value), key
    for key, value in tuned.state_dict().items():
        if not key.startswith("restorer."):
            assert torch.equal(swapped.state_dict()[key], value), key
    with pytest.raises(ConfigError, match="unknown degradation"):
        load_config(_config(tmp_path, data_root, RESTORER), ['degrade.allowed=["jpg"]'])


def test_restorer_objective_trains_only_on_the_frames_the_degradation_changed():
    from fusecli.models.restorer_arch import Restorer, RestorerConfig
    from fusecli.train.data import Batch
    from fusecli.train.objectives import OBJECTIVES

    torch.manual_seed(0)
    objective = OBJECTIVES["restorer"](Restorer(RestorerConfig(width=4, depth=3)))
    clean = torch.rand(2, 2, 1, 16, 16)
    sources = clean.clone()
    sources[0, 1] = (sources[0, 1] * 8).round() / 8  # one degraded (quantised) frame of four
    loss = objective(Batch("mef", sources, clean, None, [None, None]))["reconstruction"]
    expected = L.reconstruction_loss(objective.model(sources[0, 1:2]), clean[0, 1:2])
    torch.testing.assert_close(loss, expected)
    # no frame changed (a clean batch): all of them, rather than nothing
    loss = objective(Batch("mef", clean, clean, None, [None, None]))["reconstruction"]
    torch.testing.assert_close(loss, L.reconstruction_loss(objective.model(clean.flatten(0, 1)), clean.flatten(0, 1)))


def test_lr_scale_gives_a_part_its_own_learning_rate(tmp_path, data_root):
    """``optim.lr_scale``: a part's parameters follow the schedule times its factor (a gate that
    must move far from its initial bias while the network is only fine-tuned); unknown parts are errors."""
    from fusecli.train.config import ConfigError
    from fusecli.train.loop import build_model, make_optimizer, set_learning_rate

    path = _config(tmp_path, data_root, MMAIF.format(variant="regression", first="latent", ae=TINY_AE))
    config = load_config(path, ["optim.lr_scale={head=100.0}"])
    model = build_model(config)
    optimizer = make_optimizer(model, config)
    set_learning_rate(optimizer, 1e-3)
    head = {id(p) for p in model.head.parameters()}
    rates = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    assert all(abs(rates[i] - 0.1) < 1e-12 for i in head)
    assert {rate for i, rate in rates.items() if i not in head} == {1e-3}
    assert len(rates) == sum(p.requires_grad for p in model.parameters())  # every trained parameter, once
    decays = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    assert decays[id(model.head.weight)] > 0 and decays[id(model.head.bias)] == 0
    with pytest.raises(ConfigError, match="no part 'nonsense'"):
        make_optimizer(model, load_config(path, ["optim.lr_scale={nonsense=2.0}"]))


@pytest.mark.parametrize("override,message", [
    ("optim.lr=nan", "optim.lr must be a finite number"),
    ("optim.lr=0", "optim.lr must be a positive number"),
    ("losses.pixel=inf", "losses.pixel must be a finite number"),
    ("losses.gradient=-1", "loss weights must be >= 0"),
    ("data.crop=4096", "data.crop 4096 is larger than data.max_side 64"),
    ("data.camera_jitter=1.5", "data.camera_jitter must be in [0, 1]"),
])
def test_impossible_settings_are_refused_before_training(tmp_path, data_root, override, message):
    path = _config(tmp_path, data_root, MOE)
    result = CliRunner().invoke(cli, ["train", str(path), "--set", override])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_diverging_run_stops_with_one_line_that_says_what_to_change(tmp_path, data_root):
    path = _config(tmp_path, data_root, MOE)
    result = CliRunner().invoke(cli, ["train", str(path), "--set", "optim.lr=1e30", "--set", "optim.warmup=0"])
    assert result.exit_code == 2 and "training diverged at step" in result.output and "lower optim.lr" in result.output, result.output
    assert "tensor(" not in result.output and "Traceback" not in result.output


def _resume(path: Path) -> object:
    return CliRunner().invoke(cli, ["train", str(path), "--resume"])


@pytest.mark.parametrize("damage,message", [
    ("state-truncated", "corrupt optimizer state"),
    ("state-json", "corrupt checkpoint state"),
    ("mixed-saves", "come from different saves"),
])
def test_a_broken_checkpoint_is_refused_on_resume(tmp_path, data_root, damage, message):
    """A checkpoint set is verified on --resume: corrupt files and files of two different saves (a
    save cut short) are one clear line, never a resumed run that silently diverges."""
    path = _config(tmp_path, data_root, MOE.replace("steps = 6", "steps = 3"))  # saves at step 3 (every = 3)
    train(load_config(path))
    checkpoints = tmp_path / "run" / "checkpoints"
    earlier = tmp_path / "step3.safetensors"
    shutil.copy(checkpoints / "last.safetensors", earlier)
    train(load_config(path, ["steps=6"]), resume=True)  # saves at step 6
    if damage == "state-truncated":
        data = (checkpoints / "last.state.safetensors").read_bytes()
        (checkpoints / "last.state.safetensors").write_bytes(data[: len(data) // 2])
    elif damage == "state-json":
        (checkpoints / "last.state.json").write_bytes(b'{"step": 6, "best": nu')
    else:
        shutil.copy(earlier, checkpoints / "last.safetensors")  # the weights of step 3 beside the optimizer of step 6
    path.write_text(path.read_text().replace("steps = 3", "steps = 9"))
    result = _resume(path)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output


def test_weights_with_non_finite_values_are_refused(tmp_path, rng):
    from fusecli.models.weights import build_entry, save_weights

    model = build_entry("moefusion-vif")
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    path = save_weights(model, tmp_path / "diverged.safetensors")
    for name in ("ir", "vis"):
        write_image(tmp_path / f"{name}.png", smooth_image(rng, 32, 40, 3 if name == "vis" else None))
    result = CliRunner().invoke(cli, ["fuse", "--ir", str(tmp_path / "ir.png"), "--vis", str(tmp_path / "vis.png"), "--model", str(path), "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 2 and "NaN or infinite values" in result.output and not (tmp_path / "out.png").exists(), result.output


def test_the_tiny_example_trains_out_of_the_box(tmp_path):
    """examples/train/tiny.toml needs nothing but the checkout: it trains on the crops
    examples/make_examples.py wrote, writes a run folder, plots it, and its checkpoint fuses."""
    runner = CliRunner()
    run = tmp_path / "tiny"
    trained = runner.invoke(cli, ["train", str(EXAMPLES / "train" / "tiny.toml"), "--out", str(run), "--set", "steps=4", "--set", "validation.every=2"])
    assert trained.exit_code == 0, trained.output
    assert (run / "log.jsonl").is_file() and (run / "checkpoints" / "best.safetensors").is_file()
    assert runner.invoke(cli, ["train", "--plot", str(run)]).exit_code == 0 and (run / "curves.png").is_file()
    fused = runner.invoke(cli, ["fuse", "--ir", str(EXAMPLES / "vif" / "astronaut_ir.png"), "--vis", str(EXAMPLES / "vif" / "astronaut_vis.jpg"),
                                "--model", str(run / "checkpoints" / "best.safetensors"), "-o", str(tmp_path / "fused.png")])
    assert fused.exit_code == 0 and (tmp_path / "fused.png").is_file(), fused.output


def test_prompt_words_teach_new_words_only_and_leave_every_other_prompt_as_it_was(tmp_path, data_root):
    """The prompt-words objective (examples/train/mmaif-words.toml): the paraphrases' words get
    ids of their own and only their embeddings train; a generator prompt, an unknown word and
    no prompt encode exactly as before, and the paraphrases move toward the generator's sentences."""
    from fusecli.degrade.paraphrases import paraphrase_vocabulary
    from fusecli.models.weights import load_weights
    from fusecli.train.objectives import prompt_pairs

    body = MMAIF.format(variant="regression", first="latent", ae=TINY_AE)
    result = CliRunner().invoke(cli, ["-q", "train", str(_config(tmp_path, data_root, body)), "--set", "steps=1"])
    assert result.exit_code == 0, result.output
    start = tmp_path / "run/checkpoints/last.safetensors"
    words = body.replace('name = "tiny-regression"', 'name = "tiny-words"\nobjective = "prompt-words"') + f'init = {{ model = "{start}" }}\n'
    words = words.replace("losses = { latent = 1.0, target_l1 = 1.0, gradient = 1.0, load = 0.01 }", "losses = { prompt_words = 1.0 }")
    words = words.replace('teacher = { vif = "pyramid-vif", mef = "exposure-fusion", mff = "focus-fusion" }\n', "")
    words = words.replace('metric = "PSNR-ref"', 'metric = "loss"')
    result = CliRunner().invoke(cli, ["-q", "train", str(_config(tmp_path, data_root, words)), "--out", str(tmp_path / "words"),
                                      "--set", "steps=100", "--set", "optim.lr=0.05", "--set", "optim.weight_decay=0.0",
                                      "--set", "validation.every=100"])
    assert result.exit_code == 0, result.output
    before, after = load_weights(start).eval(), load_weights(tmp_path / "words/checkpoints/last.safetensors").eval()
    assert set(after.config.text.extra_words) == set(paraphrase_vocabulary("train")) - set(before.config.text.vocabulary)
    b, a = before.state_dict(), after.state_dict()
    assert all(torch.equal(b[k], a[k]) for k in b if k != "text.embed.weight")
    rng = np.random.default_rng(0)
    generated, paraphrased = prompt_pairs("vif", rng, 24, "train")
    with torch.no_grad():
        for prompts in (generated, [None, "", "qwerty zxcvb"]):
            assert torch.equal(before.text(prompts), after.text(prompts))
        target = before.text(generated)
        error = [float((m.text(paraphrased) - target).pow(2).sum(1).mean() / target.pow(2).sum(1).mean()) for m in (before, after)]
    assert error[1] < 0.85 * error[0], error
    log = _log(tmp_path / "words")
    assert all("prompt_words" in r for r in log if "val" not in r)


def test_an_objective_must_exist_and_train_its_own_arch(tmp_path, data_root):
    path = _config(tmp_path, data_root, MOE)
    with pytest.raises(ConfigError, match="unknown objective"):
        load_config(path, ['objective="words"'])
    with pytest.raises(ConfigError, match="trains arch 'mmaif'"):
        load_config(path, ['objective="prompt-words"'])
