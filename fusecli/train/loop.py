"""The training loop: AdamW with warm-up + cosine, validation, checkpoints, exact resume, DDP.

Determinism: the batch of a step is a function of ``(seed, step, rank)`` and torch's RNG is
re-seeded from the same key before every step (noisy gating, prompt dropout, flow noise), so
``--resume`` after a kill replays exactly the loss curve of an uninterrupted run.

Data parallel: run under ``torchrun --nproc_per_node K -m fusecli train CONFIG``; each rank
draws its own samples (rank in the key), DDP averages gradients, rank 0 validates and writes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from fusecli import __version__
from fusecli.errors import FusecliError
from fusecli.metrics.score import score_arrays
from fusecli.models.base import FuseOptions, config_to_dict
from fusecli.models.weights import ARCHITECTURES, build, load_weights, read_metadata
from fusecli.train.checkpoint import load_checkpoint, save_checkpoint
from fusecli.train.config import ConfigError, TrainConfig
from fusecli.train.data import Batch, batch_stream, load_scenes, make_batch, validation_items
from fusecli.train.losses import weighted_sum
from fusecli.train.objectives import OBJECTIVES, Objective, make_teacher

log = logging.getLogger(__name__)

VALIDATION_METRICS = {"vif": ("MI", "Qabf", "Qcb", "Qcv", "SSIM"), "mef": ("MEF-SSIM", "Qabf"), "mff": ("Qabf", "SSIM")}
LOWER_IS_BETTER = {"loss", "MAE"}


@dataclass
class TrainResult:
    run: Path
    step: int
    best: float | None
    loss: float
    seconds: float


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up over ``optim.warmup`` steps, then cosine decay to ``lr * min_lr_ratio``."""
    o = config.optim
    if step < o.warmup:
        return o.lr * (step + 1) / o.warmup
    progress = (step - o.warmup) / max(1, config.steps - o.warmup)
    return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank, 7]).generate_state(1)[0])


def resolve_train_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device cuda requested but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"CPU {platform.machine()}, {threads} thread{'s' if threads != 1 else ''}"


def _init_distributed() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


WHOLE_MODEL = "model"  # ``init = { model = FILE }``: start from a complete weights file (fine-tuning)


def _merged(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied key by key, nested tables merged."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _config_difference(have: object, need: object) -> str:
    """The config fields that differ, ``name: have != need``, for a one-line error."""
    def flat(d: dict, prefix: str = "") -> dict:
        return {k2: v2 for k, v in d.items() for k2, v2 in (flat(v, f"{prefix}{k}.").items() if isinstance(v, dict) else [(prefix + k, v)])}

    a, b = flat(config_to_dict(have)), flat(config_to_dict(need))
    return ", ".join(f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


def build_model(config: TrainConfig) -> nn.Module:
    """The architecture with its config overrides, initialised parts loaded and frozen parts fixed.

    ``init.model`` (fine-tuning) takes the architecture config from that weights file, with the
    run's ``model`` overrides on top (only ones that keep every tensor's shape); other ``init``
    entries then load only parts that the overrides add (e.g. a trained restorer into mmaif-reg),
    or parts listed in ``reset``, which swaps that component for another file's (it may differ in
    shape: a retrained restorer).
    """
    if config.arch not in ARCHITECTURES:
        raise ConfigError(f"unknown arch {config.arch!r}; choose from {', '.join(ARCHITECTURES)}")
    if config.arch not in OBJECTIVES:
        raise ConfigError(f"no training objective for arch {config.arch!r}")
    whole = config.init.get(WHOLE_MODEL)
    start = load_weights(config.path(whole), arch=config.arch) if whole is not None else None
    for part in config.init:
        held = start is not None and part != WHOLE_MODEL and any(_in_parts(key, [part]) for key in start.state_dict())
        if held and part not in config.reset:
            raise ConfigError(f"init.{part}: init.model already sets that part; drop init.{part} (or list it in reset to swap it)")
    try:
        model = build(config.arch, _merged(config_to_dict(start.config), config.model) if start is not None else config.model)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"model config: {exc}") from exc
    if config.reset and start is None:
        raise ConfigError("reset re-initialises parts of an init.model fine-tune; there is no init.model")
    if start is not None:
        _load_fine_tune_start(model, start, whole, config.reset)
    for part, path in config.init.items():
        if part == WHOLE_MODEL:
            continue
        target = getattr(model, part, None)
        if not isinstance(target, nn.Module):
            raise ConfigError(f"init.{part}: the model has no part {part!r}")
        loaded = load_weights(config.path(path), arch=getattr(target, "arch", None))
        if getattr(loaded, "config", None) != getattr(target, "config", None):
            raise ConfigError(f"init.{part}: {path} does not fit the model ({_config_difference(loaded.config, target.config)})")
        target.load_state_dict(loaded.state_dict())
    for part in config.freeze:
        target = getattr(model, part, None)
        if not isinstance(target, nn.Module):
            raise ConfigError(f"freeze: the model has no part {part!r}")
        target.requires_grad_(False)
    return model


def _in_parts(key: str, parts: list[str]) -> bool:
    """Whether state-dict ``key`` belongs to one of the submodules ``parts``."""
    return any(key.startswith(part + ".") for part in parts)


def _load_fine_tune_start(model: nn.Module, start: nn.Module, whole: str, reset: list[str]) -> None:
    """Load ``start`` into ``model``. Parameters the overrides added (absent from ``start``) and
    the ``reset`` parts keep their fresh initialisation (``start``'s tensors for them are not
    loaded, so they may differ in shape); anything else that does not fit is an error."""
    fresh = model.state_dict()
    for part in reset:
        if not any(_in_parts(key, [part]) for key in fresh):
            raise ConfigError(f"reset: the model has no part {part!r}")
    loaded = {key: value for key, value in start.state_dict().items() if not _in_parts(key, reset)}
    keep = {key: value.clone() for key, value in fresh.items() if _in_parts(key, reset)}
    added = [key for key in fresh if key not in loaded and not _in_parts(key, reset)]
    if added and config_to_dict(start.config) == config_to_dict(model.config):
        raise ConfigError(f"init.model: {whole} lacks {added[:3]}")
    try:
        model.load_state_dict(loaded, strict=False)
    except RuntimeError:
        raise ConfigError(f"init.model: the model overrides do not fit {whole} ({_config_difference(start.config, model.config)})") from None
    unexpected = [key for key in loaded if key not in fresh]
    if unexpected:
        raise ConfigError(f"init.model: the model overrides drop parts of {whole} ({', '.join(unexpected[:3])}; {_config_difference(start.config, model.config)})")
    model.load_state_dict(keep, strict=False)


def init_lineage(config: TrainConfig) -> dict[str, dict]:
    """Where each ``init`` part came from (name, steps, hardware, wall time and its own lineage),
    so a fine-tuned file states the whole training that went into it."""
    keep = ("name", "steps", "hardware", "wall_seconds", "seed", "initialized_from")
    out = {}
    for part, path in config.init.items():
        provenance = read_metadata(config.path(path))["provenance"]
        out[part] = {"file": Path(path).name} | {k: provenance[k] for k in keep if k in provenance}
    return out


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases, norms and embeddings-like 1-D parameters; the parts in
    ``optim.lr_scale`` in groups of their own, whose ``lr_scale`` :func:`set_learning_rate` applies."""
    scales = config.optim.lr_scale
    unknown = sorted(part for part in scales if not isinstance(getattr(model, part, None), nn.Module))
    if unknown:
        raise ConfigError(f"optim.lr_scale: the model has no part {', '.join(map(repr, unknown))}")
    # fixed group order (decayed, then not; the scaled parts after), so a checkpoint's optimizer
    # state of a run without lr_scale lines up with the two groups it was saved with
    groups: dict[tuple[str | None, bool], list[nn.Parameter]] = {(part, decays): [] for part in (None, *scales) for decays in (True, False)}
    for name, param in model.named_parameters():
        if param.requires_grad:
            part = next((p for p in scales if _in_parts(name, [p])), None)
            groups[part, param.ndim >= 2].append(param)
    return torch.optim.AdamW(
        [{"params": params, "weight_decay": config.optim.weight_decay if decays else 0.0, "lr_scale": float(scales.get(part, 1.0))}
         for (part, decays), params in groups.items() if params or part is None],
        lr=config.optim.lr, betas=(0.9, 0.99))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The schedule's ``lr`` for every group, times the group's ``lr_scale``."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def _append_jsonl(path: Path, record: dict) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint being resumed from (they will be replayed)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def validate(objective: Objective, items: list[tuple[str, Batch]], config: TrainConfig, device: torch.device) -> dict[str, float]:
    """Mean validation loss and metrics over the fixed held-out items (``task/metric`` and overall)."""
    model = objective.model
    was_training = model.training
    model.eval()
    sums: dict[str, list[float]] = {}
    generator = torch.Generator(device=device)
    torch.manual_seed(config.seed)
    try:
        with torch.no_grad():
            for _, item in items:
                item = item.to(device)
                generator.manual_seed(config.seed)
                loss, _ = weighted_sum(objective(item), config.loss_weights(item.task))
                sums.setdefault("loss", []).append(float(loss))
                options = FuseOptions(task=item.task, steps=config.validation.steps, generator=generator)
                fused = objective.fuse(item, options)[0, 0].float().cpu().numpy()
                clean = [f[0].float().cpu().numpy() for f in item.clean[0]]
                if objective.scores_first_frame:
                    scores = score_arrays(fused, metrics=("PSNR-ref",), reference=clean[0])
                else:
                    names = VALIDATION_METRICS[item.task] + (("PSNR-ref",) if item.target is not None else ())
                    reference = None if item.target is None else item.target[0, 0].float().cpu().numpy()
                    scores = score_arrays(fused, clean, names, reference=reference)
                for name, value in scores.items():
                    if math.isfinite(value):
                        sums.setdefault(name, []).append(value)
                        sums.setdefault(f"{item.task}/{name}", []).append(value)
    finally:
        model.train(was_training)
    return {k: float(np.mean(v)) for k, v in sums.items()}


def _improved(score: float | None, best: float | None, metric: str) -> bool:
    if score is None or not math.isfinite(score):
        return False
    if best is None:
        return True
    return score < best if metric in LOWER_IS_BETTER else score > best


class TrainingDivergedError(FusecliError):
    """The loss or the weights stopped being finite: the run cannot go on."""


def _diverged(step: int, what: str, lr: float, config: TrainConfig) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"training diverged at step {step}: {what}; lower optim.lr (now {lr:.3g}) or optim.grad_clip "
        f"(now {config.optim.grad_clip:g}), or check the loss weights ({', '.join(f'{k}={v:g}' for k, v in config.losses.items())}); "
        "the last saved checkpoint is unchanged"
    )


def train(config: TrainConfig, *, resume: bool = False, on_step: Callable[[int, float], None] | None = None) -> TrainResult:
    """Run (or resume) the training described by ``config``; returns where it went."""
    rank, world, local_rank = _init_distributed()
    device = resolve_train_device(config.device, local_rank)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model = build_model(config)
    objective = OBJECTIVES[config.objective or config.arch](model, config.losses, config.task_losses).to(device)
    teacher_spec = config.teacher
    if objective.needs_teacher and not teacher_spec:
        raise ConfigError(f"arch {config.arch} trains against a teacher fusion: set teacher.<task> for {', '.join(config.tasks)}")
    teacher = make_teacher(teacher_spec)
    train_scenes, val_scenes = load_scenes(config)
    if WHOLE_MODEL not in config.init:  # a fine-tuned model keeps the calibration it was trained with
        objective.prepare(lambda i: make_batch(train_scenes, config, 10**9 + i, 0, teacher).to(device))
    multiple = getattr(model, "tile_alignment", getattr(model, "factor", 1))
    val_items = validation_items(val_scenes, config, multiple, teacher) if rank == 0 else []
    optimizer = make_optimizer(model, config)
    params = [p for p in model.parameters() if p.requires_grad]

    run = config.path(config.out)
    checkpoints = run / "checkpoints"
    log_path = run / "log.jsonl"
    start, best = 0, None
    if resume:
        start, best = load_checkpoint(checkpoints, model, optimizer)
        if rank == 0:
            _truncate_log(log_path, start)
    elif (checkpoints / "last.state.json").exists():
        raise FusecliError(f"{run} already holds a training run; add --resume to continue it or choose another --out")
    if rank == 0:
        run.mkdir(parents=True, exist_ok=True)
        if not resume and log_path.exists():
            log_path.unlink()
        (run / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")
        log.info("%d training / %d validation scenes; %d parameters (%d trained)", len(train_scenes), len(val_scenes),
                 sum(p.numel() for p in model.parameters()), sum(p.numel() for p in params))

    wrapped: nn.Module = objective
    if world > 1:
        wrapped = nn.parallel.DistributedDataParallel(
            objective, device_ids=[local_rank] if device.type == "cuda" else None, find_unused_parameters=True
        )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and config.amp else nullcontext()
    provenance = {
        "trained_by": f"fusecli {__version__} train",
        "name": config.name,
        "tasks": config.tasks,
        "data": {t: [Path(f).name for f in getattr(config.data, t)] for t in config.tasks}
        | ({"focus_synthetic": [Path(f).name for f in config.data.focus_synthetic],
            "focus_synthetic_fraction": config.data.focus_synthetic_fraction} if config.data.focus_synthetic else {}),
        "train_scenes": len(train_scenes),
        "validation_scenes": len(val_scenes),
        "teacher": teacher_spec,
        "losses": config.losses,
        "degrade": config.degrade.enabled,
        "seed": config.seed,
        "hardware": hardware(device) + (f" x{world} processes" if world > 1 else ""),
    } | ({"initialized_from": init_lineage(config)} if config.init else {})
    model.train()
    began = time.perf_counter()
    previous_seconds = 0.0
    if resume and log_path.is_file():
        lines = [json.loads(x) for x in log_path.read_text(encoding="utf-8").splitlines() if x.strip()]
        previous_seconds = max((x.get("seconds", 0.0) for x in lines), default=0.0)
    loss_value = math.nan
    batches = batch_stream(train_scenes, config, start, rank, teacher)
    for step in range(start, config.steps):
        torch.manual_seed(step_seed(config.seed, step, rank))
        batch = next(batches).to(device)
        lr = learning_rate(step, config)
        set_learning_rate(optimizer, lr)
        with autocast:
            terms = wrapped(batch)
        try:
            loss, logged = weighted_sum({k: v.float() for k, v in terms.items()}, config.loss_weights(batch.task))
        except FloatingPointError as exc:  # a term is NaN or infinite
            raise _diverged(step + 1, str(exc), lr, config) from None
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise _diverged(step + 1, f"the loss is {loss_value} ({', '.join(f'{k} {v:.4g}' for k, v in logged.items())})", lr, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.optim.grad_clip))
        optimizer.step()
        done = step + 1
        if not all(bool(torch.isfinite(p).all()) for p in params):
            raise _diverged(done, f"the weights are no longer finite after a gradient of norm {grad_norm:.4g}", lr, config)
        seconds = previous_seconds + time.perf_counter() - began
        if rank == 0 and (done % config.log_every == 0 or done == config.steps):
            _append_jsonl(log_path, {"step": done, "task": batch.task, "lr": lr, "loss": loss_value, **logged,
                                     "grad_norm": grad_norm, "seconds": round(seconds, 3)})
        if done % config.validation.every == 0 or done == config.steps:
            if rank == 0:
                metrics = validate(objective, val_items, config, device) if val_items else {}
                score = metrics.get(config.validation.metric)
                is_best = _improved(score, best, config.validation.metric) or (best is None and not val_items)
                if is_best and score is not None:
                    best = score
                _append_jsonl(log_path, {"step": done, "val": metrics, "seconds": round(seconds, 3)})
                save_checkpoint(checkpoints, model, optimizer, done, best,
                                {**provenance, "wall_seconds": round(seconds, 1), "validation": metrics}, is_best)
            if world > 1:
                dist.barrier()
        if on_step is not None:
            on_step(done, loss_value)
    total = previous_seconds + time.perf_counter() - began
    if world > 1:
        dist.barrier()
    return TrainResult(run, config.steps, best, loss_value, total)
