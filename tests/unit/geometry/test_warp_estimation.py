"""--ir-warp auto: a rig's infrared → visible warp estimated from the pair itself."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.fusion import fuse
from fusecli.imaging import read_image, write_image
from fusecli.geometry.registration import corner_distance, read_warp
from fusecli.geometry.warp_estimation import RegistrationError, estimate_ir_warp, resolve_warp
from conftest import EXAMPLES as EXAMPLES_ROOT

EXAMPLES = EXAMPLES_ROOT / "vif"


def similarity(scale: float, roll: float, shift: tuple[float, float]) -> np.ndarray:
    """Infrared pixel → visible pixel: turned by ``roll`` degrees (counter-clockwise as seen), scaled, shifted."""
    matrix = np.vstack([cv2.getRotationMatrix2D((0, 0), roll, scale), [0, 0, 1]])
    matrix[:2, 2] = shift
    return matrix


@pytest.fixture(scope="module")
def astronaut():
    """The examples' registered thermal frame and its visible frame (the night shot: dark, noisy)."""
    return read_image(EXAMPLES / "astronaut_ir.png")[0], read_image(EXAMPLES / "astronaut_vis.jpg")[0]


@pytest.mark.parametrize(
    ("size", "matrix"),
    [
        ((256, 200), similarity(1.6, 3.0, (60, 80))),  # a low-resolution camera seeing the middle 80 %, turned 3 degrees
        ((400, 400), similarity(1.1, -2.0, (40, 20))),  # finer than the visible frame, turned the other way
        ((480, 480), similarity(1.0, 0.0, (16, 16))),  # same lens, mounted a little to the side
    ],
)
def test_a_rigs_warp_is_found_from_one_pair(astronaut, size, matrix):
    thermal, visible = astronaut
    infrared = cv2.warpPerspective(thermal, np.linalg.inv(matrix), size, flags=cv2.INTER_AREA)
    estimate = estimate_ir_warp(infrared, visible)
    assert corner_distance(matrix, estimate.matrix, infrared.shape) < 1.0
    assert estimate.correlation > 0.3 and estimate.overlap > 0.3
    roll = float(estimate.describe().split("roll ")[1].split(" deg")[0])
    assert roll == pytest.approx(np.degrees(np.arctan2(matrix[0, 1], matrix[0, 0])), abs=0.3)


def test_the_examples_rig_is_found_as_its_calibration_says(astronaut):
    rig = read_image(EXAMPLES / "astronaut_rig_ir.png")[0]
    calibration = read_warp(EXAMPLES / "astronaut_rig.txt")
    assert corner_distance(calibration.matrix, estimate_ir_warp(rig, astronaut[1]).matrix, rig.shape) < 1.0
    # Either order and any depth: the 16-bit infrared of the same scene gives the same warp.
    sixteen = read_image(EXAMPLES / "astronaut_ir16.tif", keep_integers=True)[0]
    warp = resolve_warp("auto", [astronaut[1], sixteen])
    assert corner_distance(np.eye(3), warp.matrix, sixteen.shape) < 1.0 and "estimated" in warp.description


def test_pairs_that_do_not_match_are_refused(astronaut):
    thermal, _ = astronaut
    other = read_image(EXAMPLES.parent / "mef" / "coffee_normal.jpg")[0]
    with pytest.raises(RegistrationError, match="could not register.*edge correlation") as caught:
        estimate_ir_warp(thermal, other)
    assert caught.value.correlation < 0.25
    with pytest.raises(RegistrationError, match="infrared frame is flat"):
        estimate_ir_warp(np.full((100, 120), 0.4, np.float32), other)
    with pytest.raises(Exception, match="one infrared and one visible image"):
        resolve_warp("auto", [thermal, thermal, other])


def test_fuse_and_metrics_with_auto_match_the_saved_warp(tmp_path):
    ir, vis = EXAMPLES / "astronaut_rig_ir.png", EXAMPLES / "astronaut_vis.jpg"
    runner = CliRunner()
    auto = runner.invoke(cli, ["fuse", "--ir", str(ir), "--vis", str(vis), "--model", "pyramid-vif", "--ir-warp", "auto",
                               "--save-ir-warp", str(tmp_path / "rig.txt"), "-o", str(tmp_path / "auto.png")])
    assert auto.exit_code == 0, auto.output
    assert "estimated from this pair" in auto.output and "rig.txt" in auto.output
    saved = read_warp(tmp_path / "rig.txt")
    assert corner_distance(read_warp(EXAMPLES / "astronaut_rig.txt").matrix, saved.matrix, (256, 320)) < 1.0
    again = runner.invoke(cli, ["fuse", "--ir", str(ir), "--vis", str(vis), "--model", "pyramid-vif", "--ir-warp", str(tmp_path / "rig.txt"),
                                "-o", str(tmp_path / "file.png")])
    assert again.exit_code == 0, again.output
    assert np.abs(read_image(tmp_path / "auto.png")[0] - read_image(tmp_path / "file.png")[0]).max() <= 1 / 255
    scores = [
        runner.invoke(cli, ["metrics", "--fused", str(tmp_path / "auto.png"), "--sources", str(ir), str(vis), "--metrics", "MI,Qabf",
                            "--ir-warp", warp, "--json", str(tmp_path / f"{n}.json")])
        for n, warp in (("a", "auto"), ("f", str(tmp_path / "rig.txt")))
    ]
    assert all(s.exit_code == 0 for s in scores), [s.output for s in scores]
    assert (tmp_path / "a.json").read_text() == (tmp_path / "f.json").read_text()
    # The saved file is never written over, and only an estimate can be saved.
    refused = runner.invoke(cli, ["fuse", "--ir", str(ir), "--vis", str(vis), "--ir-warp", "auto", "--save-ir-warp", str(tmp_path / "rig.txt"),
                                  "-o", str(tmp_path / "x.png")])
    assert refused.exit_code != 0 and "already exists" in refused.output and not (tmp_path / "x.png").exists()
    plain = runner.invoke(cli, ["fuse", "--ir", str(ir), "--vis", str(vis), "--ir-warp", str(tmp_path / "rig.txt"), "--save-ir-warp",
                                str(tmp_path / "y.txt"), "-o", str(tmp_path / "y.png")])
    assert plain.exit_code == 2 and "add --ir-warp auto" in plain.output


def test_a_folder_with_auto_fuses_the_pairs_that_register_and_reports_the_one_that_does_not(tmp_path, astronaut):
    thermal, visible = astronaut
    for folder in ("ir", "vis"):
        (tmp_path / folder).mkdir()
    for k, (scale, roll) in enumerate(((1.3, 2.0), (1.5, -1.0))):
        matrix = similarity(scale, roll, (50, 60))
        write_image(tmp_path / "ir" / f"p{k}.png", cv2.warpPerspective(thermal, np.linalg.inv(matrix), (300, 250), flags=cv2.INTER_AREA))
        write_image(tmp_path / "vis" / f"p{k}.png", visible)
    write_image(tmp_path / "ir" / "wrong.png", thermal)
    write_image(tmp_path / "vis" / "wrong.png", read_image(EXAMPLES.parent / "mef" / "coffee_normal.jpg")[0])
    result = CliRunner().invoke(cli, ["fuse", "--ir", str(tmp_path / "ir"), "--vis", str(tmp_path / "vis"), "--model", "pyramid-vif",
                                      "--ir-warp", "auto", "-o", str(tmp_path / "out")])
    assert result.exit_code != 0 and "wrong" in result.output and "could not register" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png"]


def test_the_library_call_registers_before_fusing(astronaut):
    thermal, visible = astronaut
    matrix = similarity(1.4, 1.0, (40, 50))
    infrared = cv2.warpPerspective(thermal, np.linalg.inv(matrix), (300, 260), flags=cv2.INTER_AREA)
    result = fuse([infrared, visible], model="pyramid-vif", ir_warp="auto")
    assert corner_distance(matrix, result.ir_warp.matrix, infrared.shape) < 1.0
    fixed = fuse([infrared, visible], model="pyramid-vif", ir_warp=resolve_warp("auto", [infrared, visible]))
    assert np.array_equal(result.image, fixed.image)
    assert any("estimated from this pair" in note for note in result.notes)
