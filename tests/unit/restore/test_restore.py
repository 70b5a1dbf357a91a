"""Classical restorations, reading them from a prompt, and mmaif-reg's restored classical base."""

import cv2
import numpy as np
import pytest
import torch
from conftest import pink_noise, smooth_image

from fusecli.degrade import prompts as P
from fusecli.degrade.pipeline import sample
from fusecli.models.base import FuseOptions
from fusecli.methods.exposure import exposure_fusion
from fusecli.methods import fuse_frames
from fusecli.models.mmaif_arch import MMAIF, MMAIFConfig
from fusecli.models.text_encoder_arch import TextEncoderConfig
from fusecli.fusion.learned import fuse_network
from fusecli.restore.stage import ClassicalStage
from fusecli.restore import (
    CONTRAST_QUANTILE, PROMPT_PATTERNS, extreme_share, stretch, UPSAMPLED_BELOW, degradations_in_prompt, denoise, frame_stats, looks_upsampled, restoration_stats, restore,
    restore_stack, stack_restoration_stats, upsampling_score,
)

BASES = {"vif": "pyramid-vif", "mef": "exposure-fusion", "mff": "focus-fusion"}


@pytest.fixture
def scene(rng):
    return smooth_image(rng, 72, 96, 3)


@pytest.mark.parametrize("op", sorted(P.SENTENCES))
def test_every_generated_sentence_and_clause_names_its_degradation(op):
    """Each hand-written request is read as exactly its own degradation (among those recognised):
    "stripe noise" is not Gaussian noise, "recover the contrast" after dehazing is not a contrast fix."""
    expected = [op] if op in PROMPT_PATTERNS else []
    for text in P.SENTENCES[op] + P.CLAUSES[op]:
        assert degradations_in_prompt(text) == expected, text


def test_composed_prompts_name_exactly_their_degradations():
    rng = np.random.default_rng(0)
    frames = [np.full((16, 16), 0.5, np.float32)] * 2
    for i in range(300):
        made = sample(frames, ("vif", "mef", "mff")[i % 3], rng, n=1 + i % 3)
        truth = {op.name for op in made.ops} & set(PROMPT_PATTERNS)
        assert set(degradations_in_prompt(made.prompt)) == truth, made.prompt
    assert degradations_in_prompt(None) == [] == degradations_in_prompt("")
    assert degradations_in_prompt("Please remove the FOG and the grain") == ["gaussian_noise", "haze"]


def test_restorations_undo_their_degradation(scene):
    """Dehazing, stretching, denoising and destriping each bring a degraded frame closer to the clean one."""
    gray = scene.mean(2)
    clean = (0.02 + 0.96 * (gray - gray.min()) / (gray.max() - gray.min())).astype(np.float32)  # full range, as stretching assumes
    hazy = 0.35 * clean + 0.65 * 0.9
    flat = 0.5 + 0.3 * (clean - 0.5)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.04, clean.shape), 0, 1).astype(np.float32)
    striped = np.clip(clean + np.random.default_rng(1).normal(0, 0.05, clean.shape[1])[None, :], 0, 1).astype(np.float32)
    for degraded, op in ((hazy, "haze"), (flat, "low_contrast"), (noisy, "gaussian_noise"), (striped, "ir_stripes")):
        before, after = np.abs(degraded - clean).mean(), np.abs(restore(degraded, [op]) - clean).mean()
        assert after < 0.8 * before, (op, before, after)
    with pytest.raises(ValueError, match="no restoration for nonsense"):
        restore(clean, ["nonsense"])
    with pytest.raises(ValueError, match=r"\(H, W\) luminance frame, got shape \(\d+, \d+, 3\)"):
        restore(scene, ["haze"])


def test_whole_image_statistics_restore_a_tile_like_the_whole(scene):
    frame = (0.5 + 0.8 * (scene.mean(2) - 0.5)).astype(np.float32)  # a gain below the 5x limit, whole or tile
    stats = restoration_stats(frame, ["low_contrast"])
    tile = (slice(10, 60), slice(20, 90))
    whole = restore(frame, ["low_contrast"])
    np.testing.assert_allclose(restore(frame[tile], ["low_contrast"], stats), whole[tile], atol=1e-6)
    assert np.abs(restore(frame[tile], ["low_contrast"]) - whole[tile]).max() > 0.01  # the tile's own percentiles differ


def test_up_sampled_frames_are_told_from_detailed_ones():
    """A low-resolution prompt does not say which frame it means; the detector does: frames shrunk
    by fusecli.degrade and resized back read as up-sampled (its heavy range, scale 2..3.5; milder
    ones keep too much fine detail to tell), a frame with natural images' 1/f spectrum does not,
    and a tile follows its whole frame."""
    from fusecli.degrade.camera import downsample

    for seed in range(3):
        clean = pink_noise(seed)
        assert not looks_upsampled(clean) and upsampling_score(clean) > UPSAMPLED_BELOW + 0.5
        for scale in (3.5, 2.0):
            for interpolation in ("bilinear", "bicubic", "area"):
                small = downsample(clean, np.random.default_rng(0), {"scale": scale, "interpolation": interpolation})
                assert looks_upsampled(small), (seed, scale, interpolation, upsampling_score(small))
    frame = downsample(pink_noise(4), np.random.default_rng(0), {"scale": 3.0, "interpolation": "area"})
    stats = restoration_stats(frame, ["gaussian_noise", "downsample"])
    assert set(stats) == {"downsample"} and stats["downsample"]["upsampling"] == upsampling_score(denoise(frame))
    assert looks_upsampled(frame[:40, :40], stats["downsample"])
    assert not looks_upsampled(frame[:40, :40], {"upsampling": UPSAMPLED_BELOW + 1})  # the whole frame's score decides
    assert not looks_upsampled(np.zeros((8, 8), np.float32))  # too small to tell: left alone


def test_contrast_restoration_undoes_a_compression_towards_the_mean(scene):
    """Low contrast is ``mean + c (I - mean)`` (fusecli.degrade); a frame that reaches black or
    white somewhere is restored almost exactly, whatever ``c``, and one at full range is left alone."""
    gray = scene.mean(2)
    low = np.quantile(gray, 0.01)  # 1 % of the pixels black (shadows), none white
    clean = np.clip((gray - low) / (gray.max() - low) * 0.8, 0, 1).astype(np.float32)
    for c in (0.3, 0.6):
        flat = (clean.mean() + c * (clean - clean.mean())).astype(np.float32)
        restored = restore(flat, ["low_contrast"])
        assert np.abs(restored - clean).max() < 0.01, c
        assert abs(restored.mean() - flat.mean()) < 1e-3  # the brightness is kept
    np.testing.assert_allclose(restore(clean, ["low_contrast"]), clean, atol=2e-3)


def flat_focus_stack(scene, c: float = 0.5) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(clean, degraded) frames of a focus stack: the left half in focus in the near frame, the
    right half in the far one. Only the left half reaches black and white, so the far frame, whose
    left half is defocused, does not; both lose contrast by the same ``c`` about their own mean."""
    gray = scene.mean(2)
    half = gray.shape[1] // 2
    low, high = np.quantile(gray[:, :half], [0.02, 0.98])  # shadows and highlights on the left
    sharp = np.clip((gray - low) / (high - low), 0, 1).astype(np.float32)
    sharp[:, half:] = 0.25 + 0.5 * sharp[:, half:]
    soft = cv2.GaussianBlur(sharp, (0, 0), 4)
    near, far = sharp.copy(), sharp.copy()
    near[:, half:], far[:, :half] = soft[:, half:], soft[:, :half]
    return [near, far], [(f.mean() + c * (f - f.mean())).astype(np.float32) for f in (near, far)]


def test_a_stacks_frames_share_one_contrast(scene):
    """Every frame of an MEF / MFF stack loses contrast by the same ``c``; a frame that never reached
    black or white cannot show it alone (its own stretch over-shoots), but the stack can."""
    clean, flat = flat_focus_stack(scene)
    alone = [restore(f, ["low_contrast"]) for f in flat]
    together = restore_stack(flat, ["low_contrast"], "mff")
    assert np.abs(alone[0] - clean[0]).max() < 0.01  # the frame that reaches black and white is exact either way
    assert np.abs(alone[1] - clean[1]).mean() > 0.02  # the other one over-stretched on its own
    for restored, truth in zip(together, clean):
        assert np.abs(restored - truth).max() < 0.01
    stats = stack_restoration_stats(flat, ["low_contrast"], "mff")
    assert stats[0]["low_contrast"]["contrast"] == stats[1]["low_contrast"]["contrast"] == pytest.approx(0.5, abs=0.01)
    # VIF sensors do not share a contrast: each frame keeps its own
    np.testing.assert_array_equal(restore_stack(flat, ["low_contrast"], "vif")[1], alone[1])
    assert all("contrast" not in frame["low_contrast"] for frame in stack_restoration_stats(flat, ["low_contrast"], "vif"))


def test_tiles_of_a_stack_are_restored_with_the_whole_stacks_contrast(scene):
    clean, flat = flat_focus_stack(scene)
    stats = stack_restoration_stats(flat, ["low_contrast"], "mef")
    whole = restore_stack(flat, ["low_contrast"], "mef")
    tile = (slice(8, 40), slice(20, 60))
    tiles = restore_stack([f[tile] for f in flat], ["low_contrast"], "mef", stats)
    for part, full in zip(tiles, whole):
        np.testing.assert_allclose(part, full[tile], atol=1e-6)
    assert np.abs(restore_stack([f[tile] for f in flat], ["low_contrast"], "mef")[1] - whole[1][tile]).max() > 0.01  # the tile's own would differ
    with pytest.raises(ValueError, match="no restoration for"):
        restore_stack(flat, ["nonsense"], "mef")


def test_the_base_stretches_a_stack_with_its_shared_contrast(scene):
    clean, flat = flat_focus_stack(scene)
    frames = torch.from_numpy(np.stack(flat))[None, :, None]
    model = restoring_model(restore={"mff": ["low_contrast"]})
    base = ClassicalStage.of(model).fuse_base(frames, "mff", prompts=["increase the contrast"])[0, 0].numpy()
    np.testing.assert_allclose(base, fuse_frames("focus-fusion", restore_stack(flat, ["low_contrast"], "mff")), atol=1e-5)
    truth = fuse_frames("focus-fusion", clean)
    assert np.abs(base - truth).mean() < 1e-4
    assert np.abs(fuse_frames("focus-fusion", [restore(f, ["low_contrast"]) for f in flat]) - truth).mean() > 0.01  # each frame alone
    padded = fuse_network(model, frames[..., :-3, :-5], FuseOptions(task="mff", prompt="increase the contrast"))  # whole-image statistics
    assert padded.image.shape[-2:] == (flat[0].shape[0] - 3, flat[0].shape[1] - 5)


def test_statistics_are_taken_where_each_restoration_runs(scene):
    """Asked to denoise and then stretch, the stretch reads the denoised frame's percentiles (a
    noisy frame's are wider, so it would stretch too little); non-global restorations need none."""
    gray = scene.mean(2)
    frame = np.clip(0.5 + 0.4 * (gray - gray.mean()) + np.random.default_rng(2).normal(0, 0.05, gray.shape), 0, 1).astype(np.float32)
    stats = restoration_stats(frame, ["gaussian_noise", "low_contrast"])
    assert set(stats) == {"low_contrast"} and stats["low_contrast"] == frame_stats(denoise(frame))
    assert stats["low_contrast"]["high"] < frame_stats(frame)["high"] - 0.02
    assert restoration_stats(frame, ["gaussian_noise", "jpeg"]) == {}
    np.testing.assert_array_equal(restore(frame, ["gaussian_noise", "low_contrast"], stats), restore(frame, ["gaussian_noise", "low_contrast"]))


def restoring_model(**config) -> MMAIF:
    torch.manual_seed(0)
    return MMAIF(MMAIFConfig(variant="regression", dim=32, depth=2, heads=2, window=4, adaln_rank=8,
                             text=TextEncoderConfig(dim=32, layers=1, heads=2), base=BASES, **config)).eval()


def test_the_base_restores_what_the_prompt_names_for_its_task():
    model = restoring_model(restore={"mff": ["haze", "gaussian_noise"], "vif": ["ir_stripes"]})
    frames = torch.rand(2, 2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    arrays = [list(item[:, 0].numpy()) for item in frames]
    base = ClassicalStage.of(model).fuse_base(frames, "mff", prompts=["Remove the haze, then fix the contrast.", None])[:, 0].numpy()
    np.testing.assert_allclose(base[0], fuse_frames("focus-fusion", [restore(f, ["haze"]) for f in arrays[0]]), atol=1e-5)
    np.testing.assert_allclose(base[1], fuse_frames("focus-fusion", arrays[1]), atol=1e-5)  # no prompt, no restoration
    assert ClassicalStage.of(model).restorations("mef", "remove the haze") == []  # not configured for MEF
    vif = ClassicalStage.of(model).fuse_base(frames[:1], "vif", prompts=["Destripe the infrared frame."])[0, 0].numpy()
    np.testing.assert_allclose(vif, fuse_frames("pyramid-vif", [restore(arrays[0][0], ["ir_stripes"]), arrays[0][1]]), atol=1e-5)


def test_the_base_restores_each_item_with_its_own_statistics():
    """Training crops pass their whole frames' statistics, one list per item."""
    model = restoring_model(restore={"mef": ["low_contrast"]})
    frames = 0.4 + 0.2 * torch.rand(2, 2, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    arrays = [list(item[:, 0].numpy()) for item in frames]
    identity = {"low_contrast": {"low": 0.0, "high": 1.0, "airlight": 1.0, "mean": 0.5}}  # a stretch that changes nothing
    prompts = ["increase the contrast"] * 2
    base = ClassicalStage.of(model).fuse_base(frames, "mef", prompts=prompts, stats=[[identity, identity], [restoration_stats(f, ['low_contrast']) for f in arrays[1]]])[:, 0].numpy()
    np.testing.assert_allclose(base[0], fuse_frames("exposure-fusion", arrays[0]), atol=1e-5)
    np.testing.assert_allclose(base[1], fuse_frames("exposure-fusion", [restore(f, ["low_contrast"]) for f in arrays[1]]), atol=1e-5)
    assert np.abs(base[0] - fuse_frames("exposure-fusion", [restore(f, ["low_contrast"]) for f in arrays[0]])).max() > 0.05


def test_restore_needs_a_base_and_known_degradations():
    with pytest.raises(ValueError, match="needs a base"):
        MMAIF(MMAIFConfig(variant="regression", restore={"mff": ["haze"]}))
    with pytest.raises(ValueError, match="no such degradations"):
        ClassicalStage.of(restoring_model(restore={"mff": ["rain"]}))


def test_padding_passes_the_unpadded_frames_statistics():
    """A 30-row image padded to 32 rows: the base is the 30 rows restored with their statistics and fused."""
    model = restoring_model(restore={"mef": ["low_contrast"]}, detail=True)
    torch.nn.init.constant_(model.detail_gate.proj.bias, 30.0)  # gate open: the output is the base exactly
    stack = 0.4 + 0.2 * torch.rand(1, 2, 1, 30, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = fuse_network(model, stack, FuseOptions(task="mef", prompt="boost the contrast")).image[0, 0].numpy()
    frames = [f[0].numpy() for f in stack[0]]
    expected = exposure_fusion(restore_stack(frames, ["low_contrast"], "mef", stack_restoration_stats(frames, ["low_contrast"], "mef")))
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_training_drops_the_prompt_for_the_condition_and_the_base_together():
    model = restoring_model(restore={"mef": ["haze"]}, prompt_dropout=1.0).train()
    assert model.drop_prompts(["remove the haze", "dehaze it"]) == [None, None]
    model.eval()
    assert model.drop_prompts(["remove the haze", None]) == ["remove the haze", None]


def test_a_pile_at_the_extreme_says_the_contrast_stretch_is_exact(rng):
    """A scene that reached black keeps a pile of pixels at its lowest value through a contrast
    loss, and the stretch then undoes the loss exactly; a scene that did not has no pile, and the
    stretch leaves it flatter than it was (what the all-in-one models' gate is told)."""
    scene = 0.1 + 0.8 * smooth_image(rng, 96, 128)  # reaches neither black nor white
    shadowed = scene.copy()
    shadowed[:8] = 0.0  # a shadow: 1/12 of the frame at black
    for clean, exact in ((shadowed, True), (scene, False)):
        mean = clean.mean()
        flat = (mean + 0.5 * (clean - mean)).astype(np.float32)  # fusecli.degrade's low contrast, c = 0.5
        share = extreme_share(flat)
        error = np.abs(stretch(flat) - clean).max()
        if exact:
            assert share == pytest.approx(1 / 12) and error < 1e-5
        else:
            assert share < CONTRAST_QUANTILE and error > 0.02
    assert frame_stats(shadowed)["extreme"] == extreme_share(shadowed)


def test_tone_requests_are_read_from_every_sentence_that_makes_one():
    """Brightening and dehazing requests (their colours follow the tones: fusecli.imaging.color.tone_gain);
    a rain request that says "brighten the scene" or "dim" is not a low-exposure one."""
    from fusecli.restore import tone_requests

    for op in P.SENTENCES:
        expected = [op] if op in ("low_exposure", "haze") else []
        for text in P.SENTENCES[op] + P.CLAUSES[op]:
            assert tone_requests(text) == expected, text
    assert tone_requests("brighten the dark image and remove the fog") == ["low_exposure", "haze"]
    assert tone_requests(None) == [] == tone_requests("")
