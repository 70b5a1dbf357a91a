"""Training checkpoints without pickle: weights, optimizer state and counters.

``RUN/checkpoints/``::

    last.safetensors          the model (loadable by ``fusecli fuse --model``), config + provenance
    best.safetensors          the best validation checkpoint so far
    last.state.safetensors    AdamW moments, one tensor per parameter and key
    last.state.json           step, best score, optimizer param groups (written last: marks the set complete)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
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
    info = {**provenance, "steps": step}
    save_weights(model, folder / "last.safetensors", info)
    if is_best:
        save_weights(model, folder / "best.safetensors", info)
    tensors, groups = optimizer_tensors(optimizer)
    write_bytes_atomic(folder / "last.state.safetensors", save_safetensors_bytes(tensors))
    data = {"step": step, "best": best, **groups}
    write_bytes_atomic(folder / "last.state.json", json.dumps(data).encode("utf-8"))


def load_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, float | None]:
    """Restore model and optimizer from ``folder``; returns (step, best score)."""
    state_json = folder / "last.state.json"
    if not state_json.is_file():
        raise FusecliError(f"nothing to resume: {state_json} not found (start without --resume)")
    from fusecli.models.weights import load_weights

    data = json.loads(state_json.read_text(encoding="utf-8"))
    saved = load_weights(folder / "last.safetensors", arch=model.arch)  # type: ignore[attr-defined]
    if saved.config != model.config:  # type: ignore[attr-defined]
        raise FusecliError(f"{folder}: the checkpoint's model config differs from this config; use another --out or the same config")
    model.load_state_dict(saved.state_dict())
    tensors = load_safetensors_bytes((folder / "last.state.safetensors").read_bytes())
    restore_optimizer(optimizer, tensors, data)
    return int(data["step"]), data.get("best")
