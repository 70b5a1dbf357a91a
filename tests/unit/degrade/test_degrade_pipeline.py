"""Composition rules, modality rules, prompts, dataset writing and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.degrade import DEGRADATIONS
from fusecli.degrade.pipeline import ASPECTS, available_ops, choose_ops, compatible, degrade_frames, sample
from fusecli.degrade.prompts import CLAUSES, SENTENCES, make_prompt, prompt_vocabulary, tokenize
from fusecli.errors import FusecliError, InputMismatchError
from fusecli.imaging import read_image, write_image

from conftest import smooth_image


@pytest.fixture
def vif_pair(rng):
    return [smooth_image(rng, 60, 80), smooth_image(rng, 60, 80, 3)]


def test_n_and_levels(vif_pair):
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        s = sample(vif_pair, "vif", rng)
        levels = {op.level for op in s.ops}
        assert levels == ({"heavy"} if len(s.ops) == 1 else {"mild"})
        assert compatible([op.name for op in s.ops])
        seen.add(len(s.ops))
    assert seen == {1, 2, 3}


def test_incompatible_never_drawn():
    rng = np.random.default_rng(1)
    weather = {"rain", "haze", "snow"}
    for _ in range(300):
        names = choose_ops(rng, "vif", 3)
        assert len(weather & set(names)) <= 1
        assert not {"gaussian_blur", "motion_blur"} <= set(names)
        assert not {"haze", "low_contrast"} <= set(names)
    assert not compatible(["rain", "snow"]) and compatible(["rain", "gaussian_noise"])


def test_ir_stripes_only_vif():
    assert "ir_stripes" in available_ops("vif")
    assert "ir_stripes" not in available_ops("mef") and "ir_stripes" not in available_ops("mff")


def test_vif_modality_rules(vif_pair):
    rng = np.random.default_rng(2)
    ir, vis = vif_pair
    for name in ("rain", "haze", "snow"):
        (d_ir, d_vis), (op,) = degrade_frames([ir, vis], "vif", [name], rng)
        assert op.targets == ["vis"] and op.ir_effect
        assert not np.allclose(d_vis, vis)
        # The infrared frame is only blurred (IR blur), never given weather texture.
        from fusecli.degrade.ops import gaussian_blur_image

        expected = np.clip(gaussian_blur_image(ir, op.params["blur_ksize"], op.params["blur_sigma"]), 0, 1)
        assert np.allclose(d_ir, expected, atol=1e-6)
    (d_ir, d_vis), (op,) = degrade_frames([ir, vis], "vif", ["low_exposure"], rng)
    assert op.targets == ["vis"] and d_ir is ir and not np.allclose(d_vis, vis)
    (d_ir, d_vis), (op,) = degrade_frames([ir, vis], "vif", ["ir_stripes"], rng)
    assert op.targets == ["ir"] and d_vis is vis and not np.allclose(d_ir, ir)


def test_stacks_share_motion_blur_and_weather(rng):
    frame = smooth_image(rng, 50, 70, 3)
    stack = [frame * 0.4, frame * 0.4, frame * 0.4]
    (a, b, c), (op,) = degrade_frames(stack, "mef", ["motion_blur"], np.random.default_rng(3))
    assert op.targets == ["all"] and np.array_equal(a, b) and np.array_equal(b, c)
    (a, b, _), _ = degrade_frames(stack, "mff", ["rain"], np.random.default_rng(3))
    assert np.array_equal(a, b)  # the same rain layer on every frame
    (a, b, _), _ = degrade_frames(stack, "mef", ["gaussian_noise"], np.random.default_rng(3))
    assert not np.array_equal(a, b)  # sensor noise is independent per frame


def test_sample_is_deterministic(vif_pair):
    a = sample(vif_pair, "vif", 11, aspect=["16:9", "1:1"], size=48)
    b = sample(vif_pair, "vif", 11, aspect=["16:9", "1:1"], size=48)
    assert a.prompt == b.prompt and [o.as_dict() for o in a.ops] == [o.as_dict() for o in b.ops]
    assert all(np.array_equal(x, y) for x, y in zip(a.degraded, b.degraded))


@pytest.mark.parametrize("aspect", list(ASPECTS))
def test_aspect_crops(vif_pair, aspect):
    s = sample(vif_pair, "vif", 5, aspect=aspect, size=40)
    h, w = s.degraded[0].shape[:2]
    assert max(h, w) == 40 and abs(w / h - ASPECTS[aspect]) < 0.1
    assert all(f.shape[:2] == (h, w) for f in s.degraded + s.clean)


def test_sample_errors(vif_pair, rng):
    with pytest.raises(InputMismatchError):
        sample([vif_pair[0], smooth_image(rng, 30, 30, 3)], "vif", 0)
    with pytest.raises(FusecliError, match="cannot be combined"):
        sample(vif_pair, "vif", 0, ops=["rain", "snow"])
    with pytest.raises(FusecliError, match="cannot be used for MEF"):
        degrade_frames(vif_pair + [vif_pair[1]], "mef", ["ir_stripes"], rng)


def test_prompt_templates_are_rich_and_covered():
    for name in DEGRADATIONS:
        assert len(set(SENTENCES[name])) >= 12, name
        assert len(set(CLAUSES[name])) >= 6, name
    vocab = set(prompt_vocabulary())
    rng = np.random.default_rng(0)
    frames = [np.zeros((16, 16), np.float32), np.zeros((16, 16, 3), np.float32)]
    for _ in range(300):
        s = sample(frames, "vif", rng)
        assert set(tokenize(s.prompt)) <= vocab, s.prompt
        assert s.prompt[0].isupper() and s.prompt[-1] in ".?"


def test_prompts_mention_each_degradation():
    keywords = {
        "rain": ("rain", "derain"), "haze": ("haz", "fog", "mist"), "snow": ("snow",),
        "gaussian_noise": ("nois", "grain", "denoise"), "jpeg": ("jpeg", "compress", "block"),
        "ir_stripes": ("stripe", "striping", "banding", "line artifacts"),
    }
    rng = np.random.default_rng(4)
    frames = [np.zeros((16, 16), np.float32), np.zeros((16, 16, 3), np.float32)]
    for name, words in keywords.items():
        for _ in range(20):
            s = sample(frames, "vif", rng, ops=[name])
            assert any(w in s.prompt.lower() for w in words), s.prompt
    a = make_prompt(sample(frames, "vif", 3, ops=["rain"]).ops, np.random.default_rng(9), task="mef")
    assert "exposure" in a


@pytest.fixture
def vif_folders(tmp_path, rng):
    ir, vis = tmp_path / "ir", tmp_path / "vis"
    for name in ("a 1", "b", "c"):
        write_image(ir / f"{name}.png", smooth_image(rng, 40, 56))
        write_image(vis / f"{name}.jpg", smooth_image(rng, 40, 56, 3))
    write_image(vis / "orphan.jpg", smooth_image(rng, 40, 56, 3))
    return ir, vis


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_dataset_vif_manifest_and_reproducibility(tmp_path, vif_folders):
    ir, vis = vif_folders
    args = ["degrade", "--task", "vif", "--ir", ir, "--vis", vis, "--per-image", 2, "--seed", 5]
    result = _run(*args, "--out", tmp_path / "d1", "-j", 2)
    assert result.exit_code == 0, result.output
    assert "orphan.jpg" in result.output
    lines = [json.loads(x) for x in (tmp_path / "d1" / "manifest.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["a_1_000", "a_1_001", "b_000", "b_001", "c_000", "c_001"]
    for rec in lines:
        assert set(rec) >= {"id", "task", "sources", "ops", "seed", "prompt", "crop", "files"}
        assert rec["n"] == len(rec["ops"]) and all("params" in op for op in rec["ops"])
        for rel in rec["files"]["degraded"] + rec["files"]["clean"]:
            img, _ = read_image(tmp_path / "d1" / rel)
            assert img.shape[:2] == (40, 56)
        assert (tmp_path / "d1" / rec["files"]["prompt"]).read_text().strip() == rec["prompt"]
    # Same seed, one job: the same bytes.
    assert _run(*args, "--out", tmp_path / "d2").exit_code == 0
    for path in sorted((tmp_path / "d1").rglob("*.png")):
        twin = tmp_path / "d2" / path.relative_to(tmp_path / "d1")
        assert path.read_bytes() == twin.read_bytes(), path
    assert (tmp_path / "d1" / "manifest.jsonl").read_text() == (tmp_path / "d2" / "manifest.jsonl").read_text()


def test_dataset_resumes_after_interruption(tmp_path, vif_folders):
    ir, vis = vif_folders
    out = tmp_path / "d"
    args = ["degrade", "--task", "vif", "--ir", ir, "--vis", vis, "--out", out, "--per-image", 2]
    assert _run(*args).exit_code == 0
    reference = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # Simulate a kill: one sample lost its meta (never finished), another only half written.
    (out / "meta" / "b_001.json").unlink()
    (out / "degraded" / "vis" / "b_001.png").unlink()
    (out / "meta" / "c_000.json").unlink()
    (out / "degraded" / "ir" / "c_000.png").write_bytes(b"partial")
    untouched = (out / "meta" / "a_1_000.json").stat().st_mtime_ns
    assert _run(*args).exit_code == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == reference
    assert (out / "meta" / "a_1_000.json").stat().st_mtime_ns == untouched
    other = _run(*args[:-2], "--seed", "9")
    assert other.exit_code == 2 and "other settings" in other.output


def test_overwrite_replaces_the_old_dataset_wholly(tmp_path, vif_folders):
    """--overwrite into a folder made with other settings: only the new samples remain (files,
    prompts, manifest), and what other tools put beside them is kept."""
    ir, vis = vif_folders
    out = tmp_path / "d"
    base = ["degrade", "--task", "vif", "--ir", ir, "--vis", vis, "--out", out]
    assert _run(*base, "--per-image", 2).exit_code == 0
    (out / "notes.txt").write_text("mine")
    assert _run(*base, "--per-image", 1, "--seed", 3, "--overwrite").exit_code == 0
    records = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    listed = {rel for rec in records for rel in rec["files"]["degraded"] + rec["files"]["clean"] + [rec["files"]["prompt"]]}
    on_disk = {str(p.relative_to(out)) for sub in ("degraded", "clean", "prompts") for p in (out / sub).rglob("*") if p.is_file()}
    assert on_disk == listed and len(records) == 3
    assert (out / "notes.txt").read_text() == "mine"


def test_a_killed_runs_temporary_files_are_removed_on_the_next_run(tmp_path, vif_folders):
    ir, vis = vif_folders
    out = tmp_path / "d"
    args = ["degrade", "--task", "vif", "--ir", ir, "--vis", vis, "--out", out]
    assert _run(*args).exit_code == 0
    stale = [out / "degraded" / "ir" / ".b.png.k3j2.tmp", out / "meta" / ".c.json.x1.tmp", out / ".manifest.jsonl.q.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    assert _run(*args).exit_code == 0
    assert not any(p.exists() for p in stale)


def test_overwrite_never_removes_a_folder_that_holds_an_input(tmp_path, vif_folders):
    ir, vis = vif_folders
    out = tmp_path / "d"
    assert _run("degrade", "--task", "vif", "--ir", ir, "--vis", vis, "--out", out).exit_code == 0
    again = _run("degrade", "--task", "vif", "--ir", out / "clean" / "ir", "--vis", out / "clean" / "vis", "--out", out, "--overwrite")
    assert again.exit_code == 2 and "holds an input" in again.output
    assert (out / "clean" / "ir").is_dir() and any((out / "clean" / "ir").iterdir())


def test_dataset_mef_stacks_sorted_dark_to_bright(tmp_path, rng):
    base = smooth_image(rng, 32, 40, 3)
    for scene in ("s1", "s2"):
        for name, gain in (("b.png", 1.0), ("a.png", 0.3), ("c.png", 0.6)):
            write_image(tmp_path / "in" / scene / name, np.clip(base * gain, 0, 1))
    result = _run("degrade", "--task", "mef", "--stacks", tmp_path / "in", "--out", tmp_path / "o", "--n", "1", "--ops", "gaussian_noise")
    assert result.exit_code == 0, result.output
    rec = json.loads((tmp_path / "o" / "meta" / "s1.json").read_text())
    means = [read_image(tmp_path / "o" / rel)[0].mean() for rel in rec["files"]["clean"]]
    assert means == sorted(means) and len(means) == 3
    assert rec["ops"][0]["name"] == "gaussian_noise" and rec["ops"][0]["level"] == "heavy"


def test_dataset_bad_item_reported_rest_done(tmp_path, vif_folders):
    ir, vis = vif_folders
    (ir / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    result = _run("degrade", "--task", "vif", "--ir", ir, "--vis", vis, "--out", tmp_path / "o")
    assert result.exit_code == 1 and "failed: b" in result.output
    assert sorted(p.stem for p in (tmp_path / "o" / "meta").iterdir()) == ["a_1", "c"]


def test_single_image_and_preview(tmp_path, rng):
    src = write_image(tmp_path / "in.png", smooth_image(rng, 48, 64, 3), bit_depth=16)
    out = tmp_path / "out.png"
    result = _run("degrade", src, "--ops", "rain,gaussian_noise", "--level", "mild", "--seed", 3, "-o", out)
    assert result.exit_code == 0, result.output
    prompt = result.stdout.lower()
    assert "rain" in prompt and any(w in prompt for w in ("nois", "grain"))
    img, meta = read_image(out)
    assert meta.bit_depth == 16 and img.shape == (48, 64, 3)
    again = _run("degrade", src, "--ops", "rain,gaussian_noise", "--level", "mild", "--seed", 3, "-o", tmp_path / "o2.png")
    assert read_image(tmp_path / "o2.png")[0].tobytes() == img.tobytes()
    bad = _run("degrade", src, "--ops", "rain,snow", "-o", tmp_path / "x.png")
    assert bad.exit_code == 2 and "cannot be combined" in bad.output
    unknown = _run("degrade", src, "--ops", "rian", "-o", tmp_path / "x.png")
    assert unknown.exit_code == 2 and "did you mean rain" in unknown.output
    sheet = tmp_path / "sheet.png"
    assert _run("degrade", src, "--preview", sheet).exit_code == 0
    picture, _ = read_image(sheet)
    assert picture.shape[0] > 11 * picture.shape[1] / 2 * 48 / 64  # 12 rows of tiles


def test_cli_usage_errors(tmp_path):
    assert _run("degrade").exit_code == 2
    assert _run("degrade", "--task", "vif", "--out", tmp_path).exit_code == 2
    r = _run("degrade", "--task", "mef", "--stacks", tmp_path, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "no stacks" in r.output


def test_dataset_dry_run_writes_nothing(tmp_path, vif_folders):
    ir, vis = vif_folders
    out = tmp_path / "d"
    result = _run("degrade", "--task", "vif", "--ir", ir, "--vis", vis, "--out", out, "--per-image", 3, "--dry-run")
    assert result.exit_code == 0 and "a 1: 3 sample(s)" in result.output
    assert not out.exists()
