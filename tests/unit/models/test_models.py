"""Architectures: shapes at odd sizes, value ranges, gradients, prompts, determinism."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from fusecli.models.autoencoder_arch import Autoencoder, AutoencoderConfig
from fusecli.models.base import FuseOptions
from fusecli.models.layers.dit import DiTBlock, WindowAttention
from fusecli.models.layers.moe import moe_losses
from fusecli.models.mmaif_arch import MMAIF, MMAIFConfig
from fusecli.models.moe_fusion_arch import MoEFusion, MoEFusionConfig
from fusecli.models.restorer_arch import Restorer, RestorerConfig
from fusecli.metrics.local import box_mask
from fusecli.models.saliency import saliency_prior
from fusecli.models.text_encoder_arch import TextEncoder, TextEncoderConfig
from conftest import staged
from fusecli.fusion.learned import fuse_network
from fusecli.restore.stage import ClassicalStage

H, W = 97, 131


def small_mmaif(variant):
    torch.manual_seed(0)
    cfg = MMAIFConfig(variant=variant, dim=32, depth=2, heads=2, window=4, adaln_rank=8, text=TextEncoderConfig(dim=32, layers=1, heads=2))
    model = MMAIF(cfg)
    for module in model.modules():  # leave the zero-init regime so every path matters
        if isinstance(module, nn.Linear) and module.weight.abs().sum() == 0:
            nn.init.normal_(module.weight, std=0.05)
    return model


@pytest.fixture
def frames():
    return torch.rand(2, 2, 1, H, W, generator=torch.Generator().manual_seed(0))


def test_moefusion_shapes_range_and_gates(frames):
    model = MoEFusion(MoEFusionConfig()).eval()
    with torch.no_grad():
        out = staged(model, frames, FuseOptions(task="vif"))
    assert out.image.shape == (2, 1, H, W) and out.image.dtype == torch.float32
    assert 0 <= float(out.image.min()) and float(out.image.max()) <= 1
    assert out.maps["foreground"].shape == (2, 1, H, W)
    assert out.maps["gates_global_moe"].shape == (2, 4)
    assert torch.allclose(out.maps["gates_global_moe"].sum(1), torch.ones(2))


def test_moefusion_gradients_reach_encoders_and_routed_experts(frames):
    torch.manual_seed(0)
    model = MoEFusion(MoEFusionConfig()).train()
    out = model(frames[:, 0], frames[:, 1], saliency_prior(frames[:, 0]))
    (out.mean() + moe_losses(model)).backward()
    assert model.encoders[0].c1[0].weight.grad.abs().sum() > 0
    assert model.encoders[1].c1[0].weight.grad.abs().sum() > 0
    routed = set(model.global_moe.stats.routing.indices.unique().tolist())
    for i, expert in enumerate(model.global_moe.experts):
        grad = expert.body[0][0].weight.grad
        assert (grad is not None and grad.abs().sum() > 0) == (i in routed)


def test_moefusion_stacks_and_vif_frame_count(frames):
    model = MoEFusion(MoEFusionConfig(shared_encoder=True)).eval()
    stack = torch.rand(1, 3, 1, 40, 48)
    with torch.no_grad():
        assert staged(model, stack, FuseOptions(task="mef")).image.shape == (1, 1, 40, 48)
    with pytest.raises(ValueError, match="exactly 2"):
        staged(model, stack, FuseOptions(task="vif"))


def test_foreground_from_boxes_and_saliency():
    mask = box_mask((10, 12), [(2, 3, 6, 8)])
    assert mask.sum() == 4 * 5 and mask[3, 2] == 1 and mask[8, 6] == 0
    ir = torch.zeros(1, 1, 80, 80)
    ir[..., 30:40, 30:40] = 0.8  # a warm object
    prior = saliency_prior(ir)
    assert prior[0, 0, 35, 35] > 0.9 and prior[0, 0, 5, 5] == 0


def test_moefusion_half_resolution_variant(frames):
    """``downscale = 2``: the layers see 2x2 space-to-depth phases (4 input channels, half the
    size), the output is shuffled back to full size; odd sizes are padded and cropped."""
    model = MoEFusion(MoEFusionConfig(channels=4, local_hidden=4, global_widths=(8, 4), global_first_kernel=1, downscale=2)).eval()
    assert model.multiple == 2 and model.encoders[0].c1[0].in_channels == 4
    seen = []
    hook = model.encoders[0].register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].shape))
    with torch.no_grad():
        out = fuse_network(model, frames, FuseOptions(task="vif"))
    hook.remove()
    assert seen[0][-2:] == ((H + 1) // 2, (W + 1) // 2)
    assert out.image.shape == (2, 1, H, W) and 0 <= float(out.image.min()) and float(out.image.max()) <= 1
    assert out.maps["experts"].shape == (2, 8, H, W)
    with pytest.raises(ValueError, match="downscale"):
        MoEFusion(MoEFusionConfig(downscale=0))


@pytest.mark.parametrize("variant", ["regression", "flow"])
def test_mmaif_any_size_range_and_routing_map(frames, variant):
    model = small_mmaif(variant).eval()
    opts = FuseOptions(task="vif", prompt="remove the rain", steps=2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = fuse_network(model, frames, opts)
    assert out.image.shape == (2, 1, H, W)
    assert 0 <= float(out.image.min()) and float(out.image.max()) <= 1
    assert out.maps["experts"].max() < model.config.routed_experts


def test_mmaif_stack_lengths_tasks_and_prompts():
    model = small_mmaif("regression").eval()
    torch.manual_seed(1)
    stack = torch.rand(1, 5, 1, 32, 32)
    with torch.no_grad():
        mef = staged(model, stack, FuseOptions(task="mef")).image
        mff = staged(model, stack, FuseOptions(task="mff")).image
        a = staged(model, stack, FuseOptions(task="mef", prompt="remove the rain")).image
        b = staged(model, stack, FuseOptions(task="mef", prompt="remove the noise")).image
        again = staged(model, stack, FuseOptions(task="mef", prompt="remove the rain")).image
    assert mef.shape == (1, 1, 32, 32)
    assert not torch.allclose(mef, mff)  # the task embedding matters
    assert not torch.allclose(a, b) and torch.equal(a, again)  # prompts matter, deterministically
    with pytest.raises(ValueError, match="exactly 2"):
        staged(model, stack, FuseOptions(task="vif"))
    with pytest.raises(ValueError, match="multiple"):
        staged(model, torch.rand(1, 2, 1, 30, 30), FuseOptions(task="vif"))


BASES = {"vif": "pyramid-vif", "mef": "exposure-fusion", "mff": "focus-fusion"}


def small_regression(seed: int, **config) -> MMAIF:
    """A small regression model as built (zero head, zero base input), with ``config`` set."""
    torch.manual_seed(seed)
    return MMAIF(MMAIFConfig(variant="regression", dim=32, depth=2, heads=2, window=4, adaln_rank=8,
                             text=TextEncoderConfig(dim=32, layers=1, heads=2), **config))


def test_mmaif_classical_base_is_the_residual_start_and_an_input():
    from fusecli.methods import fuse_frames

    model = small_regression(2, base=BASES).eval()
    stack = torch.rand(2, 3, 1, 32, 32)
    base = ClassicalStage.of(model).fuse_base(stack, "mef")
    expected = fuse_frames("exposure-fusion", list(stack[1, :, 0].numpy()))
    np.testing.assert_allclose(base[1, 0].numpy(), expected, atol=1e-6)
    with torch.no_grad():  # zero head, zero base input: the output is the decoded base exactly
        out = staged(model, stack, FuseOptions(task="mef")).image
        decoded = model.autoencoder.decode(model.autoencoder.encode(base)).clamp(0, 1)
        torch.testing.assert_close(out, decoded)
        nn.init.normal_(model.base_proj.weight, std=0.1)
        nn.init.normal_(model.head.weight, std=0.05)
        latents = model.encode_sources(stack)
        cond = model.condition(["mef"] * 2, [None, None])
        with_base = model.predict(latents, [2, 2, 2], cond, base=model.autoencoder.encode(base))
        shifted = model.predict(latents, [2, 2, 2], cond, base=model.autoencoder.encode(base) + 0.5)
    # the base enters twice: as the residual start (+0.5 everywhere) and through base_proj (more)
    assert not torch.allclose(shifted - with_base, torch.full_like(with_base, 0.5), atol=1e-4)
    with pytest.raises(ValueError, match="prediction must be"):
        MMAIF(MMAIFConfig(variant="flow", base=BASES, prediction="noise"))
    with pytest.raises(ValueError, match="start_noise"):
        MMAIF(MMAIFConfig(variant="flow", base=BASES, start_noise=0.0))
    with pytest.raises(ValueError, match="unknown task"):
        MMAIF(MMAIFConfig(variant="regression", base={"hdr": "exposure-fusion"}))
    with pytest.raises(ValueError, match="unknown fusion method"):
        MMAIF(MMAIFConfig(variant="regression", base={"mef": "no-such-method"}))


def test_restorer_keeps_any_size_and_range_and_is_local():
    torch.manual_seed(0)
    model = Restorer(RestorerConfig(width=8, depth=3))
    x = torch.rand(2, 1, 33, 47)
    out = model(x)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1 and not torch.allclose(out, x)
    # local: a pixel far from a change does not move (the receptive field is bounded)
    changed = x.clone()
    changed[..., :4, :4] = 0.0
    far = model.receptive_radius + 4
    torch.testing.assert_close(model(changed)[..., far:, far:], out[..., far:, far:])
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.rand(1, 3, 16, 16))


def test_restorer_in_tiles_equals_one_run():
    """Tiles with the receptive radius of context, stitched, are the whole frame's restoration,
    odd sides and a tile grid that does not divide them included."""
    torch.manual_seed(0)
    model = Restorer(RestorerConfig(width=8, depth=3))
    with torch.no_grad():
        for size in ((61, 47), (64, 50)):
            x = torch.rand(1, 1, *size)
            torch.testing.assert_close(model.restore_in_tiles(x, tile=16), model(x), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="even"):
        model.restore_in_tiles(x, tile=15)


def test_learned_restore_replaces_the_classical_one_in_the_base_in_restoration_order():
    from fusecli.methods import fuse_frames
    from fusecli.restore import restore

    restorer = RestorerConfig(width=8, depth=3, ops=["jpeg", "downsample"])
    model = small_regression(3, base=BASES, restore={"mef": ["gaussian_noise", "jpeg"]}, learned_restore=["jpeg"], restorer=restorer).eval()
    nn.init.normal_(model.restorer.body[-1].weight, std=0.1)
    stack = torch.rand(1, 2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    frames = list(stack[0, :, 0].numpy())

    def learned(arrays):
        with torch.no_grad():
            return list(model.restorer(torch.from_numpy(np.stack(arrays)[:, None]))[:, 0].numpy())

    def base(prompt):
        return ClassicalStage.of(model).fuse_base(stack, "mef", prompts=[prompt])[0, 0].numpy()

    np.testing.assert_allclose(base(None), fuse_frames("exposure-fusion", frames), atol=1e-6)
    np.testing.assert_allclose(base("remove the jpeg blocking"), fuse_frames("exposure-fusion", learned(frames)), atol=1e-5)
    # noise is restored classically first (the restorations' order), then the learned JPEG step
    denoised = [restore(f, ["gaussian_noise"]) for f in frames]
    np.testing.assert_allclose(base("remove the noise and the jpeg blocks"), fuse_frames("exposure-fusion", learned(denoised)), atol=1e-5)
    with pytest.raises(ValueError, match="not trained for haze"):
        small_regression(0, base=BASES, restore={"mef": ["haze"]}, learned_restore=["haze"])
    with pytest.raises(ValueError, match="needs restore"):
        small_regression(0, base=BASES, learned_restore=["jpeg"])


def test_learned_low_resolution_restoration_runs_on_the_frames_that_look_up_sampled_only():
    """A VIF prompt that names low resolution does not say which frame: the restorer sharpens
    the up-sampled one and leaves the detailed one alone (it would change it too); with JPEG also
    named, every frame goes through it."""
    from fusecli.degrade.camera import downsample
    from fusecli.methods import fuse_frames
    from fusecli.restore import restoration_stats
    from conftest import pink_noise

    restorer = RestorerConfig(width=8, depth=3, ops=["jpeg", "downsample"])
    model = small_regression(3, base=BASES, restore={"vif": ["jpeg", "downsample"]}, learned_restore=["jpeg", "downsample"], restorer=restorer).eval()
    nn.init.normal_(model.restorer.body[-1].weight, std=0.1)
    detailed = pink_noise(0, 64, 64)
    shrunk = downsample(pink_noise(1, 64, 64), np.random.default_rng(0), {"scale": 3.0, "interpolation": "area"})
    stack = torch.from_numpy(np.stack([detailed, shrunk]))[None, :, None]

    def learned(arrays):
        with torch.no_grad():
            return list(model.restorer(torch.from_numpy(np.stack(arrays)[:, None]))[:, 0].numpy())

    def base(prompt):
        return ClassicalStage.of(model).fuse_base(stack, "vif", prompts=[prompt])[0, 0].numpy()

    only_shrunk = [detailed, learned([shrunk])[0]]
    np.testing.assert_allclose(base("the visible image is low resolution"), fuse_frames("pyramid-vif", only_shrunk), atol=1e-5)
    assert np.abs(base("the visible image is low resolution") - fuse_frames("pyramid-vif", learned([detailed, shrunk]))).max() > 1e-3
    np.testing.assert_allclose(base("fix the low resolution and the jpeg blocks"), fuse_frames("pyramid-vif", learned([detailed, shrunk])), atol=1e-5)
    # whole-image statistics decide for a tile: the shrunk frame said to be detailed stays as it is
    stats = [[{"downsample": {"upsampling": 0.0}}, {"downsample": {"upsampling": 0.0}}]]
    kept = ClassicalStage.of(model).fuse_base(stack, "vif", prompts=["the visible image is low resolution"], stats=stats)[0, 0].numpy()
    np.testing.assert_allclose(kept, fuse_frames("pyramid-vif", [detailed, shrunk]), atol=1e-5)
    # and the run's notes say which frames it ran on
    measured = [restoration_stats(f, ["downsample"]) for f in (detailed, shrunk)]
    assert ClassicalStage.of(model).describe("vif", "low resolution", measured) == ["downsample (learned restorer; on frame 2 of 2, which looks up-sampled)"]
    assert ClassicalStage.of(model).describe("vif", "low resolution", stats[0]) == ["downsample (learned restorer; no frame looks up-sampled: none restored)"]
    assert ClassicalStage.of(model).describe("vif", "low resolution and jpeg blocks", measured) == ["jpeg (learned restorer)", "downsample (learned restorer)"]
    assert ClassicalStage.of(model).describe("vif", "low resolution", [{}, {}]) == ["downsample (learned restorer)"]  # not scored: not said


def small_flow_on_base(seed: int, **config) -> MMAIF:
    torch.manual_seed(seed)
    return MMAIF(MMAIFConfig(variant="flow", prediction="target", start_noise=0.5, base=BASES, detail=True, dim=32, depth=2, heads=2,
                             window=4, adaln_rank=8, text=TextEncoderConfig(dim=32, layers=1, heads=2), **config))


def test_flow_on_a_base_starts_as_the_regression_it_is_fine_tuned_from():
    """Loaded from a regression file, the flow's new parts (state input, timestep) start at
    zero, so every sample is the regression's output whatever the noise; trained, it is not."""
    regression = small_regression(6, base=BASES, detail=True).eval()
    nn.init.normal_(regression.head.weight, std=0.05)
    flow = small_flow_on_base(7).eval()
    missing, unexpected = flow.load_state_dict(regression.state_dict(), strict=False)
    assert unexpected == [] and {key.split(".")[0] for key in missing} == {"state_proj", "time"}
    stack = torch.rand(1, 3, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = staged(regression, stack, FuseOptions(task="mef", prompt="remove the noise")).image
        for seed in (0, 1):
            options = FuseOptions(task="mef", prompt="remove the noise", steps=4, gamma=1.0, generator=torch.Generator().manual_seed(seed))
            torch.testing.assert_close(staged(flow, stack, options).image, expected, atol=1e-5, rtol=0)
        nn.init.normal_(flow.state_proj.weight, std=0.1)  # the state now matters: samples differ by seed
        samples = [staged(flow, stack, FuseOptions(task="mef", steps=4, generator=torch.Generator().manual_seed(seed))).image for seed in (0, 1)]
    assert (samples[0] - samples[1]).abs().max() > 1e-3


def test_flow_target_prediction_is_trained_on_the_latent_from_a_start_near_the_base():
    from fusecli.train.data import Batch
    from fusecli.train.objectives import MMAIFObjective

    model = small_flow_on_base(8).train()
    nn.init.normal_(model.head.weight, std=0.05)
    clean = torch.rand(2, 2, 1, 32, 32)
    target = ClassicalStage.of(model).fuse_base(clean, "mef")
    terms = MMAIFObjective(model)(Batch("mef", clean, clean, target, [None, None]))
    assert "latent" in terms and "velocity" not in terms
    terms["latent"].backward()
    assert model.state_proj.weight.grad.abs().sum() > 0 and model.base_proj.weight.grad.abs().sum() > 0
    state = torch.randn(2, 8, 8, 8)
    prediction = torch.randn(2, 8, 8, 8)
    velocity = model.velocity_of(prediction, state, torch.tensor([0.0, 0.75]))
    torch.testing.assert_close(velocity[1], (prediction[1] - state[1]) * 4)  # (Z1 - Z_t) / (1 - t)


def test_mmaif_detail_gate_passes_the_bases_lost_detail():
    model = small_regression(4, base=BASES, detail=True).eval()
    stack = torch.rand(1, 2, 1, 32, 32)
    base = ClassicalStage.of(model).fuse_base(stack, "mff")
    decoded = model.autoencoder.decode(model.autoencoder.encode(base))
    assert (base - decoded).abs().max() > 0.05  # an untrained autoencoder loses detail
    with torch.no_grad():
        nn.init.constant_(model.detail_gate.proj.bias, 30.0)  # gate open: the base itself comes out
        torch.testing.assert_close(staged(model, stack, FuseOptions(task="mff")).image, base.clamp(0, 1), atol=1e-5, rtol=0)
        nn.init.constant_(model.detail_gate.proj.bias, -30.0)  # gate shut: its reconstruction
        torch.testing.assert_close(staged(model, stack, FuseOptions(task="mff")).image, decoded.clamp(0, 1), atol=1e-5, rtol=0)
        nn.init.normal_(model.detail_gate.proj.weight, std=1.0)  # per-token gate from the network's tokens
        staged(model, stack, FuseOptions(task="mff"))
        gate = model.detail_gate.value
    assert gate.shape == (1, 1, 4, 4) and 0 <= float(gate.min()) and float(gate.max()) <= 1
    with pytest.raises(ValueError, match="needs a base"):
        MMAIF(MMAIFConfig(variant="regression", detail=True))


def test_mmaif_correction_gate_keeps_a_share_of_the_change_to_the_base():
    """``correction_gate``: shut, the output is the classical base itself; open, the model's own
    output; in between, the blend; it learns from the condition (the prompt) per image."""
    gated = small_regression(4, base=BASES, detail=True, correction_gate=True).eval()
    plain = small_regression(4, base=BASES, detail=True).eval()
    missing, unexpected = plain.load_state_dict(gated.state_dict(), strict=False)
    assert missing == [] and {k.split(".")[0] for k in unexpected} == {"correction_gate"}
    nn.init.normal_(gated.head.weight, std=0.05)
    plain.head.weight.data.copy_(gated.head.weight.data)
    stack = torch.rand(2, 2, 1, 32, 32, generator=torch.Generator().manual_seed(5))
    base = ClassicalStage.of(gated).fuse_base(stack, "mff")
    options = FuseOptions(task="mff", prompt="fix the contrast")
    with torch.no_grad():
        own = staged(plain, stack, options).image
        assert (own - base).abs().max() > 0.01
        nn.init.constant_(gated.correction_gate.proj.bias, 30.0)
        torch.testing.assert_close(staged(gated, stack, options).image, own, atol=1e-5, rtol=0)
        nn.init.constant_(gated.correction_gate.proj.bias, -30.0)
        torch.testing.assert_close(staged(gated, stack, options).image, base.clamp(0, 1), atol=1e-5, rtol=0)
        nn.init.constant_(gated.correction_gate.proj.bias, 0.0)
        torch.testing.assert_close(staged(gated, stack, options).image, (0.5 * (base + own)).clamp(0, 1), atol=1e-4, rtol=0)
    gated.train()
    from fusecli.train.data import Batch
    from fusecli.train.objectives import MMAIFObjective

    terms = MMAIFObjective(gated)(Batch("mff", stack, stack, base, ["fix the contrast", None]))
    terms["target_l1"].backward()
    assert gated.correction_gate.proj.weight.grad.abs().sum() > 0  # trained by the pixel terms
    assert gated.correction_gate.value.shape == (2, 1, 1, 1)
    # its initial logit: 5 (nearly open) unless configured, e.g. half open for a gate trained alone
    assert small_regression(4, base=BASES, correction_gate=True).correction_gate.proj.bias.item() == 5.0
    half = small_regression(4, base=BASES, detail=True, correction_gate=True, correction_gate_bias=0.0).eval()
    half.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        torch.testing.assert_close(staged(half, stack, options).image, (0.5 * (base + own)).clamp(0, 1), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="needs a base"):
        MMAIF(MMAIFConfig(variant="regression", correction_gate=True))


def test_mmaif_correction_gate_reads_the_degradations_the_prompt_names():
    """The classical stage tells the gate 0/1 per degradation of PROMPT_PATTERNS that the prompt
    names, so one weight can shut it for contrast prompts and leave it open for noise ones."""
    from fusecli.restore import PROMPT_PATTERNS
    from fusecli.restore.stage import evidence

    named = small_regression(4, base=BASES, correction_gate=True).eval()
    assert named.correction_gate.proj.in_features == 2 * named.config.dim + len(PROMPT_PATTERNS)
    assert evidence(["fix the contrast and the noise", None]).tolist() == [
        [float(op in ("gaussian_noise", "low_contrast")) for op in PROMPT_PATTERNS], [0.0] * len(PROMPT_PATTERNS)]
    nn.init.normal_(named.head.weight, std=0.05)
    stack = torch.rand(1, 2, 1, 32, 32, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        nn.init.constant_(named.correction_gate.proj.bias, 30.0)  # open, unless a named weight says otherwise
        named.correction_gate.proj.weight[0, -len(PROMPT_PATTERNS) + list(PROMPT_PATTERNS).index("low_contrast")] = -60.0
        noise = FuseOptions(task="mff", prompt="remove the noise")
        contrast = FuseOptions(task="mff", prompt="fix the contrast")
        assert staged(named, stack, noise).image.sub(ClassicalStage.of(named).fuse_base(stack, "mff", prompts=["remove the noise"])).abs().max() > 0.01
        torch.testing.assert_close(staged(named, stack, contrast).image, ClassicalStage.of(named).fuse_base(stack, "mff", prompts=["fix the contrast"]).clamp(0, 1), atol=1e-5, rtol=0)


def test_mmaif_correction_gate_can_return_the_base_exactly():
    """The gate is clamp(0.5 + logit / 4, 0, 1): half open at 0, and it shuts exactly, so the
    classical base comes out bit for bit; the network refuses to run without the stage's evidence."""
    hard = small_regression(4, base=BASES, detail=True, correction_gate=True, correction_gate_bias=-8.0).eval()
    nn.init.normal_(hard.head.weight, std=0.05)
    stack = torch.rand(1, 2, 1, 32, 32, generator=torch.Generator().manual_seed(7))
    options = FuseOptions(task="mff", prompt="fix the contrast")
    with torch.no_grad():
        base = ClassicalStage.of(hard).fuse_base(stack, "mff", prompts=[options.prompt]).clamp(0, 1)
        assert torch.equal(staged(hard, stack, options).image, base) and float(hard.correction_gate.value) == 0.0
        nn.init.constant_(hard.correction_gate.proj.bias, 1.0)
        staged(hard, stack, options)
        assert float(hard.correction_gate.value) == pytest.approx(0.75)
        nn.init.constant_(hard.correction_gate.proj.bias, 3.0)
        staged(hard, stack, options)
        assert float(hard.correction_gate.value) == 1.0
        with pytest.raises(ValueError, match="classical stage"):
            hard.fuse(stack, options)  # no base, no evidence: the stage did not run
        with pytest.raises(ValueError, match="evidence"):
            hard.fuse(stack, dataclasses.replace(options, base=base))


def test_padding_keeps_the_classical_base_the_unpadded_fusion():
    """A 63-row image is padded to 64 rows, which would add a pyramid level to the base (and
    change the whole fusion), and a fusion of the padded frames differs along the padded border;
    the base is the unpadded image's fusion, edge-padded (with the detail gate open and no
    correction, the output is that fusion exactly)."""
    from fusecli.methods.exposure import exposure_fusion
    from fusecli.methods import exposure_levels, fuse_frames

    model = small_regression(4, base=BASES, detail=True).eval()
    with torch.no_grad():
        nn.init.constant_(model.detail_gate.proj.bias, 30.0)  # gate open: the output is the base exactly
        stack = torch.rand(1, 2, 1, 63, 64, generator=torch.Generator().manual_seed(1))
        out = fuse_network(model, stack, FuseOptions(task="mef")).image[0, 0].numpy()
    assert (exposure_levels((63, 64)), exposure_levels((64, 64))) == (4, 5)
    frames = [f[0].numpy() for f in stack[0]]
    np.testing.assert_allclose(out, fuse_frames("exposure-fusion", frames), atol=1e-5)
    padded = [np.pad(f, ((0, 1), (0, 0)), mode="edge") for f in frames]
    assert np.abs(out - fuse_frames("exposure-fusion", padded)[:63]).max() > 0.01  # what the padded size alone would give
    assert np.abs(out - exposure_fusion(padded, levels=4)[:63]).max() > 1e-3  # the padded frames' fusion


def test_training_objective_learns_the_detail_gate():
    from fusecli.train.data import Batch
    from fusecli.train.losses import weighted_sum
    from fusecli.train.objectives import MMAIFObjective

    model = small_regression(5, base=BASES, detail=True).train()
    nn.init.normal_(model.head.weight, std=0.05)
    clean = torch.rand(2, 2, 1, 32, 32)
    noisy = (clean + 0.1 * torch.randn_like(clean)).clamp(0, 1)
    target = ClassicalStage.of(model).fuse_base(clean, "mef")
    terms = MMAIFObjective(model)(Batch("mef", noisy, clean, target, [None, "remove the noise"]))
    loss, _ = weighted_sum(terms, {"latent": 1.0, "target_l1": 1.0, "gradient": 1.0})
    loss.backward()
    assert model.detail_gate.proj.weight.grad.abs().sum() > 0 and model.base_proj.weight.grad.abs().sum() > 0


def test_mmaif_without_a_base_for_a_task_uses_the_mean_latent():
    model = small_regression(3, base={"mef": "exposure-fusion"}).eval()
    pair = torch.rand(1, 2, 1, 32, 32)
    assert ClassicalStage.of(model).fuse_base(pair, "vif") is None
    with torch.no_grad():
        out = staged(model, pair, FuseOptions(task="vif")).image
        mean = model.autoencoder.decode(model.encode_sources(pair).mean(1)).clamp(0, 1)
    torch.testing.assert_close(out, mean)


def test_mmaif_flow_sampling_is_seeded():
    model = small_mmaif("flow").eval()
    x = torch.rand(1, 2, 1, 32, 32)

    def sample(seed, sampler="sde"):
        with torch.no_grad():
            return staged(model, x, FuseOptions(task="vif", steps=3, sampler=sampler, gamma=1.0, generator=torch.Generator().manual_seed(seed))).image

    assert torch.equal(sample(0), sample(0)) and not torch.equal(sample(0), sample(1))
    assert not torch.equal(sample(0), sample(0, "ode"))


def test_mmaif_gradients_reach_text_encoder_and_experts():
    model = small_mmaif("flow").train()
    model.config.prompt_dropout = 0.0
    x = torch.rand(2, 2, 1, 32, 32)
    latents = model.encode_sources(x)
    cond = model.condition(["vif", "mef"], ["remove the haze", None]) + model.time_embedding(torch.tensor([0.3, 0.7]))
    v = model.predict(latents, [0, 1], cond, torch.randn_like(latents[:, 0]))
    (v.square().mean() + 0.01 * moe_losses(model)).backward()
    assert model.text.embed.weight.grad.abs().sum() > 0
    assert model.text.null.grad.abs().sum() > 0  # the prompt-less row used the null embedding
    for block in model.blocks:
        routed = set(block.ffn.stats.routing.indices.unique().tolist())
        for i, expert in enumerate(block.ffn.experts):
            grad = expert.w1.weight.grad
            assert (grad is not None and grad.abs().sum() > 0) == (i in routed)


def test_text_encoder_tokens_null_and_hashing():
    enc = TextEncoder(TextEncoderConfig(dim=16, layers=1, heads=2)).eval()
    tok = enc.tokenizer
    known = tok.encode("remove the rain")
    assert all(1 <= i <= len(tok.ids) for i in known)
    unknown = tok.encode("zyzzyva")
    assert unknown == tok.encode("ZYZZYVA") and unknown[0] > len(tok.ids)
    with torch.no_grad():
        out = enc(["remove the rain", "", None, "remove the rain"])
    assert torch.equal(out[1], enc.null) and torch.equal(out[2], enc.null)
    assert not torch.equal(out[0], enc.null) and torch.allclose(out[0], out[3])


def test_autoencoder_shapes():
    ae = Autoencoder(AutoencoderConfig(widths=(8, 16, 16), latent_channels=4))
    x = torch.rand(2, 1, 64, 48)
    z = ae.encode(x)
    assert z.shape == (2, 4, 8, 6) and ae.factor == 8
    assert ae.decode(z).shape == x.shape


def test_window_attention_equals_full_attention_when_one_window_covers_the_grid():
    torch.manual_seed(0)
    attn = WindowAttention(16, 2, window=32, shift=False)
    x = torch.randn(1, 7, 9, 16)  # one padded 9x9 window; the padding must be masked out
    out, _ = attn(x, None)
    q, k, v = attn.qkv(x.view(1, 63, 16)).chunk(3, dim=-1)
    heads = [t.view(1, 63, 2, 8).transpose(1, 2) for t in (q, k, v)]
    full = torch.nn.functional.scaled_dot_product_attention(*heads).transpose(1, 2).reshape(1, 63, 16)
    assert torch.allclose(out, attn.proj(full).view(1, 7, 9, 16), atol=1e-5)


def test_dit_block_odd_grid_with_shift():
    block = DiTBlock(16, 2, window=4, shift=True, mlp_ratio=2, routed=4, shared=1, top_k=2, adaln_rank=4)
    x = torch.randn(2, 13, 17, 16)
    y, values = block(x, torch.randn(2, 16), None)
    assert y.shape == x.shape and values.shape == x.shape
    assert torch.equal(y, x)  # adaLN-Zero: a fresh block is the identity


def test_text_encoder_learns_new_words_without_changing_any_other_prompt(tmp_path):
    """add_words gives new words ids of their own, starting at the hashed embedding they had: every
    prompt encodes as before, the words survive a save and load, and they no longer share ids."""
    from fusecli.models.text_encoder_arch import TextEncoder, TextEncoderConfig

    torch.manual_seed(0)
    encoder = TextEncoder(TextEncoderConfig(dim=16, layers=1, heads=2)).eval()
    prompts = ["Remove the haze.", "it came out shadowy, brighten it up", "qwerty", None, ""]
    with torch.no_grad():
        before = encoder(prompts)
        assert encoder.add_words(["shadowy", "brighten", "qwerty", "shadowy"]) == 2  # "brighten" is known already
        assert torch.equal(encoder(prompts), before)
        assert encoder.add_words(["shadowy"]) == 0
    ids = encoder.tokenizer.ids
    assert encoder.config.extra_words == ("shadowy", "qwerty") and ids["qwerty"] == ids["shadowy"] + 1
    assert encoder.tokenizer.size == encoder.embed.num_embeddings
    copy = TextEncoder(encoder.config).eval()
    copy.load_state_dict(encoder.state_dict())
    with torch.no_grad():
        assert torch.equal(copy(prompts), before)
