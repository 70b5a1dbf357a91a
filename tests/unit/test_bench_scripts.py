"""The benchmark scripts in bench/ load against the library as it is (their data is not needed)."""

from __future__ import annotations

import runpy

import pytest

from conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("*.py"))
assert len(SCRIPTS) > 10, "bench/ scripts not found"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_bench_script_loads(path, monkeypatch):
    """Every name a script imports from fusecli exists (run without ``__main__``: nothing is measured)."""
    monkeypatch.syspath_prepend(str(path.parent))
    namespace = runpy.run_path(str(path), run_name="bench_check")
    assert callable(namespace.get("main")) or path.stem == "data_root", f"{path.name} has no main()"

