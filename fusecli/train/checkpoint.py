"""Training checkpoints without pickle: weights, optimizer state and counters.

``RUN/checkpoints/``::

    last.safetensors          the model (loadable by ``fusecli fuse --model``), config + provenance
    best.safetensors          the best validation checkpoint so far
    last.state.safetensors    AdamW moments, one tensor per parameter and key
    last.state.json           step, best score, optimizer param groups (written last)

Each save gives its three ``last.*`` files one token; ``--resume`` checks that they share it, so a
save cut short (files of two different steps) is reported instead of resumed from.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from fusecli.errors import FusecliError
from fusecli.imaging import write_bytes_atomic
from fusecli.models.weights import save_weights


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into flat tensors (``state.<param>.<key>``) and JSON groups."""
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"state.{index}.{key}"] = (value if torch.is_tensor(value) else torch.tensor(value)).detach().contiguous().cpu()
    return tensors, {"param_groups": state["param_groups"]}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: dict[str, Any]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups["param_groups"]})


def save_checkpoint(
    folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int, best: float | None, provenance: dict[str, Any], is_best: bool
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    token = f"{step}-{uuid.uuid4().hex[:12]}"
    info = {**provenance, "steps": step}
    save_weights(model, folder / "last.safetensors", {**info, "checkpoint": token})
    if is_best:
        save_weights(model, folder / "best.safetensors", info)
    tensors, groups = optimizer_tensors(optimizer)
    write_bytes_atomic(folder / "last.state.safetensors", save_safetensors_bytes(tensors, metadata={"checkpoint": token}))
    data = {"step": step, "best": best, "checkpoint": token, **groups}
    write_bytes_atomic(folder / "last.state.json", json.dumps(data).encode("utf-8"))


def load_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, float | None]:
    """Restore model and optimizer from ``folder``; returns (step, best score)."""
    state_json = folder / "last.state.json"
    if not state_json.is_file():
        raise FusecliError(f"nothing to resume: {state_json} not found (start without --resume)")
    from fusecli.models.weights import load_weights

    try:
        data = json.loads(state_json.read_text(encoding="utf-8"))
        step = int(data["step"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise FusecliError(f"{state_json}: corrupt checkpoint state ({exc}); start a new run (another --out)") from None
    saved = load_weights(folder / "last.safetensors", arch=model.arch)  # type: ignore[attr-defined]
    if saved.config != model.config:  # type: ignore[attr-defined]
        raise FusecliError(f"{folder}: the checkpoint's model config differs from this config; use another --out or the same config")
    model.load_state_dict(saved.state_dict())
    state_file = folder / "last.state.safetensors"
    try:
        with safe_open(str(state_file), framework="pt") as handle:
            state_token = (handle.metadata() or {}).get("checkpoint")
        tensors = load_safetensors_bytes(state_file.read_bytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise FusecliError(f"{state_file}: corrupt optimizer state ({exc}); start a new run (another --out)") from None
    tokens = {data.get("checkpoint"), state_token, (getattr(saved, "provenance", None) or {}).get("checkpoint")}
    if len(tokens) != 1:
        raise FusecliError(f"{folder}: the checkpoint's files come from different saves (a save was cut short); start a new run (another --out)")
    try:
        restore_optimizer(optimizer, tensors, data)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise FusecliError(f"{state_file}: the optimizer state does not fit this model ({exc}); start a new run (another --out)") from None
    return step, data.get("best")
