"""The all-in-one fusion model: an MMAIF-style MoE diffusion transformer in a learned latent space.

One network fuses VIF, MEF and MFF from degraded inputs, optionally guided by a prompt:

* each source frame ``(B, 1, H, W)`` is encoded by the project's :class:`Autoencoder`;
* the source latents are patchified by a shared projection plus a role embedding (infrared,
  visible, or a frame of a stack), reduced over the frames with mean and max (so any stack
  length works) and concatenated by channel with the flow state ``Z_t`` (flow variant);
* :class:`DiTBlock` s (conv block, windowed attention with value residual, MoE-GLU with
  routed + shared experts) run on the token grid, conditioned by low-rank AdaLN on
  timestep + task + prompt embeddings;
* the head maps tokens back to a latent, decoded to pixels.

``variant="regression"`` predicts the fused latent directly, no timestep, as a residual on a
base latent: the mean source latent, or (``base = {task: method}``) the latent of a
training-free fusion of the input frames, which the network also sees as an input. With that
base the network only has to learn what the classical method gets wrong on degraded inputs
(restoration, global exposure), not re-learn the fusion itself; with ``detail = True`` the
base's fine detail that the ×4 autoencoder cannot hold is added back through a learned per-token
gate (open for clean detail, shut for noise); with ``correction_gate = True`` a per-image gate
weighs the network's whole change to the base, so a base that is already right can be kept.
The base comes from the model's classical stage (:mod:`fusecli.restore.stage`), which runs
before the network: it restores the frames for what the prompt names (``restore``; JPEG and low
resolution through the learned :class:`~fusecli.models.restorer_arch.Restorer`, a frozen
submodule, under ``learned_restore``) and fuses them with the ``base`` method; the network gets
that base and, for its correction gate, which degradations the prompt names (``evidence``).
``variant="flow"`` learns the flow
``Z_t = t Z1 + (1 - t) Z0`` and is sampled with :func:`fusecli.sampling.sample_flow`; it predicts
the velocity ``v = Z1 - Z0`` or (``prediction = "target"``) ``Z1`` itself, as the same residual
on the base as regression, from which ``v = (Z1 - Z_t) / (1 - t)``. With a base, the flow starts
near it, ``Z0 = base + start_noise * N(0, I)`` (a bridge from the classical fusion), so sampling
only has to carry that fusion to the restored one.
Cost per step: ``O(H W / (f p)^2 * window^2 * dim)`` for ``f``x autoencoder downsampling and
``p``x patches, linear in image area.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusecli.sampling.flow import sample_flow
from fusecli.models.autoencoder_arch import Autoencoder, AutoencoderConfig
from fusecli.models.restorer_arch import Restorer, RestorerConfig
from fusecli.catalog import TASKS, entries, is_training_free
from fusecli.models.base import FuseOptions, FusionModel, FusionResult, check_frames
from fusecli.models.layers.dit import DiTBlock, LowRankAdaLN, modulate, sinusoidal_embedding
from fusecli.models.text_encoder_arch import TextEncoder, TextEncoderConfig

ROLES = {"infrared": 0, "visible": 1, "frame": 2}


@dataclass
class MMAIFConfig:
    variant: str = "flow"  # "flow" | "regression"
    dim: int = 96
    depth: int = 4
    heads: int = 4
    window: int = 8
    patch: int = 2
    mlp_ratio: float = 2.0
    routed_experts: int = 4
    shared_experts: int = 1
    top_k: int = 2
    adaln_rank: int = 32
    prompt_dropout: float = 0.2
    # flow only: what the network predicts, "velocity" (Z1 - Z0) or "target" (Z1, as a residual on the base)
    prediction: str = "velocity"
    # flow only: std of the start Z0 around its centre (the base latent, or 0 without a base)
    start_noise: float = 1.0
    # task -> training-free method whose fusion of the inputs is the residual base (and, for the
    # flow variant, the centre of its start)
    base: dict[str, str] = field(default_factory=dict)
    # with a base: add back the base's fine detail the autoencoder cannot hold, per token by a learned gate
    detail: bool = False
    # with a base: a per-image gate in 0..1 on the network's whole change to the base (output =
    # base + g (network - base)), from the prompt and the tokens, so it can leave a base alone
    # that is already right (a flat frame stretched back exactly) instead of adding a typical correction
    correction_gate: bool = False
    # its initial logit (5: nearly open, so adding it to a trained model changes nothing); a gate
    # trained on its own from a re-set start wants a lower one (0: half open), where its
    # hard sigmoid clamp(0.5 + logit / 4, 0, 1) is not saturated
    correction_gate_bias: float = 5.0
    # width of the gate's evidence: one column per degradation the prompt can name
    # (fusecli.restore.stage.evidence)
    gate_evidence: int = 6
    # with a base: task -> degradations whose classical restoration (fusecli.restore) is applied to
    # the frames before the base's fusion when the prompt names them ("remove the haze")
    restore: dict[str, list[str]] = field(default_factory=dict)
    # of those, the degradations the learned full-resolution restorer (fusecli.models.restorer_arch)
    # undoes instead of the classical restoration (a submodule, trained on its own: init.restorer)
    learned_restore: list[str] = field(default_factory=list)
    restorer: RestorerConfig = field(default_factory=RestorerConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)


def source_roles(task: str, n: int) -> list[int]:
    """Role ids of the frames: VIF is (infrared, visible); MEF/MFF frames are interchangeable."""
    if task == "vif":
        if n != 2:
            raise ValueError(f"VIF fuses exactly 2 frames (infrared, visible), got {n}")
        return [ROLES["infrared"], ROLES["visible"]]
    return [ROLES["frame"]] * n


class DetailGate(nn.Module):
    """Per-token gate in 0..1 for the base's fine detail; starts nearly open (bias 3, weights 0).
    ``value`` holds the last forward's gate, ``(B, 1, h, w)`` on the token grid."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.constant_(self.proj.bias, 3.0)
        self.value: Tensor | None = None

    def forward(self, tokens: Tensor) -> Tensor:
        """``(B, h, w, D)`` tokens -> gate ``(B, 1, h, w)``."""
        self.value = torch.sigmoid(self.proj(tokens)).permute(0, 3, 1, 2)
        return self.value


class CorrectionGate(nn.Module):
    """Per-image share in 0..1 of the network's change to its classical base that is kept, from
    the condition, the mean token and the evidence (which degradations the prompt names). A hard
    sigmoid ``clamp(0.5 + logit / 4, 0, 1)`` that can shut exactly: a base that is exactly right
    (a flat frame stretched back) is returned as it is. Starts nearly open (bias 5, weights 0), so
    a fine-tune that adds it begins where the loaded model left off (``bias``: another initial
    logit). ``value`` holds the last forward's, ``(B, 1, 1, 1)``."""

    def __init__(self, dim: int, evidence: int, bias: float = 5.0) -> None:
        super().__init__()
        self.evidence = evidence
        self.proj = nn.Linear(2 * dim + evidence, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.constant_(self.proj.bias, bias)
        self.value: Tensor | None = None

    def forward(self, tokens: Tensor, cond: Tensor, evidence: Tensor) -> Tensor:
        """``(B, h, w, D)`` tokens, ``(B, D)`` condition and ``(B, K)`` evidence -> gate ``(B, 1, 1, 1)``.
        Tokens and condition are layer-normalised: the residual stream's token mean has norms in
        the hundreds, on which a raw linear gate saturates within a few steps."""
        b, d = cond.shape
        if evidence.shape != (b, self.evidence):
            raise ValueError(f"expected gate evidence of shape ({b}, {self.evidence}), got {tuple(evidence.shape)}")
        features = torch.cat([F.layer_norm(tokens.mean((1, 2)), (d,)), F.layer_norm(cond, (d,)), evidence.to(cond.dtype)], dim=-1)
        self.value = (0.5 + self.proj(features) / 4).clamp(0, 1)[:, :, None, None]
        return self.value


class MMAIF(FusionModel):
    arch = "mmaif"
    config_class = MMAIFConfig
    takes_prompt = True

    def __init__(self, config: MMAIFConfig) -> None:
        super().__init__(config)
        if config.variant not in ("flow", "regression"):
            raise ValueError(f"variant must be 'flow' or 'regression', got {config.variant!r}")
        if config.prediction not in ("velocity", "target"):
            raise ValueError(f"prediction must be 'velocity' or 'target', got {config.prediction!r}")
        if config.start_noise <= 0:
            raise ValueError(f"start_noise must be > 0, got {config.start_noise}")
        unknown = sorted(set(config.base) - set(TASKS))
        if unknown:
            raise ValueError(f"base: unknown task(s) {', '.join(unknown)}; tasks are {', '.join(TASKS)}")
        if config.detail and not config.base:
            raise ValueError("detail passes the classical base's fine detail through; it needs a base")
        if config.correction_gate and not config.base:
            raise ValueError("correction_gate weighs the change to the classical base; it needs a base")
        if config.restore and not config.base:
            raise ValueError("restore cleans the frames of the classical base; it needs a base")
        for task in config.restore:
            if task not in TASKS:
                raise ValueError(f"restore: unknown task {task!r}; tasks are {', '.join(TASKS)}")
        untrained = sorted(set(config.learned_restore) - set(config.restorer.ops))
        if untrained:
            raise ValueError(f"learned_restore: the restorer is not trained for {', '.join(untrained)} (restorer.ops: {', '.join(config.restorer.ops)})")
        if config.learned_restore and not config.restore:
            raise ValueError("learned_restore replaces some of the base's restorations; it needs restore")
        for method in config.base.values():
            if not is_training_free(method):  # a clear error now, not at the first fusion
                raise ValueError(f"base: unknown fusion method {method!r}; choose from {', '.join(e.name for e in entries('training-free'))}")
        c, d, p = config.autoencoder.latent_channels, config.dim, config.patch
        self.autoencoder = Autoencoder(config.autoencoder)
        self.text = TextEncoder(config.text)
        self.source_proj = nn.Conv2d(c, d, p, stride=p)
        self.role = nn.Embedding(len(ROLES), d)
        self.state_proj = nn.Conv2d(c, d, p, stride=p) if config.variant == "flow" else None
        self.base_proj = nn.Conv2d(c, d, p, stride=p) if config.base else None
        # Extra inputs added to the merged sources start as "no input" where a fine-tune adds
        # them (a base to any model; a flow state to a model with a base, e.g. from regression):
        # the fine-tune begins where the loaded model left off.
        for extra in (self.base_proj, self.state_proj if config.base else None):
            if extra is not None:
                nn.init.zeros_(extra.weight)
                nn.init.zeros_(extra.bias)
        self.detail_gate = DetailGate(d) if config.detail else None
        self.correction_gate = CorrectionGate(d, config.gate_evidence, config.correction_gate_bias) if config.correction_gate else None
        self.restorer = Restorer(config.restorer) if config.learned_restore else None
        self.merge = nn.Linear(2 * d, d)  # mean and max over the source frames
        self.task = nn.Embedding(len(TASKS), d)
        self.prompt_proj = nn.Linear(config.text.dim, d)
        self.time = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d)) if config.variant == "flow" else None
        if self.time is not None:  # the timestep starts as no change to the condition
            nn.init.zeros_(self.time[2].weight)
            nn.init.zeros_(self.time[2].bias)
        self.blocks = nn.ModuleList(
            DiTBlock(d, config.heads, config.window, i % 2 == 1, config.mlp_ratio, config.routed_experts, config.shared_experts, config.top_k, config.adaln_rank)
            for i in range(config.depth)
        )
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.adaln_out = LowRankAdaLN(d, 2, config.adaln_rank)
        self.head = nn.Linear(d, c * p * p)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def multiple(self) -> int:
        return self.autoencoder.factor * self.config.patch

    @property
    def tile_alignment(self) -> int:
        return self.multiple * self.config.window  # attention windows (and their half shift) line up

    # -- pieces -----------------------------------------------------------------------------
    def encode_sources(self, frames: Tensor) -> Tensor:
        """``(B, N, 1, H, W)`` -> latents ``(B, N, C, h, w)``."""
        b, n = frames.shape[:2]
        z = self.autoencoder.encode(frames.flatten(0, 1))
        return z.view(b, n, *z.shape[1:])

    def base_inputs(self, frames: Tensor, task: str, given: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
        """The classical base ``given`` by the classical stage (``(B, 1, h, w)``, fused from the
        unpadded frames; :mod:`fusecli.restore.stage`), edge-padded to the ``(B, N, 1, H, W)``
        frames, and its latent; (None, None) without a base for ``task``."""
        if self.config.base.get(task) is None:
            return None, None
        if given is None:
            raise ValueError(f"this model corrects a classical base for {task}: run its classical stage first (fusecli.restore.stage.prepare)")
        height, width = frames.shape[-2:]
        pad = (0, width - given.shape[-1], 0, height - given.shape[-2])
        image = F.pad(given, pad, mode="replicate") if any(pad) else given
        image = image.to(device=frames.device, dtype=frames.dtype)
        return image, self.autoencoder.encode(image)

    def drop_prompts(self, prompts: list[str | None]) -> list[str | None]:
        """In training, each prompt replaced by None with probability ``prompt_dropout`` (the
        condition and the base's restorations then both go without it)."""
        if not self.training or self.config.prompt_dropout <= 0:
            return list(prompts)
        drop = torch.rand(len(prompts), device=self.head.weight.device) < self.config.prompt_dropout
        return [None if d else p for p, d in zip(prompts, drop.tolist())]

    def condition(self, tasks: list[str], prompts: list[str | None]) -> Tensor:
        """Task + prompt -> ``(B, dim)`` (training drops prompts first: :meth:`drop_prompts`)."""
        device = self.head.weight.device
        task_ids = torch.tensor([TASKS.index(task) for task in tasks], device=device)
        return self.task(task_ids) + self.prompt_proj(self.text(prompts))

    def time_embedding(self, t: Tensor) -> Tensor:
        """Flow time ``(B,)`` in 0..1 -> ``(B, dim)`` (added to the condition)."""
        if self.time is None:
            raise ValueError("the regression variant has no timestep")
        return self.time(sinusoidal_embedding(t * 1000.0, self.config.dim))

    @property
    def predicts_target(self) -> bool:
        """True when :meth:`predict` returns the fused latent (regression, or flow with ``prediction = "target"``)."""
        return self.config.variant == "regression" or self.config.prediction == "target"

    def predict(
        self, source_latents: Tensor, roles: list[int], cond: Tensor, state: Tensor | None = None, base: Tensor | None = None,
        evidence: Tensor | None = None,
    ) -> Tensor:
        """Network output in latent space ``(B, C, h, w)``: the fused latent (:attr:`predicts_target`)
        or the flow's velocity. ``state``: the flow's ``Z_t``; ``base``: the latent of the classical base;
        ``evidence``: ``(B, K)`` the degradations the prompts name (for the correction gate)."""
        b, n, c, h, w = source_latents.shape
        tokens = self.source_proj(source_latents.flatten(0, 1))  # (B*N, D, h/p, w/p)
        tokens = tokens.view(b, n, *tokens.shape[1:]).permute(0, 1, 3, 4, 2)
        tokens = tokens + self.role(torch.tensor(roles, device=tokens.device))[None, :, None, None]
        x = self.merge(torch.cat([tokens.mean(1), tokens.amax(1)], dim=-1))
        if self.state_proj is not None:
            if state is None:
                raise ValueError("the flow variant needs the state Z_t")
            x = x + self.state_proj(state).permute(0, 2, 3, 1)
        if base is not None:
            if self.base_proj is None:
                raise ValueError("this model has no classical base input")
            x = x + self.base_proj(base).permute(0, 2, 3, 1)
        first_values = None
        for block in self.blocks:
            x, values = block(x, cond, first_values)
            first_values = values if first_values is None else first_values
        if self.detail_gate is not None:
            self.detail_gate(x)
        if self.correction_gate is not None:
            if evidence is None:
                raise ValueError("the correction gate needs the classical stage's evidence (fusecli.restore.stage.evidence)")
            self.correction_gate(x, cond, evidence)
        shift, scale = self.adaln_out(cond)
        x = self.head(modulate(self.norm_out(x), shift, scale))  # (B, h/p, w/p, C*p*p)
        out = F.pixel_shuffle(x.permute(0, 3, 1, 2), self.config.patch)
        if self.predicts_target:
            out = out + (source_latents.mean(1) if base is None else base)
        return out

    def velocity_of(self, prediction: Tensor, state: Tensor, t: Tensor) -> Tensor:
        """The flow's velocity from :meth:`predict`'s output at ``(Z_t, t)``, ``t`` of shape ``(B,)``:
        ``(Z1 - Z_t) / (1 - t)`` for a predicted target (``1 - t`` kept >= 1e-3), the output itself otherwise."""
        if not self.predicts_target:
            return prediction
        return (prediction - state) / (1.0 - t).clamp_min(1e-3)[:, None, None, None]

    def decode_fused(self, latent: Tensor, base_image: Tensor | None = None, base: Tensor | None = None) -> Tensor:
        """Pixels ``(B, 1, H, W)`` of a predicted latent; with ``detail``, plus the gated detail of
        ``base_image`` that the autoencoder loses (``base - decode(encode(base))``) — so on clean
        inputs the output can be the classical fusion exactly, not its ×4 reconstruction; with
        ``correction_gate``, only that gate's share of the change to ``base_image`` is kept.
        ``base``: ``base_image``'s latent when already computed."""
        image = self.autoencoder.decode(latent)
        if base_image is None:
            return image
        if self.detail_gate is not None:
            if base is None:
                base = self.autoencoder.encode(base_image)
            lost = base_image - self.autoencoder.decode(base)
            gate = F.interpolate(self.detail_gate.value, size=lost.shape[-2:], mode="bilinear", align_corners=False)
            image = image + gate * lost
        if self.correction_gate is not None:
            image = base_image + self.correction_gate.value * (image - base_image)
        return image

    def routing_map(self) -> Tensor | None:
        """Routed experts' gate weights per token of the last block, ``(B*h*w, E)``, from the last forward."""
        stats = self.blocks[-1].ffn.stats
        if stats is None:
            return None
        return stats.routing.dense_gates()

    @property
    def expert_names(self) -> list[str]:
        return [f"expert {i + 1}" for i in range(self.config.routed_experts)]

    # -- fusion -----------------------------------------------------------------------------
    def fuse(self, frames: Tensor, options: FuseOptions) -> FusionResult:
        """Fuse ``(B, N, 1, H, W)`` frames in 0..1 (H, W multiples of :attr:`multiple`)."""
        check_frames(frames)
        b, n, _, h, w = frames.shape
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"frame size {h}x{w} must be a multiple of {self.multiple}; pad first")
        roles = source_roles(options.task, n)
        latents = self.encode_sources(frames)
        tasks, prompts = [options.task] * b, [options.prompt] * b
        cond, evidence = self.condition(tasks, prompts), options.evidence
        base_image, base = self.base_inputs(frames, options.task, options.base)
        if self.config.variant == "regression":
            fused = self.predict(latents, roles, cond, base=base, evidence=evidence)
        else:

            def velocity(z: Tensor, t: float) -> Tensor:
                times = torch.full((b,), t, device=z.device)
                return self.velocity_of(self.predict(latents, roles, cond + self.time_embedding(times), z, base, evidence), z, times)

            # Z0 = centre + start_noise * N(0, I): the base latent (or 0) blurred by noise
            scale = self.config.start_noise
            noise = scale * torch.randn(latents.shape[0], *latents.shape[2:], generator=options.generator, device=frames.device, dtype=latents.dtype)
            start = noise if base is None else base + noise
            t_start = 0.0
            if options.bridge > 0:  # start later on the path, from a blend with a guess of Z1
                t_start = float(options.bridge)
                start = t_start * (latents.mean(1) if base is None else base) + (1 - t_start) * start
            gamma = options.gamma if options.sampler == "sde" else 0.0
            fused = sample_flow(velocity, start, options.steps, gamma=gamma, generator=options.generator, method=options.method,
                                t_start=t_start, centre=base, scale=scale)
        image = self.decode_fused(fused, base_image, base).clamp(0, 1)
        maps = {}
        gates = self.routing_map()
        if gates is not None:  # tokens cover multiple x multiple pixels each
            m = self.multiple
            grid = gates.view(b, h // m, w // m, -1).permute(0, 3, 1, 2)
            maps["experts"] = grid.repeat_interleave(m, 2).repeat_interleave(m, 3)
        return FusionResult(image, maps)
