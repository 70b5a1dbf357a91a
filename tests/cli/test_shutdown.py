"""A batch killed mid-run leaves no process behind, and the rerun finishes it as if uninterrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fusecli.imaging import write_image

from conftest import smooth_image

PAIRS = 24


def live_processes(sid: int) -> list[str]:
    """``pid command`` of the live processes whose SID (as ``ps`` shows it) is ``sid``: the batch and all it started (zombies aside)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    rows = [line.split(None, 3) for line in out.splitlines() if line.strip()]
    return [f"{r[0]} {r[3] if len(r) > 3 else ''}" for r in rows if int(r[1]) == sid and not r[2].startswith("Z")]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    for k in range(PAIRS):
        write_image(root / "ir" / f"{k:03d}.png", smooth_image(rng, 600, 800))
        write_image(root / "vis" / f"{k:03d}.png", smooth_image(rng, 600, 800, 3))
    return root


def batch(folders: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "fusecli", "-q", "fuse", "--task", "vif", "--model", "pyramid-vif", "--ir", str(folders / "ir"),
            "--vis", str(folders / "vis"), "-o", str(out), "--jobs", "2"]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_batch_leaves_no_process_and_resumes_to_the_same_bytes(folders, tmp_path, how):
    whole = tmp_path / "whole"
    subprocess.run(batch(folders, whole), check=True, capture_output=True)
    out = tmp_path / "out"
    child = subprocess.Popen(batch(folders, out), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(out.glob("*.png"))) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    assert child.poll() is None, "the batch finished before it could be killed: make it longer"
    os.kill(child.pid, how)
    code = child.wait(timeout=30)
    assert code == (-signal.SIGKILL if how == signal.SIGKILL else 130), child.stderr.read().decode()
    deadline = time.monotonic() + 5
    while live_processes(child.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_processes(child.pid) == []
    finished = sorted(p.name for p in out.glob("*.png"))
    assert 0 < len(finished) < PAIRS  # killed mid-batch
    subprocess.run(batch(folders, out), check=True, capture_output=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in whole.iterdir())  # no temporary files left
    for name in sorted(p.name for p in whole.iterdir()):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
