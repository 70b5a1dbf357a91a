"""The model zoo: names users type -> architecture + weights file, or a training-free method.

Weights are safetensors files whose metadata carries everything needed to rebuild the model
without executing code: ``arch`` (a name in :data:`ARCHITECTURES`), ``config`` (the
architecture's dataclass as JSON) and ``provenance`` (training data, steps, hardware,
metrics as JSON). Loading checks all three and fails with a one-line :class:`WeightsError`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from fusecli import __version__
from fusecli.errors import WeightsError
from fusecli.imaging import write_bytes_atomic
from fusecli.registry import Registry
from fusecli import catalog
from fusecli.catalog import CATALOG, Entry, weights_path
from fusecli.models.autoencoder_arch import Autoencoder
from fusecli.models.blend_vif_arch import BlendVIF
from fusecli.models.base import config_from_dict, config_to_dict
from fusecli.models.mmaif_arch import MMAIF
from fusecli.models.moe_fusion_arch import MoEFusion
from fusecli.models.restorer_arch import Restorer

ARCHITECTURES: Registry[type[nn.Module]] = Registry("architecture")
for _cls in (MoEFusion, MMAIF, Autoencoder, Restorer, BlendVIF):
    ARCHITECTURES.register(_cls.arch, _cls)

FORMAT = "fusecli-weights-1"


def build(arch: str, config: dict[str, Any] | None = None) -> nn.Module:
    """A freshly initialised model of ``arch`` with ``config`` overriding the defaults."""
    cls = ARCHITECTURES.get(arch)
    try:
        cfg = config_from_dict(cls.config_class, config or {})
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"config does not fit architecture {arch!r}: {exc}") from None
    return cls(cfg)


def build_entry(name: str) -> nn.Module:
    entry = CATALOG.get(name)
    if entry.arch is None:
        raise WeightsError(f"{entry.name!r} is a training-free method, not a network")
    return build(entry.arch, entry.config)


def save_weights(model: nn.Module, path: str | os.PathLike, provenance: dict[str, Any] | None = None, half: bool = False) -> Path:
    """Write ``model`` as safetensors with arch, config and provenance in the metadata (atomically).

    ``half``: store floating tensors as float16 (half the file; loading casts back to float32).
    """
    path = Path(path)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    metadata = {
        "format": FORMAT,
        "arch": model.arch,  # type: ignore[attr-defined]
        "config": json.dumps(config_to_dict(model.config)),  # type: ignore[attr-defined]
        "provenance": json.dumps(provenance or {}),
        "fusecli_version": __version__,
    }
    write_bytes_atomic(path, save_safetensors_bytes(tensors, metadata=metadata))
    return path


def export_weights(source: str | os.PathLike, target: str | os.PathLike, half: bool = False, overwrite: bool = False) -> Path:
    """Copy a checkpoint (e.g. ``RUN/checkpoints/best.safetensors``) to a shippable weights file."""
    from fusecli.imaging import check_output_free

    target = Path(target)
    check_output_free(target, overwrite)
    model = load_weights(source)
    provenance = dict(getattr(model, "provenance", {}) or {})
    provenance["exported_from"] = Path(source).name + (" (float16)" if half else "")
    return save_weights(model, target, provenance, half=half)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Arch, config and provenance of a weights file (decoded), without loading tensors."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file ({exc})") from None
    if meta.get("format") != FORMAT or "arch" not in meta:
        raise WeightsError(f"{path} is a safetensors file but not fusecli weights (no fusecli metadata)")
    try:
        return {
            "arch": meta["arch"],
            "config": json.loads(meta.get("config", "{}")),
            "provenance": json.loads(meta.get("provenance", "{}")),
            "fusecli_version": meta.get("fusecli_version", "?"),
        }
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{path}: corrupt metadata ({exc})") from None


def load_weights(path: str | os.PathLike, device: str | torch.device = "cpu", arch: str | None = None) -> nn.Module:
    """Rebuild the model stored in ``path`` (eval mode). ``arch`` checks it is the expected kind."""
    path = Path(path)
    meta = read_metadata(path)
    if arch is not None and meta["arch"] != arch:
        raise WeightsError(f"{path} holds a {meta['arch']!r} model, expected {arch!r}")
    if meta["arch"] not in ARCHITECTURES:
        raise WeightsError(f"{path}: unknown architecture {meta['arch']!r} (made by fusecli {meta['fusecli_version']}?)")
    model = build(meta["arch"], meta["config"])
    try:
        tensors = load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path} is corrupt ({exc})") from None
    broken = [name for name, tensor in tensors.items() if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if broken:
        raise WeightsError(f"{path}: {len(broken)} tensor(s) hold NaN or infinite values (first: {broken[0]}): a diverged or corrupt file")
    missing, unexpected = _state_mismatch(model, tensors)
    if missing or unexpected:
        raise WeightsError(f"{path} does not match its config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.load_state_dict(tensors, strict=True)
    model.provenance = meta["provenance"]  # type: ignore[attr-defined]
    return model.to(device).eval()


def _state_mismatch(model: nn.Module, tensors: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    missing += [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    return missing, unexpected


def load_model(name_or_path: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """A learned model by zoo name (from the shipped weights) or by weights path."""
    text = str(name_or_path)
    if text.endswith(".safetensors") or os.sep in text or Path(text).is_file():
        return load_weights(text, device)
    entry = CATALOG.get(text)
    if entry.kind == "training-free":
        raise WeightsError(f"{entry.name!r} is a training-free method; it has no weights to load")
    path = weights_path(entry)
    if path is None:
        places = " or ".join(str(d) for d in catalog.weights_dirs()[:2])
        raise WeightsError(
            f"weights for {entry.name!r} not found: expected {entry.weights_file} in {places}; "
            f"train them with 'fusecli train' or pass --model PATH"
        )
    return load_weights(path, device, arch=entry.arch)


def describe(entry: Entry) -> dict[str, Any]:
    """What ``fusecli models`` shows for one entry."""
    path = weights_path(entry)
    params = None
    if entry.arch is not None:  # as the file stores it (a run may add parts, e.g. learned words), else the catalog's
        config = entry.config
        if path:
            try:
                config = read_metadata(path)["config"]
            except WeightsError:  # a broken file is reported by whatever loads it
                pass
        params = sum(p.numel() for p in build(entry.arch, config).parameters())
    return {
        "name": entry.name,
        "kind": entry.kind,
        "tasks": list(entry.tasks),
        "parameters": params,
        "weights": str(path) if path else None,
        "size_bytes": path.stat().st_size if path else None,
        "prompt": entry.prompt,
        "description": entry.description,
    }
