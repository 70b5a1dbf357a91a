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



def test_the_quality_protocol_passes_no_copy_and_no_learned_tie(monkeypatch):
    """The decision rule of bench/quality_protocol.py: a row that copies a source, or a learned
    model that only ties the training-free method, is never the default."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    protocol = runpy.run_path(str(REPO / "bench" / "quality_protocol.py"), run_name="bench_check")
    vif = protocol["TASKS"]["vif"]

    def row(qabf, qcv, min_ssim, vif_=0.8):
        return {"mean": {"Qabf": qabf, "Qcv": qcv, "min SSIM": min_ssim, "VIF": vif_}}

    results = {
        "infrared alone": row(0.39, 2166, 0.30), "visible alone": row(0.65, 735, 0.30),
        "average": row(0.40, 595, 0.55), "best single frame": row(0.73, 567, 0.30),
        "pyramid-vif": row(0.71, 553, 0.50), "moefusion-vif": row(0.71, 553, 0.50, vif_=0.9),
        "moefusion-vif-full": row(0.65, 735, 0.30),  # a copy of the visible frame
    }
    assert protocol["passes"](vif, results) == ["pyramid-vif"]
    results["moefusion-vif"] = row(0.72, 540, 0.52, vif_=0.9)
    assert protocol["passes"](vif, results) == ["moefusion-vif", "pyramid-vif"]
    mff = protocol["TASKS"]["mff"]  # MFF: the best single frame counts, and Qcb decides
    rows = {name: {"mean": {"Qabf": 0.6, "Qcb": 0.8, "Qcv": 30.0}} for name in ("near frame alone", "far frame alone", "average")}
    rows["best single frame"] = {"mean": {"Qabf": 0.67, "Qcb": 0.825, "Qcv": 29.0}}
    rows["focus-fusion"] = {"mean": {"Qabf": 0.74, "Qcb": 0.82, "Qcv": 28.0}}
    assert protocol["passes"](mff, rows) == []
