"""Training configuration: a TOML file plus ``--set key=value`` overrides, as dataclasses.

Relative paths in the file (data folders, ``init`` weights, ``out``) are resolved against the
file's folder, so a config works from any working directory. Unknown keys are errors (a typo
must not silently train the wrong thing).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from fusecli.errors import FusecliError
from fusecli.catalog import TASKS
from fusecli.models.base import config_from_dict


class ConfigError(FusecliError):
    """A training config that cannot be used."""


@dataclass
class DataConfig:
    vif: list[str] = field(default_factory=list)  # folders with ir/ and vi/ (or vis/, visible/) pairs
    mef: list[str] = field(default_factory=list)  # folders of stacks (one sub-folder per scene)
    mff: list[str] = field(default_factory=list)  # folders with A/ and B/ pairs and/or stacks/
    # Sharp photos (image folders or stack folders) to synthesise MFF pairs with a known
    # all-in-focus target from (fusecli.train.synthetic_focus); used for MFF training batches.
    focus_synthetic: list[str] = field(default_factory=list)
    focus_synthetic_fraction: float = 1.0  # share of MFF batches that are synthetic (rest: data.mff)
    crop: int = 128
    batch: int = 8
    max_side: int = 512  # images are downscaled to this long side when loaded (memory, speed)
    max_frames: int = 3  # MEF/MFF stacks: frames drawn per sample (2..max_frames)
    val_fraction: float = 0.1  # share of scenes held out (split by scene name)
    task_weights: dict[str, float] = field(default_factory=dict)  # default: equal
    # Share of samples whose frames each get their own camera response (fusecli.train.data.
    # camera_jitter: gain, gamma, an inverted infrared polarity): a model that meets other cameras.
    camera_jitter: float = 0.0
    # Processes that make batches ahead of the training step (degradation and the teacher run
    # on the CPU; a GPU step is faster than one core makes a batch). 0: in the training process.
    # The batches are the same either way (each is a function of the seed and step alone).
    workers: int = 0


@dataclass
class DegradeConfig:
    enabled: bool = False
    n: list[int] = field(default_factory=lambda: [1, 2, 3])
    clean_fraction: float = 0.2  # share of samples left clean (the model must fuse those too)
    allowed: list[str] = field(default_factory=list)  # the degradations drawn from (default: all)
    # degrade the whole frames, then crop (not the crop itself): global degradations (haze, contrast,
    # exposure) and the whole-image statistics of a base's restorations then look as at inference
    whole_frames: bool = False
    # Share of the samples degraded with low contrast whose clean frames are first stretched
    # linearly to full range (1st..99th percentile -> 0..1; VIF per sensor, a stack jointly), then
    # degraded the same way: on full-range scenes the percentile stretch of a "low contrast" prompt
    # is already exact, which the network must learn to leave alone (few training scenes are).
    full_range_fraction: float = 0.0


@dataclass
class OptimConfig:
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    min_lr_ratio: float = 0.05  # cosine decays to lr * min_lr_ratio
    grad_clip: float = 1.0
    # part (a submodule name, as in freeze) -> factor on its learning rate, e.g. a gate that must
    # move far from its initial bias while the network it gates is only fine-tuned
    lr_scale: dict[str, float] = field(default_factory=dict)


@dataclass
class ValidationConfig:
    every: int = 200
    items: int = 12  # held-out scenes scored per validation
    size: int = 256  # long side of validation images
    metric: str = "loss"  # what selects the best checkpoint: "loss" or a metric name, e.g. "Qabf"
    steps: int = 4  # flow models: sampling steps at validation
    # degradations and prompts of the validation items: fixed apart from the training seed, so
    # runs with another seed (a fine-tune, a second try) are scored on the same items
    seed: int = 0


@dataclass
class TrainConfig:
    name: str = "model"  # run / weights name, e.g. "moefusion-vif"
    arch: str = "moe-fusion"
    objective: str = ""  # what a step computes (fusecli.train.objectives); empty: the arch's own
    model: dict[str, Any] = field(default_factory=dict)  # overrides of the architecture's config
    tasks: list[str] = field(default_factory=lambda: ["vif"])
    init: dict[str, str] = field(default_factory=dict)  # submodule (or "model": all of it) -> weights file
    freeze: list[str] = field(default_factory=list)  # submodules kept fixed, e.g. ["autoencoder"]
    reset: list[str] = field(default_factory=list)  # with init.model: submodules that start fresh, e.g. ["head"]
    teacher: dict[str, str] = field(default_factory=dict)  # task -> training-free method or weights file
    losses: dict[str, float] = field(default_factory=dict)
    task_losses: dict[str, dict[str, float]] = field(default_factory=dict)  # task -> weights replacing those of `losses` for its batches
    steps: int = 1000
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bfloat16 autocast on CUDA
    log_every: int = 10
    threads: int = 0  # torch CPU threads (0: torch's default)
    out: str = "runs/model"
    data: DataConfig = field(default_factory=DataConfig)
    degrade: DegradeConfig = field(default_factory=DegradeConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    base_dir: str = "."  # folder relative paths are resolved against (the config file's)

    def path(self, value: str) -> Path:
        """``value`` resolved against the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def loss_weights(self, task: str) -> dict[str, float]:
        """The loss weights for a batch of ``task`` (:func:`fusecli.train.losses.task_weights`)."""
        from fusecli.train.losses import task_weights

        return task_weights(self.losses, self.task_losses, task)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=value`` -> (["a", "b"], value); the value is read as TOML (bare words are strings)."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text}: {key} is not a table")
        node[keys[-1]] = value
    return data


def check(config: TrainConfig) -> TrainConfig:
    for task in config.tasks:
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r} in tasks; choose from {', '.join(TASKS)}")
    if config.steps < 1 or config.data.batch < 1 or config.data.crop < 16:
        raise ConfigError("steps and data.batch must be >= 1 and data.crop >= 16")
    if not 0 <= config.data.camera_jitter <= 1:
        raise ConfigError("data.camera_jitter must be in [0, 1]")
    if not 0 <= config.data.val_fraction < 1:
        raise ConfigError("data.val_fraction must be in [0, 1)")
    if config.data.focus_synthetic and "mff" not in config.tasks:
        raise ConfigError("data.focus_synthetic makes MFF pairs: add \"mff\" to tasks")
    if not 0 <= config.data.focus_synthetic_fraction <= 1:
        raise ConfigError("data.focus_synthetic_fraction must be in [0, 1]")
    if config.data.max_frames < 2:
        raise ConfigError("data.max_frames must be >= 2")
    if config.data.crop > config.data.max_side:
        raise ConfigError(
            f"data.crop {config.data.crop} is larger than data.max_side {config.data.max_side} (the long side scenes are loaded at): "
            "every crop would be an up-sampled scene; lower data.crop or raise data.max_side"
        )
    _check_numbers(config, "")
    if not config.optim.lr > 0:
        raise ConfigError(f"optim.lr must be a positive number, got {config.optim.lr}")
    stray = sorted(set(config.task_losses) - set(config.tasks))
    if stray:
        raise ConfigError(f"task_losses names task(s) {', '.join(stray)} that the config does not train (tasks = {config.tasks})")
    tables = {"losses": config.losses, **{f"task_losses.{task}": weights for task, weights in config.task_losses.items()}}
    negative = sorted(f"{table}.{name}" for table, weights in tables.items() for name, weight in weights.items() if weight < 0)
    if negative:
        raise ConfigError(f"loss weights must be >= 0: {', '.join(negative)}")
    from fusecli.degrade.ops import DEGRADATIONS
    from fusecli.train.losses import LOSS_NAMES
    from fusecli.train.metric_losses import METRIC_LOSS_NAMES

    unknown = sorted(set(config.degrade.allowed) - set(DEGRADATIONS.names()))
    if unknown:
        raise ConfigError(f"unknown degradation(s) {', '.join(unknown)} in degrade.allowed; choose from {', '.join(DEGRADATIONS.names())}")

    from fusecli.train.objectives import OBJECTIVES, OBJECTIVE_ARCH

    objective = config.objective or config.arch
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; choose from {', '.join(sorted(OBJECTIVES))}")
    if OBJECTIVE_ARCH.get(objective, objective) != config.arch:
        raise ConfigError(f"objective {objective!r} trains arch {OBJECTIVE_ARCH[objective]!r}, not {config.arch!r}")
    names = (*LOSS_NAMES, "load_local", "load_global", "prompt_words", *METRIC_LOSS_NAMES)
    unknown = sorted(f"{table}.{name}" for table, weights in tables.items() for name in weights if name not in names)
    if unknown:
        raise ConfigError(f"unknown loss(es) {', '.join(unknown)}; choose from {', '.join(names)}")
    return config


def _check_numbers(value: Any, where: str) -> None:
    """Every number in the config (nested tables and dicts included) is finite: NaN or inf in a
    learning rate or loss weight would only show as a diverged run."""
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _check_numbers(getattr(value, f.name), f"{where}{f.name}.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, f"{where}{key}.")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where[:-1]} must be a finite number, got {value}")


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a TOML config (or start from defaults with ``path=None``) and apply overrides."""
    data: dict[str, Any] = {}
    base = Path(".")
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        base = path.resolve().parent
    data = apply_overrides(data, overrides)
    data.setdefault("base_dir", str(base))
    return check(config_from_dict(TrainConfig, data, "", ConfigError))
