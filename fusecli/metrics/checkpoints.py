"""Pretrained weights for the learned quality metrics (MUSIQ, CLIP-IQA).

Nothing is downloaded: the user names the file (``fusecli metrics --weights MUSIQ=PATH``) or
puts it, under its published file name, in the weights folder ``$FUSECLI_METRIC_WEIGHTS``
(default ``~/.cache/fusecli/metrics``). Files are read without running pickled code:
safetensors, ``torch.save`` state dicts (``weights_only`` loading) and TorchScript archives
such as OpenAI's CLIP ``RN50.pt`` (only their tensors are kept).
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import Mapping, Sequence

from fusecli.metrics.model_files import MissingModelError

WEIGHTS_DIR_ENV = "FUSECLI_METRIC_WEIGHTS"


class CheckpointError(MissingModelError):
    """A weights file exists but is not a checkpoint of the expected model."""


def weights_dir() -> Path:
    """The folder searched for metric weights by file name."""
    return Path(os.environ.get(WEIGHTS_DIR_ENV) or Path.home() / ".cache" / "fusecli" / "metrics")


def resolve_weights(key: str, given: Mapping[str, str | Path], file_names: Sequence[str], where: str) -> Path:
    """The weights file for ``key``: ``given[key]`` (from ``--weights``), else the first of
    ``file_names`` in :func:`weights_dir`; a clear error naming the file otherwise."""
    for name, path in given.items():
        if name.upper() == key.upper():
            path = Path(path)
            if not path.is_file():
                raise MissingModelError(f"{key} weights: {path} is not a file")
            return path
    folder = weights_dir()
    for name in file_names:
        if (folder / name).is_file():
            return folder / name
    raise MissingModelError(
        f"{key} needs pretrained weights, which fusecli cannot download: get {file_names[0]} ({where}) "
        f"and pass --weights {key}=PATH, or put it in {folder} (${WEIGHTS_DIR_ENV})"
    )


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in n or n.endswith("/constants.pkl") for n in archive.namelist())


def load_state_dict(path: Path) -> tuple[dict, dict[str, str]]:
    """``(name -> float32 tensor, metadata)`` from a safetensors, state-dict or TorchScript file.

    Wrappers used by the public releases (``{"params": ...}``, ``{"state_dict": ...}``) and
    DataParallel's ``module.`` prefix are removed.
    """
    import torch

    path = Path(path)
    metadata: dict[str, str] = {}
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                metadata = dict(f.metadata() or {})
                state = {k: f.get_tensor(k) for k in f.keys()}
        elif _is_torchscript(path):  # e.g. OpenAI's CLIP releases; only the tensors are kept
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                state = dict(torch.jit.load(str(path), map_location="cpu").state_dict())
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"cannot read {path} as a weights file: {exc}") from exc
    except Exception as exc:  # unpickling refused (weights_only) raises library-specific errors
        raise CheckpointError(f"cannot read {path} as a weights file: {type(exc).__name__}: {exc}") from exc
    for wrapper in ("params_ema", "params", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    state = {k.removeprefix("module."): v.float() if v.is_floating_point() else v for k, v in state.items()}
    return state, metadata


def check_keys(state: Mapping, expected: Sequence[str], path: Path, model: str) -> None:
    """Raise :class:`CheckpointError` when ``state`` misses the tensors ``model`` needs."""
    missing = [k for k in expected if k not in state]
    if missing:
        shown = ", ".join(missing[:4]) + (" …" if len(missing) > 4 else "")
        raise CheckpointError(f"{path} is not a {model} checkpoint: it has no {shown}")
