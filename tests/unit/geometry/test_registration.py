"""--ir-warp: a camera rig's infrared frames registered onto its visible frames before fusion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.errors import InputMismatchError
from fusecli.fusion import fuse
from fusecli.imaging import read_image, write_image
from fusecli.geometry.registration import WarpFileError, common_box, parse_warp, project, register_infrared

from conftest import smooth_image

# A rig whose infrared camera sees the middle 70 % of the visible view, turned by 3 degrees,
# at a lower resolution: infrared pixel -> visible pixel.
VIS_H, VIS_W = 192, 256
IR_H, IR_W = 120, 150


def rig_matrix() -> np.ndarray:
    turn = np.vstack([cv2.getRotationMatrix2D((VIS_W / 2, VIS_H / 2), 3.0, 1.0), [0, 0, 1]])
    scale = np.array([[0.7 * VIS_W / (IR_W - 1), 0, 0.15 * VIS_W], [0, 0.7 * VIS_H / (IR_H - 1), 0.15 * VIS_H], [0, 0, 1]])
    return turn @ scale


@pytest.fixture
def scene(rng):
    """(registered infrared, visible, the rig's raw infrared frame): float32 0..1."""
    visible = smooth_image(rng, VIS_H, VIS_W, 3)
    infrared = np.clip(1.0 - visible.mean(axis=2) + 0.3 * smooth_image(rng, VIS_H, VIS_W), 0, 1).astype(np.float32)
    raw = cv2.warpPerspective(infrared, np.linalg.inv(rig_matrix()), (IR_W, IR_H), flags=cv2.INTER_LINEAR)
    return infrared, visible, raw


def test_every_warp_file_format_gives_the_rigs_warp():
    matrix = rig_matrix()
    ir_points = np.array([[0, 0], [IR_W - 1, 0], [IR_W - 1, IR_H - 1], [0, IR_H - 1], [40, 70], [100, 20]], float)
    vis_points = project(matrix, ir_points)
    points = "\n".join(f"{a:.6f}, {b:.6f}, {c:.6f}, {d:.6f}" for (a, b), (c, d) in zip(ir_points, vis_points))
    as_text = "# rig calibration, infrared -> visible\n" + "\n".join(" ".join(f"{v:.10g}" for v in row) for row in matrix)
    for text in (as_text, np.array2string(matrix, precision=12), "# x_ir y_ir x_vis y_vis\n" + points):
        warp = parse_warp(text, "rig.txt")
        assert np.allclose(warp.matrix, matrix, atol=1e-5), text
    assert "6 point pairs" in parse_warp(points).description and "rms error 0.00 px" in parse_warp(points).description
    affine = parse_warp("1.5 0.1 10\n-0.1 1.5 20")
    three = parse_warp("\n".join(f"{x} {y} {u} {v}" for (x, y), (u, v) in zip([[0, 0], [50, 0], [0, 50]], project(affine.matrix, np.array([[0, 0], [50, 0], [0, 50]], float)))))
    assert np.allclose(three.matrix, affine.matrix, atol=1e-5) and "affine" in three.description
    typo = points.replace(f"{vis_points[4, 0]:.6f}", f"{vis_points[4, 0] + 30:.6f}")  # one mistyped coordinate: the fit says so
    assert float(parse_warp(typo).description.split("rms error ")[1].split(" px")[0]) > 5


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "holds no numbers"),
        ("1 0 0\n0 1 zero\n0 0 1", "line 2"),
        ("1 0\n0 1", "3x3 homography"),
        ("1 2 3\n2 4 6\n0 0 1", "singular"),
        ("0 0 0 0\n1 1 1 1\n2 2 2 2", "on a line"),
        ("0 0 0 0\n1 1 1 1\n2 2 2 2\n3 3 3 3", "on a line"),
    ],
)
def test_a_bad_warp_file_is_one_clear_error(text, said):
    with pytest.raises(WarpFileError, match=said):
        parse_warp(text)


def test_the_common_box_is_inside_both_frames_and_cannot_grow(rng):
    for _ in range(20):
        matrix = rig_matrix() @ np.array([[1 + rng.normal(0, 0.1), rng.normal(0, 0.05), rng.normal(0, 8)],
                                          [rng.normal(0, 0.05), 1 + rng.normal(0, 0.1), rng.normal(0, 8)],
                                          [rng.normal(0, 2e-4), rng.normal(0, 2e-4), 1]])
        rows, cols = common_box(matrix, (IR_H, IR_W), (VIS_H, VIS_W))

        def inside(top, bottom, left, right):  # the region is convex: the corners decide
            corners = np.array([[left, top], [right, top], [right, bottom], [left, bottom]], float)
            back = project(np.linalg.inv(matrix), corners)
            in_ir = (back >= -1e-6).all() and (back[:, 0] <= IR_W - 1 + 1e-6).all() and (back[:, 1] <= IR_H - 1 + 1e-6).all()
            return in_ir and top >= 0 and left >= 0 and bottom <= VIS_H - 1 and right <= VIS_W - 1

        box = (rows.start, rows.stop - 1, cols.start, cols.stop - 1)
        assert inside(*box)
        for side, step in ((0, -1), (1, 1), (2, -1), (3, 1)):  # each side one pixel further: outside
            grown = list(box)
            grown[side] += step
            assert not inside(*grown), (box, side)


def test_a_rig_pair_is_registered_before_fusion(scene):
    infrared, visible, raw = scene
    warp = parse_warp("\n".join(" ".join(map(repr, row)) for row in rig_matrix().tolist()), "rig.txt")
    result = fuse([raw, visible], model="pyramid-vif", ir_warp=warp)
    rows, cols = common_box(warp.matrix, raw.shape, visible.shape)
    assert result.image.shape == (rows.stop - rows.start, cols.stop - cols.start, 3)
    assert result.task == "vif" and any("fused where both see" in n and "rig.txt" in n for n in result.notes)
    truth = fuse([infrared[rows, cols], visible[rows, cols]], model="pyramid-vif").image
    registered = np.abs(result.image - truth).mean()
    stretched = fuse([cv2.resize(raw, (VIS_W, VIS_H))[rows, cols], visible[rows, cols]], model="pyramid-vif").image
    assert registered < 0.012  # the low infrared resolution is all that is left
    assert np.abs(stretched - truth).mean() > 3 * registered
    # the infrared frame may come second, and a foreground mask (visible pixels) is cropped with the frames
    mask = np.zeros(visible.shape[:2], np.float32)
    swapped = fuse([visible, raw], model="pyramid-vif", ir_warp=warp, foreground=mask)
    assert np.array_equal(swapped.image, result.image)
    with pytest.raises(InputMismatchError, match="visible frame's pixels"):
        fuse([raw, visible], model="pyramid-vif", ir_warp=warp, foreground=np.zeros(raw.shape, np.float32))


def test_a_warp_that_misses_the_visible_frame_or_another_task_is_refused(scene):
    _, visible, raw = scene
    away = parse_warp("1 0 5000\n0 1 0\n0 0 1")
    with pytest.raises(InputMismatchError, match="check its direction"):
        fuse([raw, visible], ir_warp=away, model="pyramid-vif")
    with pytest.raises(InputMismatchError, match="task vif"):
        fuse([raw, visible], ir_warp=parse_warp("1 0 0\n0 1 0"), task="mef")
    with pytest.raises(InputMismatchError, match="got 3"):
        fuse([raw, visible, visible], ir_warp=parse_warp("1 0 0\n0 1 0"))
    with pytest.raises(InputMismatchError, match="infinity"):
        register_infrared(raw, visible, np.array([[1, 0, 0], [0, 1, 0], [-0.02, 0, 1.0]]))


def test_fuse_and_metrics_folders_with_a_rig_warp(tmp_path, scene):
    infrared, visible, raw = scene
    (tmp_path / "ir").mkdir()
    (tmp_path / "vis").mkdir()
    raw16 = (3000 + raw * 2000).round().astype(np.uint16)  # raw radiometric counts: still stretched after the warp
    write_image(tmp_path / "ir" / "a.tif", raw16, bit_depth=16)
    write_image(tmp_path / "ir" / "b.png", raw)
    write_image(tmp_path / "vis" / "a.png", visible)
    write_image(tmp_path / "vis" / "b.png", visible[:, ::-1])
    rig = tmp_path / "rig.txt"
    np.savetxt(rig, rig_matrix())
    runner = CliRunner()
    out = tmp_path / "fused"
    result = runner.invoke(cli, ["fuse", "--ir", str(tmp_path / "ir"), "--vis", str(tmp_path / "vis"), "-o", str(out), "--ir-warp", str(rig), "-m", "pyramid-vif"])
    assert result.exit_code == 0, result.output
    rows, cols = common_box(rig_matrix(), raw.shape, visible.shape)
    for name in ("a", "b"):
        image, _ = read_image(out / f"{name}.png")
        assert image.shape == (rows.stop - rows.start, cols.stop - cols.start, 3)
    single = runner.invoke(cli, ["fuse", "--ir", str(tmp_path / "ir" / "a.tif"), "--vis", str(tmp_path / "vis" / "a.png"), "-o", str(tmp_path / "a.png"), "--ir-warp", str(rig), "-m", "pyramid-vif"])
    assert single.exit_code == 0 and "stretched" in single.output and "fused where both see" in single.output, single.output
    scored = runner.invoke(cli, ["metrics", "--fused", str(out), "--sources", str(tmp_path / "ir"), str(tmp_path / "vis"), "--ir-warp", str(rig), "--metrics", "Qabf,SSIM"])
    assert scored.exit_code == 0, scored.output
    unregistered = runner.invoke(cli, ["metrics", "--fused", str(out), "--sources", str(tmp_path / "ir"), str(tmp_path / "vis"), "--metrics", "Qabf"])
    crop = f"is {cols.stop - cols.start}x{rows.stop - rows.start}"
    assert unregistered.exit_code == 1 and unregistered.output.count(crop) == 2, unregistered.output  # sizes differ: said per item
    bad = tmp_path / "bad.txt"
    bad.write_text("1 0\n0 1\n")
    refused = runner.invoke(cli, ["fuse", "--ir", str(tmp_path / "ir" / "b.png"), "--vis", str(tmp_path / "vis" / "b.png"), "-o", str(tmp_path / "x.png"), "--ir-warp", str(bad)])
    assert refused.exit_code == 2 and "--ir-warp" in refused.output and "3x3 homography" in refused.output
    assert not (tmp_path / "x.png").exists()


def test_an_infrared_frame_finer_than_the_visible_one_is_shrunk_in_place():
    """A 3x finer infrared frame is shrunk (INTER_AREA) before the warp: a hot spot lands where the warp says."""
    width, height = int(0.7 * VIS_W * 3), int(0.7 * VIS_H * 3)
    matrix = np.array([[0.7 * VIS_W / (width - 1), 0, 0.15 * VIS_W], [0, 0.7 * VIS_H / (height - 1), 0.15 * VIS_H], [0, 0, 1]])
    ys, xs = np.mgrid[0:height, 0:width]
    spot = (251.3, 170.8)
    raw = np.exp(-((xs - spot[0]) ** 2 + (ys - spot[1]) ** 2) / (2 * 6.0**2)).astype(np.float32)
    warped, _, (rows, cols) = register_infrared(raw, np.zeros((VIS_H, VIS_W, 3), np.float32), matrix)
    ys, xs = np.mgrid[0 : warped.shape[0], 0 : warped.shape[1]]
    centre = np.array([(warped * xs).sum() + cols.start * warped.sum(), (warped * ys).sum() + rows.start * warped.sum()]) / warped.sum()
    assert np.abs(centre - project(matrix, np.array([spot]))[0]).max() < 0.02  # pixels of the visible frame
