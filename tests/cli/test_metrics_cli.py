"""Presets, colour handling, local (box) metrics, folder scoring and the ``metrics`` CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.errors import FusecliError, InputMismatchError
from fusecli.imaging import write_image
from fusecli.metrics import PRESETS, get_preset, score_arrays
from fusecli.metrics.local import box_mask, find_boxes, read_coco, read_voc, read_yolo
from fusecli.metrics.table import METRICS, TASK_DEFAULTS

from conftest import smooth_image

ISSUE_NAMES = [
    "EN", "SD", "SF", "AG", "MI", "NMI", "FMI", "VIF", "VIFF", "SCD", "CC", "PSNR", "MSE", "Qabf", "Nabf",
    "Qcv", "Qcb", "SSIM", "MS-SSIM", "MEF-SSIM", "MEF-MS-SSIM", "CE", "PSNR-ref", "SSIM-ref", "MS-SSIM-ref", "MAE",
]


def test_every_issue_metric_is_registered_with_a_docstring():
    for name in ISSUE_NAMES:
        spec = METRICS.get(name)
        assert spec.name == name and spec.summary
    import fusecli.metrics.fmi as fmi
    import fusecli.metrics.functional as fn
    import fusecli.metrics.gradient as gr
    import fusecli.metrics.mef_ssim as ms

    for func in (fn.entropy, fn.spatial_frequency, fn.mutual_information, fn.vif, fn.viff, gr.qabf, gr.nabf, gr.qcv, gr.qcb, ms.mef_ssim, fmi.fmi):
        assert ("↑" in func.__doc__ or "↓" in func.__doc__) and len(func.__doc__) > 60


@pytest.fixture
def pair(rng):
    ir = smooth_image(rng, 64, 72)
    vis = smooth_image(rng, 64, 72, 3)
    fused = np.clip(0.5 * ir[..., None] + 0.5 * vis, 0, 1)
    return fused, ir, vis


def test_preset_conventions_differ_as_documented(pair):
    fused, ir, vis = pair
    names = ["MI", "SF", "PSNR", "MSE", "SSIM", "AG"]
    std = score_arrays(fused, [ir, vis], names)
    cdd = score_arrays(fused, [ir, vis], names, convention=get_preset("cddfuse"))
    tang = score_arrays(fused, [ir, vis], names, convention=get_preset("tang"))
    assert cdd["MI"] == pytest.approx(score_arrays(fused, [ir, vis], ["MI"], convention=get_preset("cddfuse"))["MI"])
    assert cdd["MI"] < std["MI"]  # nats, on rounded gray
    assert tang["SF"] == pytest.approx(std["SF"] / 255, rel=0.02)  # 0..1 data
    assert tang["PSNR"] == pytest.approx(std["PSNR"] + 48.13, abs=0.1)
    assert tang["MSE"] == pytest.approx(std["MSE"] / 255**2, rel=0.02)
    assert cdd["SSIM"] < std["SSIM"]  # data_range 2: structure only
    assert tang["AG"] > std["AG"]  # (M-1)(N-1) denominator
    assert set(PRESETS) == {"standard", "cddfuse", "vifb", "mefb", "tang"}
    for preset in PRESETS.values():
        assert preset.differences


def test_vifb_per_channel_and_mefb_first_channel(pair):
    fused, ir, vis = pair
    vifb = score_arrays(fused, [ir, vis], ["EN"], convention=get_preset("vifb"))["EN"]
    from fusecli.metrics.functional import entropy

    per_channel = np.mean([entropy(np.floor(np.round(fused[..., c] * 255))) for c in range(3)])
    assert vifb == pytest.approx(per_channel)
    gray_sources = [ir, vis.mean(-1)]
    mefb = score_arrays(fused, gray_sources, ["EN"], convention=get_preset("mefb"))["EN"]
    assert mefb == pytest.approx(entropy(np.round(fused[..., 0] * 255), "floor"))


def test_score_errors(pair):
    fused, ir, vis = pair
    with pytest.raises(InputMismatchError, match="source 2"):
        score_arrays(fused, [ir, vis[:10]], ["MI"])
    with pytest.raises(FusecliError, match="at least 2"):
        score_arrays(fused, [ir], ["MI"])
    with pytest.raises(FusecliError, match="reference"):
        score_arrays(fused, [ir, vis], ["MAE"])
    out = score_arrays(fused, [ir, vis], ["MS-SSIM"])  # too small: NaN, not a crash
    assert math.isnan(out["MS-SSIM"])


def test_reference_metrics(pair):
    fused, ir, vis = pair
    same = score_arrays(fused, [ir, vis], ["PSNR-ref", "SSIM-ref", "MAE"], reference=fused)
    assert same["PSNR-ref"] == math.inf and same["SSIM-ref"] == pytest.approx(1.0) and same["MAE"] == 0.0


def test_region_masks_zero_outside(pair):
    fused, ir, vis = pair
    mask = np.zeros(fused.shape[:2], bool)
    mask[10:30, 20:50] = True
    fg = score_arrays(fused, [ir, vis], ["SD", "EN"], region=mask)
    manual = np.where(mask, fused.mean(-1) * 0 + (fused[..., :3] * 255) @ np.array([0.299, 0.587, 0.114]), 0)
    assert fg["SD"] == pytest.approx(manual.std())


def test_box_label_formats(tmp_path):
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.5 0.25\n\n1 0.1 0.1 0.2 0.2\n")
    assert read_yolo(tmp_path / "a.txt", 100, 80) == [(25.0, 30.0, 75.0, 50.0), (0.0, 0.0, 20.0, 16.0)]
    (tmp_path / "b.xml").write_text(
        "<annotation><object><name>person</name><bndbox><xmin>11</xmin><ymin>21</ymin>"
        "<xmax>40</xmax><ymax>60</ymax></bndbox></object></annotation>"
    )
    assert read_voc(tmp_path / "b.xml") == [(10.0, 20.0, 40.0, 60.0)]
    coco = {"images": [{"id": 7, "file_name": "dir/c.png"}], "annotations": [{"image_id": 7, "bbox": [5, 6, 10, 12]}, {"image_id": 8, "bbox": [0, 0, 1, 1]}]}
    (tmp_path / "labels.json").write_text(json.dumps(coco))
    assert read_coco(tmp_path / "labels.json", "c") == [(5, 6, 15, 18)]
    assert find_boxes(tmp_path, "c", 100, 80) == [(5, 6, 15, 18)]
    assert find_boxes(tmp_path, "b", 100, 80) == [(10.0, 20.0, 40.0, 60.0)]
    assert find_boxes(tmp_path, "missing", 100, 80) is None
    mask = box_mask((80, 100), [(25.0, 30.0, 75.0, 50.0)])
    assert mask.sum() == 50 * 20 and mask[30, 25] and not mask[50, 25]


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def folders(tmp_path, rng):
    for name in ("p1", "p2", "p3"):
        ir = smooth_image(rng, 48, 56)
        vis = smooth_image(rng, 48, 56, 3)
        write_image(tmp_path / "ir" / f"{name}.png", ir)
        write_image(tmp_path / "vis" / f"{name}.jpg", vis)
        write_image(tmp_path / "avg" / f"{name}.png", np.clip(0.5 * ir[..., None] + 0.5 * vis, 0, 1))
        write_image(tmp_path / "max" / f"{name}.png", np.maximum(ir, vis.mean(-1)))
        (tmp_path / "labels").mkdir(exist_ok=True)
        (tmp_path / "labels" / f"{name}.txt").write_text("0 0.5 0.5 0.4 0.4\n")
    return tmp_path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_folder_json_csv(folders):
    out = run("metrics", "--fused", folders / "avg", "--sources", folders / "ir", folders / "vis",
              "--json", folders / "s.json", "--csv", folders / "s.csv", "-j", 2)
    assert out.exit_code == 0, out.output
    data = json.loads((folders / "s.json").read_text())
    assert set(data) >= {"version", "preset", "items", "mean"} and data["preset"] == "standard"
    assert [i["name"] for i in data["items"]] == ["p1", "p2", "p3"]
    assert list(data["items"][0]["metrics"]) == list(TASK_DEFAULTS["vif"])
    mean_en = np.mean([i["metrics"]["EN"] for i in data["items"]])
    assert data["mean"]["EN"] == pytest.approx(mean_en, abs=1e-5)
    lines = (folders / "s.csv").read_text().splitlines()
    assert lines[0].startswith("name,EN,SD") and len(lines) == 1 + 3 + 2


@pytest.mark.parametrize("option", ["--csv", "--json", "--plot"])
def test_reports_never_replace_an_input_or_an_existing_file(folders, option, monkeypatch):
    """Every report file is checked before any scoring: an input image (given, or in an input
    folder) is refused even with --overwrite, an existing file without it; nothing is written."""
    import fusecli.metrics.score as score

    def never(*args, **kwargs):
        raise AssertionError("scored although the report could not be written")

    monkeypatch.setattr(score, "score_items", never)
    sources = ["--sources", folders / "ir", folders / "vis"]
    targets = ["--compare", folders / "avg", folders / "max"] if option == "--plot" else ["--fused", folders / "avg"]
    ir_image = folders / "ir" / "p1.png"
    before = ir_image.read_bytes()
    for overwrite in ([], ["--overwrite"]):
        out = run("metrics", *targets, *sources, option, ir_image, *overwrite)
        assert out.exit_code == 2 and "input" in out.output and ir_image.read_bytes() == before, out.output
    if option != "--plot":  # one image: a source given as a file
        single = run("metrics", ir_image, folders / "ir" / "p2.png", folders / "vis" / "p2.jpg", option, folders / "ir" / "p2.png")
        assert single.exit_code == 2 and "input" in single.output
    existing = folders / f"old{'.png' if option == '--plot' else '.txt'}"
    existing.write_bytes(b"keep me")
    out = run("metrics", *targets, *sources, option, existing)
    assert out.exit_code == 2 and "already exists" in out.output and existing.read_bytes() == b"keep me"


def test_two_reports_to_one_file_are_refused(folders):
    out = run("metrics", "--fused", folders / "avg", "--sources", folders / "ir", folders / "vis",
              "--csv", folders / "same", "--json", folders / "same")
    assert out.exit_code == 2 and "different files" in out.output and not (folders / "same").exists()


def test_cli_bad_pair_is_skipped(folders):
    (folders / "avg" / "p2.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = run("metrics", "--fused", folders / "avg", "--sources", folders / "ir", folders / "vis", "--metrics", "EN,MI")
    assert out.exit_code == 1 and "failed: p2" in out.output
    assert "p1" in out.output and "p3" in out.output


def test_cli_single_files_and_options(folders):
    args = ["metrics", "--fused", folders / "avg" / "p1.png", "--sources", folders / "ir" / "p1.png", folders / "vis" / "p1.jpg"]
    out = run(*args, "--metrics", "en,qabf,mi", "--preset", "tang")
    assert out.exit_code == 0 and "Qabf" in out.output and "tang" in out.output
    assert run(*args, "--metrics", "EM").exit_code == 2
    hint = run(*args, "--metrics", "EM").output
    assert "did you mean" in hint and "EN" in hint
    local = run(*args, "--metrics", "EN,SD", "--boxes", folders / "labels", "--region", "both", "--json", folders / "l.json")
    assert local.exit_code == 0, local.output
    item = json.loads((folders / "l.json").read_text())["items"][0]["metrics"]
    assert set(item) == {"EN", "SD", "EN@fg", "SD@fg", "EN@bg", "SD@bg"}


def test_cli_takes_the_fused_image_and_its_sources_as_arguments(folders):
    """``fusecli metrics FUSED SOURCE…`` as users type it after ``fusecli fuse A B -o F``: the
    same scores as --fused / --sources, files or folders; mixing both ways is refused."""
    files = [folders / "avg" / "p1.png", folders / "ir" / "p1.png", folders / "vis" / "p1.jpg"]
    for args, json_name in ((files, "a.json"), (["--fused", files[0], "--sources", *files[1:]], "b.json")):
        out = run("metrics", *args, "--metrics", "EN,MI,Qabf", "--json", folders / json_name)
        assert out.exit_code == 0, out.output
    scores = [json.loads((folders / name).read_text())["items"][0]["metrics"] for name in ("a.json", "b.json")]
    assert scores[0] == scores[1] and set(scores[0]) == {"EN", "MI", "Qabf"}
    batch = run("metrics", folders / "avg", folders / "ir", folders / "vis", "--metrics", "EN,MI", "--json", folders / "c.json")
    assert batch.exit_code == 0, batch.output
    assert [i["name"] for i in json.loads((folders / "c.json").read_text())["items"]] == ["p1", "p2", "p3"]
    mixed = run("metrics", files[0], "--sources", *files[1:])
    assert mixed.exit_code == 2 and "either as arguments" in mixed.output


def test_cli_compare_and_plot(folders):
    out = run("metrics", "--compare", folders / "avg", folders / "max", "--sources", folders / "ir", folders / "vis",
              "--metrics", "EN,MI,Nabf", "--plot", folders / "chart.png", "--csv", folders / "c.csv")
    assert out.exit_code == 0, out.output
    assert "avg" in out.output and "max" in out.output
    from fusecli.imaging import read_image

    chart, _ = read_image(folders / "chart.png")
    assert chart.shape[1] >= 600 and chart.std() > 0.05
    rows = (folders / "c.csv").read_text().splitlines()
    assert rows[0] == "method,EN,MI,Nabf" and rows[1].startswith("avg,")


def test_cli_explain_and_list():
    for preset in PRESETS:
        out = run("metrics", "--explain", preset)
        assert out.exit_code == 0 and preset in out.output
    assert "nats" in run("metrics", "--explain", "cddfuse").output
    assert run("metrics", "--explain", "nope").exit_code == 2
    listing = run("metrics", "--list")
    assert listing.exit_code == 0 and "MEF-SSIM" in listing.output
    assert "fusecli[niqe]" in listing.output  # the install hint, not read as terminal markup


def test_image_names_with_brackets_are_shown_as_named(tmp_path, rng):
    """File names are text, not terminal markup: ``scene[bold]`` is printed as it is."""
    scene = smooth_image(rng, 32, 32)
    for folder in ("fused", "a", "b"):
        write_image(tmp_path / folder / "scene[bold].png", scene)
    out = run("metrics", "--fused", tmp_path / "fused", "--sources", tmp_path / "a", tmp_path / "b", "--metrics", "SSIM")
    assert out.exit_code == 0, out.output
    assert "scene[bold]" in out.output


def test_cli_mef_stacks(tmp_path, rng):
    scene = smooth_image(rng, 40, 44)
    for s in ("a", "b"):
        for i, gain in enumerate((0.4, 1.0, 1.6)):
            write_image(tmp_path / "stacks" / s / f"{i}.png", np.clip(scene * gain, 0, 1))
        write_image(tmp_path / "fused" / f"{s}.png", scene)
    out = run("metrics", "--fused", tmp_path / "fused", "--sources", tmp_path / "stacks", "--task", "mef", "--metrics", "MEF-SSIM,MI")
    assert out.exit_code == 0, out.output
    assert "MEF-SSIM" in out.output
    for i in range(3):  # a scene the method left without output is named, not dropped from the mean in silence
        write_image(tmp_path / "stacks" / "failed_on" / f"{i}.png", scene)
    out = run("metrics", "--fused", tmp_path / "fused", "--sources", tmp_path / "stacks", "--task", "mef", "--metrics", "MI")
    assert out.exit_code == 0 and "have no fused image" in out.output and "failed_on" in out.output


def test_cli_size_mismatch_names_the_files(folders, rng):
    small = write_image(folders / "small.png", smooth_image(rng, 20, 24))
    single = run("metrics", "--fused", small, "--sources", folders / "ir" / "p1.png", folders / "vis" / "p1.jpg", "--metrics", "EN,MI")
    assert single.exit_code == 2  # one image: an input error, one line, no empty table
    assert f"{folders / 'ir' / 'p1.png'} is 56x48 but the fused image {small} is 24x20" in single.output
    assert "┏" not in single.output and "Traceback" not in single.output
    for name in ("p1", "p2", "p3"):
        write_image(folders / "tiny" / f"{name}.png", smooth_image(rng, 20, 24))
    batch = run("metrics", "--fused", folders / "tiny", "--sources", folders / "ir", folders / "vis", "--metrics", "EN,MI")
    assert batch.exit_code == 1 and batch.output.count("failed: p") == 3 and "┏" not in batch.output


BAD_LABELS = {
    "yolo-text": ("p2.txt", b"0 0.5 half 0.4 0.4\n", "p2.txt:1: expected a number"),
    "yolo-binary": ("p2.txt", b"\x89PNG\r\n\x1a\n\xff\xfe\x00", "not a text label file"),
    "yolo-short": ("p2.txt", b"0 0.5 0.5\n", "needs 'class cx cy w h'"),
    "yolo-nan": ("p2.txt", b"0 nan 0.5 0.4 0.4\n", "expected a finite number"),
    "voc-number": ("p2.xml", b"<annotation><object><bndbox><xmin>a</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>", "object 1 <xmin>"),
    "voc-xml": ("p2.xml", b"<annotation><object>", "not a valid Pascal VOC XML"),
    "coco-truncated": ("all.json", b'{"images": [{"id": 1, "file_name": "p2.png"}], "annot', "not valid JSON"),
    "coco-types": ("all.json", b'{"images": {"id": 1}, "annotations": []}', "not a COCO file"),
    "coco-bbox": ("all.json", b'{"images": [{"id": 1, "file_name": "p2.png"}], "annotations": [{"image_id": 1, "bbox": [1, 2, "x", 4]}]}', "annotation 0 bbox"),
}


@pytest.mark.parametrize("case", BAD_LABELS)
def test_a_malformed_label_file_is_one_clear_error(folders, case):
    """Each malformed label file: one line naming it (exit 2) for one image; in a batch that item
    fails and the others are scored (exit 1)."""
    name, data, message = BAD_LABELS[case]
    labels = folders / f"labels-{case}"
    labels.mkdir()
    for stem in ("p1", "p3"):
        (labels / f"{stem}.txt").write_text("0 0.5 0.5 0.4 0.4\n")
    (labels / name).write_bytes(data)
    one = run("metrics", folders / "avg" / "p2.png", folders / "ir" / "p2.png", folders / "vis" / "p2.jpg", "--metrics", "EN", "--boxes", labels)
    assert one.exit_code == 2 and message in one.output and "Traceback" not in one.output and "internal" not in one.output, one.output
    batch = run("metrics", "--fused", folders / "avg", "--sources", folders / "ir", folders / "vis", "--metrics", "EN", "--boxes", labels)
    assert batch.exit_code == 1 and "failed: p2" in batch.output and message in batch.output, batch.output
    assert "p1" in batch.output and "p3" in batch.output


def test_a_coco_file_without_the_image_is_no_labels_not_an_empty_foreground(folders):
    coco = folders / "other.json"
    coco.write_text('{"images": [{"id": 1, "file_name": "elsewhere.png"}], "annotations": [{"image_id": 1, "bbox": [1, 2, 3, 4]}]}')
    assert read_coco(coco, "p1") is None and find_boxes(coco, "p1", 56, 48) is None
    out = run("metrics", folders / "avg" / "p1.png", folders / "ir" / "p1.png", folders / "vis" / "p1.jpg", "--metrics", "EN", "--boxes", coco)
    assert out.exit_code == 2 and "no box labels for p1" in out.output


SOURCE_METRICS = "EN,SD,SF,AG,EI,MI,NMI,CE,VIF,VIFF,SCD,CC,PSNR,RMSE,Qabf,Nabf,Qcv,Qcb,SSIM,MEF-SSIM"


@pytest.mark.parametrize("choice", [["--preset", p] for p in PRESETS] + [["--per-channel"]])
def test_colour_images_score_under_every_preset_and_per_channel(folders, choice):
    """A colour fused image and a colour visible source (VIFB's own layout): every metric gives a
    finite number, never exit 3 (OpenCV refuses float32 -> float64 filtering of channel views)."""
    out = run("metrics", "--fused", folders / "avg", "--sources", folders / "ir", folders / "vis",
              "--metrics", SOURCE_METRICS, "--json", folders / "colour.json", *choice)
    assert out.exit_code == 0, out.output
    items = json.loads((folders / "colour.json").read_text())["items"]
    assert len(items) == 3
    for item in items:
        assert set(item["metrics"]) == set(SOURCE_METRICS.split(","))
        assert all(math.isfinite(v) for v in item["metrics"].values()), item


@pytest.mark.parametrize("preset", [p for p in PRESETS if get_preset(p).unreproduced])
def test_a_toolbox_column_a_preset_cannot_reproduce_is_nan_and_explained(pair, preset):
    """MEFB's and Tang's FMI use MATLAB's edge(): the preset gives NaN, not a different number
    under the same name, and --explain says why."""
    f, ir, vis = pair
    sources = [ir, vis]
    scores = score_arrays(f, sources, ["FMI", "EN"], convention=get_preset(preset))
    assert math.isnan(scores["FMI"]) and math.isfinite(scores["EN"])
    assert math.isfinite(score_arrays(f, sources, ["FMI"])["FMI"])
    out = run("metrics", "--explain", preset)
    assert out.exit_code == 0 and "edge()" in out.output
