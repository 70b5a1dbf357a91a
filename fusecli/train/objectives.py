"""What one training step computes for each architecture: model call + loss terms.

An objective is an ``nn.Module`` that owns the model, so ``DistributedDataParallel`` can
wrap it and synchronise gradients through its ``forward`` (models are called through
several methods — encode, predict — which DDP would not see otherwise). ``forward(batch)``
returns a dict of unweighted loss terms; :func:`fusecli.train.losses.weighted_sum` weighs them.
``fuse(batch)`` is the inference used by validation.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from fusecli.models.base import FuseOptions, fuse_padded
from fusecli.models.layers.moe import moe_losses
from fusecli.models.mmaif_arch import source_roles
from fusecli.models.saliency import saliency_prior
from fusecli.restore.stage import ClassicalStage, prepare
from fusecli.restore.stage import evidence as stage_evidence
from fusecli.train import losses as L
from fusecli.train import metric_losses as ML
from fusecli.train.data import Batch

OBJECTIVES: dict[str, type["Objective"]] = {}
# objectives named otherwise than the arch they train (config ``objective``)
OBJECTIVE_ARCH = {"prompt-words": "mmaif"}


def register(arch: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        OBJECTIVES[arch] = cls
        return cls

    return add


class Objective(nn.Module):
    needs_teacher = False
    # validation scores fuse()'s output against the first clean frame (PSNR-ref), not as a fusion
    scores_first_frame = False

    def __init__(self, model: nn.Module, losses: dict[str, float] | None = None,
                 task_losses: dict[str, dict[str, float]] | None = None) -> None:
        super().__init__()
        self.model = model
        # the loss terms the config weighs, per task: costly terms are computed only where weighed
        self._losses, self._task_losses = dict(losses or {}), dict(task_losses or {})

    def weighted(self, task: str) -> frozenset[str]:
        """The loss terms with a nonzero weight for a batch of ``task``."""
        return frozenset(name for name, weight in L.task_weights(self._losses, self._task_losses, task).items() if weight)

    def fuse(self, batch: Batch, options: FuseOptions) -> Tensor:
        """Fused ``(B, 1, H, W)`` of ``batch.sources`` for validation."""
        return fuse_padded(self.model, batch.sources, options).image

    def prepare(self, batches: Callable[[int], Batch]) -> None:
        """Called once before training with ``batches(i)`` giving fixed calibration batches."""


# the quality protocol's metrics as losses against the clean sources (fusecli.train.metric_losses)
METRIC_TERMS = {"qabf": ML.qabf_loss, "qcv": ML.qcv_loss, "qcb": ML.qcb_loss, "min_ssim": ML.min_ssim_loss}


def _source_terms(fused: Tensor, batch: Batch, foreground: Tensor | None = None, metrics: frozenset[str] = frozenset()) -> dict[str, Tensor]:
    """Unsupervised terms against the clean sources: cheap ones always (unweighted ones are
    ignored), and the protocol's metric losses named in ``metrics``. With them a model can aim
    past its teacher: they score the fusion on what the sources hold, as the benchmarks do."""
    clean = batch.clean
    if foreground is None:
        foreground = saliency_prior(clean[:, 0]) if batch.task == "vif" else torch.zeros_like(fused)
    terms = {"pixel": L.pixel_loss(fused, clean, foreground), "gradient": L.gradient_loss(fused, clean)}
    terms["intensity"] = L.intensity_loss(fused, clean)
    terms["ssim"] = L.ssim_loss(fused, clean)
    if batch.task == "mef":
        terms["mef_ssim"] = L.mef_ssim_loss(fused, clean)
    if batch.target is not None:
        terms["target_l1"] = L.target_l1_loss(fused, batch.target)
        terms["target_psnr"] = L.target_psnr_loss(fused, batch.target)
        terms["target_ssim"] = L.target_ssim_loss(fused, batch.target)
        terms["target_gradient"] = L.target_gradient_loss(fused, batch.target)
    for name in metrics & METRIC_TERMS.keys():
        terms[name] = METRIC_TERMS[name](fused, clean)
    return terms


@register("moe-fusion")
class MoEFusionObjective(Objective):
    """MoE-Fusion (seed 002 §6): pixel fg/bg + Sobel gradient + local/global load losses."""

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        sources = batch.sources
        fused = sources[:, 0]
        terms: dict[str, Tensor] = {}
        local = global_ = 0.0
        for i in range(1, sources.shape[1]):  # stacks are fused pairwise, as at inference
            mask = saliency_prior(fused if batch.task == "vif" else sources[:, i])
            fused = self.model(fused, sources[:, i], mask)
            local = local + self.model.local_fg.stats.loss + self.model.local_bg.stats.loss
            global_ = global_ + self.model.global_moe.stats.loss
        terms.update(_source_terms(fused, batch, saliency_prior(batch.clean[:, 0]) if batch.task == "vif" else None, self.weighted(batch.task)))
        terms["load_local"] = local
        terms["load_global"] = global_
        return terms


@register("blend-vif")
class BlendVIFObjective(Objective):
    """Blend weights over a VIF pyramid, trained on the quality protocol's own metrics against
    the clean sources (differentiable: :mod:`fusecli.train.metric_losses`); no teacher, so it
    can move past the rule it starts from."""

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        sources = batch.sources
        fused = self.model(sources[:, 0], sources[:, 1])
        return {name: loss(fused, batch.clean) for name, loss in METRIC_TERMS.items()}


@register("mmaif")
class MMAIFObjective(Objective):
    """All-in-one MoE-DiT in the autoencoder's latent space.

    Regression: predict the teacher's fused latent from the degraded source latents (latent
    MSE, plus pixel terms on the decoded output), as a residual on the model's base (the
    classical fusion of the degraded frames when configured). Flow: ``Z_t = t Z1 + (1 - t) Z0`` with
    ``t ~ U(0, 1)`` and ``Z0 = base + start_noise * N(0, I)`` (base 0 without one); the target is
    the velocity ``Z1 - Z0`` (pixel terms on the one-step estimate ``Z1 ~ Z_t + (1 - t) v``) or,
    with ``prediction = "target"``, ``Z1`` itself (``latent`` loss, as regression). MoE balance
    losses as ``load``.
    """

    needs_teacher = True

    def prepare(self, batches: Callable[[int], Batch]) -> None:
        """Scale the (frozen, trained) autoencoder's latents to unit std, as flow matching from
        N(0, I) assumes; deterministic, so a resumed run computes the same scale."""
        ae = self.model.autoencoder
        if any(p.requires_grad for p in ae.parameters()):
            return
        ae.config.latent_scale = 1.0
        with torch.no_grad():
            latents = torch.cat([ae.encode(batches(i).clean.flatten(0, 1)).flatten() for i in range(8)])
        ae.config.latent_scale = float(1.0 / latents.std().clamp_min(1e-6))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        model = self.model
        if batch.target is None:
            raise ValueError("the mmaif objective needs teacher targets (config: teacher.<task> = method or weights)")
        b, n = batch.sources.shape[:2]
        roles = source_roles(batch.task, n)
        prompts = model.drop_prompts(batch.prompts)  # the same prompts reach the condition and the base
        with torch.no_grad():
            latents = model.encode_sources(batch.sources)
            z1 = model.autoencoder.encode(batch.target)
            stage = ClassicalStage.of(model)
            given = None if stage is None else stage.fuse_base(batch.sources, batch.task, prompts, batch.restore_stats)
            base_image, base = model.base_inputs(batch.sources, batch.task, given)  # (None, None) without a base
        cond, evidence = model.condition([batch.task] * b, prompts), stage_evidence(prompts, batch.sources.device)
        terms: dict[str, Tensor] = {}
        if model.config.variant == "regression":
            prediction = model.predict(latents, roles, cond, base=base, evidence=evidence)
            terms["latent"] = L.latent_loss(prediction, z1)
            estimate = prediction
        else:
            t = torch.rand(b, device=z1.device)
            z0 = model.config.start_noise * torch.randn_like(z1) + (0.0 if base is None else base)
            tt = t[:, None, None, None]
            zt = tt * z1 + (1 - tt) * z0
            output = model.predict(latents, roles, cond + model.time_embedding(t), zt, base, evidence)
            if model.predicts_target:  # the fused latent itself: the same loss as regression
                terms["latent"] = L.latent_loss(output, z1)
                estimate = output
            else:
                terms["velocity"] = L.latent_loss(output, z1 - z0)
                estimate = zt + (1 - tt) * output
        fused = model.decode_fused(estimate, base_image, base)
        terms.update(_source_terms(fused, batch, metrics=self.weighted(batch.task)))
        terms["load"] = moe_losses(model)
        return terms

    def fuse(self, batch: Batch, options: FuseOptions) -> Tensor:
        options.prompt = batch.prompts[0]
        return fuse_padded(self.model, batch.sources, prepare(self.model, batch.sources, options)).image


def prompt_pairs(task: str, rng: np.random.Generator, count: int, split: str) -> tuple[list[str], list[str]]:
    """``count`` requests for random degradations of ``task`` (1 to 3 at once): the generator's
    sentence (:func:`fusecli.degrade.prompts.make_prompt`) and a free-form paraphrase of the same
    request from ``split``'s phrases (:mod:`fusecli.degrade.paraphrases`)."""
    from fusecli.degrade.paraphrases import generator_prompt, paraphrase
    from fusecli.degrade.pipeline import available_ops

    ops, generated, paraphrased = available_ops(task), [], []
    for _ in range(count):
        families = list(rng.choice(ops, size=int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2])), replace=False))
        generated.append(generator_prompt(families, rng, task if rng.random() < 0.3 else None))
        paraphrased.append(paraphrase(families, rng, split))
    return generated, paraphrased


@register("prompt-words")
class PromptWordsObjective(MMAIFObjective):
    """Teach an all-in-one model's text encoder free-form wording: the words of
    :mod:`fusecli.degrade.paraphrases` get ids of their own (:meth:`TextEncoder.add_words`), and
    only their embeddings train, so that a paraphrase encodes as the generator's sentence for the
    same request does. Everything else is frozen, so any prompt without those words (every
    generator prompt, or none) gives the model's output exactly as before.
    Term ``prompt_words``: the squared error of the paraphrases' embeddings to the generator
    sentences', relative to the latter's squared norm (32 pairs a step; images are not used).
    Validation fuses with the model as usual."""

    needs_teacher = False
    PAIRS = 32

    def __init__(self, model: nn.Module, losses: dict[str, float] | None = None,
                 task_losses: dict[str, dict[str, float]] | None = None) -> None:
        from fusecli.degrade.paraphrases import paraphrase_vocabulary

        super().__init__(model, losses, task_losses)
        text = model.text
        text.add_words(paraphrase_vocabulary("train"))
        first = len(text.config.vocabulary) + 1
        self.rows = (first, first + len(text.config.extra_words))
        for param in model.parameters():
            param.requires_grad_(False)
        weight = text.embed.weight
        weight.requires_grad_(True)
        keep = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
        keep[self.rows[0] : self.rows[1]] = 1.0
        weight.register_hook(lambda grad: grad * keep)

    def prepare(self, batches: Callable[[int], Batch]) -> None:
        """Nothing to calibrate: the model comes whole from ``init.model``."""

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,))))
        split = "train" if self.model.training else "val"
        generated, paraphrased = prompt_pairs(batch.task, rng, self.PAIRS, split)
        with torch.no_grad():
            target = self.model.text(generated)
        error = (self.model.text(paraphrased) - target).pow(2).sum(1).mean()
        return {"prompt_words": error / target.pow(2).sum(1).mean().clamp_min(1e-12)}


@register("autoencoder")
class AutoencoderObjective(Objective):
    """Reconstruction of every frame of the batch (clean and degraded: the latent space must hold both)."""

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        frames = torch.cat([batch.clean.flatten(0, 1), batch.sources.flatten(0, 1)])
        return {"reconstruction": L.reconstruction_loss(self.model(frames), frames)}

    scores_first_frame = True

    def fuse(self, batch: Batch, options: FuseOptions) -> Tensor:
        """Validation of an autoencoder = reconstruction of the first clean frame (scored against it)."""
        x = batch.clean[:, 0]
        m = self.model.factor
        h, w = x.shape[-2:]
        padded = torch.nn.functional.pad(x, (0, (-w) % m, 0, (-h) % m), mode="replicate")
        return self.model(padded)[..., :h, :w].clamp(0, 1)


@register("restorer")
class RestorerObjective(Objective):
    """Single-frame restoration: each frame the degradation changed back to its clean frame (L1
    on pixels plus L1 on Sobel gradients: the ``reconstruction`` loss). Frames a sample left
    clean are left out: with them in the batch (half of the frames of n = 1 samples), the
    restorer learned to leave everything alone (MEF JPEG frames +0.01 dB after 900 steps, against
    +0.58 dB without them, in a hand-run probe). It runs only on frames a prompt says are degraded."""

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        frames, clean = batch.sources.flatten(0, 1), batch.clean.flatten(0, 1)
        changed = (frames != clean).flatten(1).any(1)
        if changed.any():
            frames, clean = frames[changed], clean[changed]
        return {"reconstruction": L.reconstruction_loss(self.model(frames), clean)}

    scores_first_frame = True

    def fuse(self, batch: Batch, options: FuseOptions) -> Tensor:
        """Validation of a restorer = the first degraded frame restored (scored against the clean one)."""
        return self.model(batch.sources[:, 0])


class TeacherFusion:
    """``teacher(task, frames) -> fused (H, W)`` (numpy, 0..1) from ``task -> method or weights
    file``; a class (not a closure) so that spawned data workers can receive it."""

    def __init__(self, spec: dict[str, str], device: str = "cpu"):
        self.spec, self.device = dict(spec), device
        self.learned: dict[str, nn.Module] = {}

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "device": self.device, "learned": {}}  # models reload in the worker

    def __call__(self, task: str, frames: list[np.ndarray]) -> np.ndarray:
        from fusecli.catalog import is_training_free
        from fusecli.methods import fuse_frames

        name = self.spec.get(task)
        if name is None:
            raise ValueError(f"no teacher for task {task} (config: teacher.{task})")
        if is_training_free(name):
            return fuse_frames(name, frames)  # the fusion the all-in-one models' base is
        if name not in self.learned:
            from fusecli.models.weights import load_model

            self.learned[name] = load_model(name, self.device).eval()
        x = torch.from_numpy(np.stack(frames).astype(np.float32))[None, :, None].to(self.device)
        with torch.no_grad():
            model = self.learned[name]
            out = fuse_padded(model, x, prepare(model, x, FuseOptions(task=task))).image
        return out[0, 0].cpu().numpy()


def make_teacher(spec: dict[str, str], device: str = "cpu") -> TeacherFusion | None:
    """The teacher fusion of ``spec`` (task -> training-free method or weights file), or None."""
    return TeacherFusion(spec, device) if spec else None
