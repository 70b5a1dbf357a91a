"""The same inputs, model, seed and options give the same bytes however a batch is split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.fusion import fuse
from fusecli.imaging import write_image

from conftest import smooth_image


def run(*args) -> None:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    """4 VIF pairs, 4 MEF brackets (sub-folders), 4 MFF stacks (sub-folders)."""
    root = tmp_path_factory.mktemp("scenes")
    rng = np.random.default_rng(11)
    for k in range(4):
        scene = smooth_image(rng, 72, 96, 3)
        write_image(root / "ir" / f"p{k}.png", scene.mean(-1) ** 0.8)
        write_image(root / "vis" / f"p{k}.png", scene)
        for i, gain in enumerate((0.4, 1.0, 1.8)):
            write_image(root / "mef" / f"s{k}" / f"{i}.png", np.clip(scene * gain, 0, 1))
        import cv2

        write_image(root / "mff" / f"s{k}" / "0.png", cv2.GaussianBlur(scene, (0, 0), 2))
        write_image(root / "mff" / f"s{k}" / "1.png", scene)
    return root


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    """An (untrained) network file of each architecture family a batch runs."""
    from fusecli.models.weights import build_entry, save_weights

    torch.manual_seed(0)
    return save_weights(build_entry("moefusion-vif"), tmp_path_factory.mktemp("weights") / "vif.safetensors")


def batches(scenes: Path, task: str, model: str | Path | None) -> list:
    inputs = ["--ir", scenes / "ir", "--vis", scenes / "vis"] if task == "vif" else ["--stacks", scenes / task]
    return ["fuse", "--task", task, *inputs, *(["--model", model] if model else [])]


@pytest.mark.parametrize("task,model", [("vif", None), ("mef", None), ("mff", None), ("vif", "network"), ("mef", "mmaif"), ("mff", "moefusion-mff")])
def test_the_same_bytes_for_any_number_of_jobs(scenes, network, tmp_path, task, model):
    """Each task's default (training-free where no weights ship) and networks: --jobs 1 and --jobs 2
    write identical files (a network runs on one torch thread per call: oneDNN's results change in
    the last bits with the thread count)."""
    if model in ("mmaif", "moefusion-mff"):
        from fusecli.models.weights import build_entry, save_weights

        torch.manual_seed(1)
        arch = "mmaif-reg" if model == "mmaif" else model
        model = save_weights(build_entry(arch), tmp_path / f"{arch}.safetensors")
    elif model == "network":
        model = network
    for jobs in (1, 2):
        run(*batches(scenes, task, model), "-o", tmp_path / f"jobs{jobs}", "--jobs", jobs)
    assert files(tmp_path / "jobs1") == files(tmp_path / "jobs2")


def test_a_network_gives_the_same_result_on_any_number_of_threads(scenes, network):
    from fusecli.imaging import read_image

    pair = [read_image(scenes / "ir" / "p0.png")[0], read_image(scenes / "vis" / "p0.png")[0]]
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results.append(fuse(pair, task="vif", model=str(network)).image)
    finally:
        torch.set_num_threads(before)
    assert all(np.array_equal(results[0], r) for r in results[1:])


def test_tiles_give_the_same_bytes_with_any_number_of_workers(scenes, network):
    from fusecli.imaging import read_image

    pair = [read_image(scenes / "ir" / "p1.png")[0], read_image(scenes / "vis" / "p1.png")[0]]
    outputs = [fuse(pair, task="vif", model=str(network), tile=64, overlap=16, workers=w).image for w in (1, 3)]
    assert np.array_equal(outputs[0], outputs[1])


@pytest.mark.weights
def test_the_shipped_vif_network_gives_the_same_bytes_for_any_number_of_jobs(tmp_path):
    """On the astronaut example, 1 and 2 torch threads differed in 7 of its pixels before each
    network call got one thread."""
    from conftest import EXAMPLES

    for name in ("a", "b"):
        for folder, source in (("ir", "vif/astronaut_ir.png"), ("vis", "vif/astronaut_vis.jpg")):
            (tmp_path / folder).mkdir(exist_ok=True)
            (tmp_path / folder / f"{name}{Path(source).suffix}").write_bytes((EXAMPLES / source).read_bytes())
    for jobs in (1, 2):
        run("fuse", "--task", "vif", "--model", "moefusion-vif", "--ir", tmp_path / "ir", "--vis", tmp_path / "vis",
            "-o", tmp_path / f"jobs{jobs}", "--jobs", jobs)
    assert files(tmp_path / "jobs1") == files(tmp_path / "jobs2")


def test_parallel_tiles_of_a_stateful_network_match_sequential_ones(scenes, tmp_path):
    """An all-in-one model keeps its last call's gates and expert routing on its modules; tiles
    fused at the same time must not see each other's (each thread has its own copy)."""
    from fusecli.imaging import read_image
    from fusecli.models.weights import build_entry, save_weights

    torch.manual_seed(2)
    path = save_weights(build_entry("mmaif-reg"), tmp_path / "mmaif.safetensors")
    frames = [read_image(scenes / "mef" / "s2" / f"{i}.png")[0] for i in range(3)]
    frames = [np.pad(f, ((0, 120), (0, 100), (0, 0)), mode="reflect") for f in frames]  # 192 x 196: several 64-px tiles
    runs = [fuse(list(frames), task="mef", model=str(path), prompt="remove the noise", tile=64, overlap=16, routing=True, workers=w)
            for w in (1, 3)]
    assert np.array_equal(runs[0].image, runs[1].image) and np.array_equal(runs[0].experts, runs[1].experts)
