from __future__ import annotations

import functools
from pathlib import Path

from fusecli.batch import BatchItem, run_batch
from fusecli.errors import InputMismatchError


def _work(payload: tuple[Path, int]) -> None:
    path, value = payload
    if value < 0:
        raise InputMismatchError(f"bad value {value}")
    if value == 13:
        raise RuntimeError("unexpected")
    path.write_text(str(value))


def test_failures_are_isolated_and_reported(tmp_path):
    values = [1, -1, 2, 13, 3]
    items = [BatchItem(f"i{v}", (tmp_path / f"{i}.txt", v), (tmp_path / f"{i}.txt",)) for i, v in enumerate(values)]
    report = run_batch(items, _work, jobs=2)
    assert sorted(report.done) == ["i1", "i2", "i3"]
    assert dict(report.failed) == {"i-1": "bad value -1", "i13": "RuntimeError: unexpected"}
    assert report.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.txt", "2.txt", "4.txt"]


def test_resume_skips_finished_items(tmp_path):
    items = [BatchItem(str(v), (tmp_path / f"{v}.txt", v), (tmp_path / f"{v}.txt",)) for v in (1, 2, 3)]
    (tmp_path / "2.txt").write_text("kept")
    seen = []
    report = run_batch(items, _work, on_progress=lambda name, ok: seen.append(name))
    assert report.skipped == ["2"] and sorted(report.done) == ["1", "3"]
    assert (tmp_path / "2.txt").read_text() == "kept" and sorted(seen) == ["1", "2", "3"]
    again = run_batch(items, _work, overwrite=True)
    assert sorted(again.done) == ["1", "2", "3"] and (tmp_path / "2.txt").read_text() == "2"
    assert run_batch(items, functools.partial(_work)).exit_code == 0
