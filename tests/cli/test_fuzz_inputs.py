"""Fuzzing every kind of file fusecli parses: a mutated file is either read or refused with one
clear line (exit 0, 1 or 2, never 3: an internal error), and no partial output is left behind."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fusecli.cli.main import cli
from fusecli.errors import FusecliError
from fusecli.imaging import write_image

from conftest import smooth_image

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))

# A mutation: (kind, position as a share of the file, bytes)
mutations = st.tuples(
    st.sampled_from(["flip", "truncate", "insert", "overwrite"]),
    st.floats(0.0, 1.0),
    st.binary(min_size=1, max_size=16),
)


def mutate(data: bytes, mutation: tuple[str, float, bytes]) -> bytes:
    kind, where, chunk = mutation
    at = min(len(data) - 1, int(where * len(data)))
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    if kind == "truncate":
        return data[:at]
    if kind == "insert":
        return data[:at] + chunk + data[at:]
    return data[:at] + chunk + data[at + len(chunk) :]


def invoke(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*.tmp")]


def fuse_refused_or_written(work: Path, *args) -> None:
    """``fusecli fuse ARGS -o work/out.png``: written (exit 0) or refused with one line (exit 2), no partial file."""
    out = work / "out.png"
    result = invoke("fuse", *args, "-o", out)
    assert result.exit_code in (0, 2), result.output
    assert out.exists() == (result.exit_code == 0) and leftovers(work) == []


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    """One valid file of each kind, and a clean second frame to fuse with."""
    root = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(1)
    gray = smooth_image(rng, 24, 32)
    colour = smooth_image(rng, 24, 32, 3)
    files = {"other": write_image(root / "other.png", gray)}
    pixels = (colour * 255).astype(np.uint8)
    for ext, params in ((".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]), (".bmp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80])):
        path = root / f"image{ext}"
        path.write_bytes(cv2.imencode(ext, pixels, params)[1].tobytes())
        files[ext] = path
    files[".tif"] = root / "image.tif"
    with tifffile.TiffWriter(files[".tif"]) as tw:
        for _ in range(2):
            tw.write((colour * 65535).astype(np.uint16), photometric="rgb", contiguous=False, compression="zlib")
    (root / "labels.txt").write_text("0 0.5 0.5 0.4 0.4\n1 0.2 0.3 0.1 0.1\n")
    (root / "labels.xml").write_text("<annotation><object><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>20</xmax><ymax>18</ymax></bndbox></object></annotation>")
    (root / "labels.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "fused.png"}], "annotations": [{"image_id": 1, "bbox": [2, 3, 10, 8]}]}))
    (root / "warp.txt").write_text("1.0 0.0 0.5\n0.0 1.0 -0.5\n0.0 0.0 1.0\n")
    files.update({k: root / f"labels{k}" for k in (".txt", ".xml", ".json")} | {"warp": root / "warp.txt"})
    write_image(root / "fused.png", gray)
    files["fused"] = root / "fused.png"
    from fusecli.models.weights import build_entry, save_weights

    torch.manual_seed(0)
    files["weights"] = save_weights(build_entry("moefusion-mff"), root / "model.safetensors")
    return files


IMAGE_KINDS = [".png", ".jpg", ".bmp", ".webp", ".tif"]


@pytest.mark.parametrize("kind", IMAGE_KINDS)
@FUZZ
@given(mutation=mutations)
@example(mutation=("flip", 0.0015, b"\0"))  # a TIFF tag read as a tuple where a size belongs
def test_mutated_images(good, tmp_path_factory, kind, mutation):
    work = tmp_path_factory.mktemp("img")
    path = work / f"input{kind}"
    path.write_bytes(mutate(good[kind].read_bytes(), mutation))
    fuse_refused_or_written(work, path, good["other"], "--task", "mff")
    scored = invoke("metrics", path, good["other"], good["fused"], "--metrics", "EN,SSIM")
    assert scored.exit_code in (0, 2), scored.output


@pytest.mark.parametrize("kind", [".txt", ".xml", ".json"])
@FUZZ
@given(mutation=mutations)
def test_mutated_labels(good, tmp_path_factory, kind, mutation):
    work = tmp_path_factory.mktemp("labels")
    labels = work / f"labels{kind}"
    labels.write_bytes(mutate(good[kind].read_bytes(), mutation))
    result = invoke("metrics", good["fused"], good["other"], good["fused"], "--metrics", "EN", "--boxes", labels)
    assert result.exit_code in (0, 2), result.output


@FUZZ
@given(mutation=mutations)
def test_mutated_warp_files(good, tmp_path_factory, mutation):
    work = tmp_path_factory.mktemp("warp")
    warp = work / "warp.txt"
    warp.write_bytes(mutate(good["warp"].read_bytes(), mutation))
    fuse_refused_or_written(work, "--ir", good["other"], "--vis", good[".png"], "--ir-warp", warp, "--model", "pyramid-vif")


@FUZZ
@given(text=st.binary(max_size=64))
def test_arbitrary_prompt_files(good, tmp_path_factory, text):
    work = tmp_path_factory.mktemp("prompts")
    for folder, image in (("ir", good["other"]), ("vis", good[".png"])):
        (work / folder).mkdir()
        (work / folder / "s.png").write_bytes(image.read_bytes())
    (work / "prompts").mkdir()
    (work / "prompts" / "s.txt").write_bytes(text)
    result = invoke("fuse", "--ir", work / "ir", "--vis", work / "vis", "--prompts", work / "prompts", "--model", "pyramid-vif", "-o", work / "out")
    assert result.exit_code in (0, 1), result.output
    assert (work / "out" / "s.png").exists() == (result.exit_code == 0) and leftovers(work) == []


@FUZZ
@given(mutation=mutations)
def test_mutated_weights(good, tmp_path_factory, mutation):
    work = tmp_path_factory.mktemp("weights")
    weights = work / "model.safetensors"
    weights.write_bytes(mutate(good["weights"].read_bytes(), mutation))
    fuse_refused_or_written(work, good["other"], good["fused"], "--task", "mff", "--model", weights)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A real checkpoint set of a tiny model and its optimizer."""
    from fusecli.models.weights import build
    from fusecli.train.checkpoint import save_checkpoint

    folder = tmp_path_factory.mktemp("checkpoint")
    torch.manual_seed(0)
    model = build("moe-fusion", {"channels": 4, "local_hidden": 4, "global_widths": [8, 4], "global_first_kernel": 1})
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sum(p.sum() for p in model.parameters()).backward()
    optimizer.step()
    save_checkpoint(folder, model, optimizer, 1, None, {}, False)
    return folder, model, optimizer


@pytest.mark.parametrize("name", ["last.safetensors", "last.state.safetensors", "last.state.json"])
@FUZZ
@given(mutation=mutations)
def test_mutated_checkpoints_resume_or_are_refused(checkpoint, tmp_path_factory, name, mutation):
    """--resume from a damaged checkpoint: restored, or a FusecliError (one line, exit 2)."""
    import shutil

    from fusecli.train.checkpoint import load_checkpoint

    folder, model, optimizer = checkpoint
    work = tmp_path_factory.mktemp("resume")
    for f in folder.iterdir():
        shutil.copy(f, work / f.name)
    (work / name).write_bytes(mutate((folder / name).read_bytes(), mutation))
    try:
        load_checkpoint(work, model, optimizer)
    except FusecliError:
        pass
