"""Where no-reference metrics find their trained models: an environment variable, else the data
files of a well-kept package installed as an extra (found without importing the package)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from fusecli.errors import FusecliError


class MissingModelError(FusecliError):
    """A metric needs a data file that is not installed."""


def find_model_file(env_var: str, package: str, relative: str, missing: str) -> Path:
    """``$env_var`` if set, else ``<package dir>/<relative>`` if it exists; else raise with ``missing``."""
    override = os.environ.get(env_var)
    if override:
        return Path(override)
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / relative
        if candidate.exists():
            return candidate
    raise MissingModelError(missing)
