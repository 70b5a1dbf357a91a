from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from fusecli import __version__
from fusecli.cli.main import cli
from fusecli.imaging.color import rgb_to_ycbcr
from fusecli.imaging import read_image, write_image

from conftest import png_bomb, smooth_image

SUBCOMMANDS = ["degrade", "fuse", "train", "metrics", "colorize", "models"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version_and_help(runner):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert name in result.output
        sub = runner.invoke(cli, [name, "--help"])
        assert sub.exit_code == 0 and "Usage: cli " + name in sub.output


def test_train_with_a_missing_config_fails_clearly(runner):
    result = runner.invoke(cli, ["train", "missing.toml"])
    assert result.exit_code == 2
    assert "config file not found" in result.output and "Traceback" not in result.output


@pytest.fixture
def pair(tmp_path, rng):
    fused = write_image(tmp_path / "fused.png", smooth_image(rng, 24, 32), bit_depth=16)
    color = write_image(tmp_path / "vis.png", smooth_image(rng, 24, 32, 3))
    return fused, color


def test_colorize_single(runner, tmp_path, pair):
    fused, color = pair
    out = tmp_path / "out" / "c.png"
    result = runner.invoke(cli, ["colorize", str(fused), str(color), "-o", str(out)])
    assert result.exit_code == 0, result.output
    img, meta = read_image(out)
    assert img.shape == (24, 32, 3) and meta.bit_depth == 16  # follows the fused image
    f, _ = read_image(fused)
    assert np.abs(rgb_to_ycbcr(img)[..., 0] - f).mean() < 2e-3
    # Second run refuses to overwrite: one line, exit 2, no traceback.
    again = runner.invoke(cli, ["colorize", str(fused), str(color), "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output and "Traceback" not in again.output
    ok = runner.invoke(cli, ["colorize", str(fused), str(color), "-o", str(out), "--overwrite", "--bit-depth", "8"])
    assert ok.exit_code == 0 and read_image(out)[1].bit_depth == 8
    for name, quality in (("hi.jpg", "95"), ("lo.jpg", "20")):
        assert runner.invoke(cli, ["colorize", str(fused), str(color), "-o", str(tmp_path / name), "--quality", quality]).exit_code == 0
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size
    smoothed = runner.invoke(cli, ["colorize", str(fused), str(color), "-o", str(tmp_path / "d.png"), "--denoise"])
    assert smoothed.exit_code == 0, smoothed.output
    plain, denoised = (rgb_to_ycbcr(read_image(p)[0]) for p in (out, tmp_path / "d.png"))
    assert np.abs(denoised[..., 0] - plain[..., 0]).mean() < 5e-3 and np.abs(denoised[..., 1:] - plain[..., 1:]).mean() > 1e-3


def test_colorize_never_overwrites_inputs(runner, pair):
    fused, color = pair
    before = fused.read_bytes()
    result = runner.invoke(cli, ["colorize", str(fused), str(color), "-o", str(fused), "--overwrite"])
    assert result.exit_code == 2 and "input file" in result.output
    assert fused.read_bytes() == before


def test_colorize_size_mismatch_and_resize(runner, tmp_path, rng):
    fused = write_image(tmp_path / "f.png", smooth_image(rng, 20, 30))
    color = write_image(tmp_path / "c.jpg", smooth_image(rng, 40, 60, 3))
    bad = runner.invoke(cli, ["colorize", str(fused), str(color), "-o", str(tmp_path / "o.png")])
    assert bad.exit_code == 2 and "--resize" in bad.output
    good = runner.invoke(cli, ["colorize", str(fused), str(color), "-o", str(tmp_path / "o.png"), "--resize"])
    assert good.exit_code == 0 and read_image(tmp_path / "o.png")[0].shape == (20, 30, 3)
    gray = write_image(tmp_path / "g.png", smooth_image(rng, 20, 30))
    wrong = runner.invoke(cli, ["colorize", str(fused), str(gray), "-o", str(tmp_path / "w.png")])
    assert wrong.exit_code == 2 and "RGB" in wrong.output


def test_colorize_folders_with_bad_item_and_resume(runner, tmp_path, rng):
    fused_dir, color_dir, out_dir = tmp_path / "fused", tmp_path / "vis", tmp_path / "out"
    for name in ("a", "b", "c"):
        write_image(fused_dir / f"{name}.png", smooth_image(rng, 16, 16))
        write_image(color_dir / f"{name}.jpg", smooth_image(rng, 16, 16, 3))
    write_image(color_dir / "lonely.jpg", smooth_image(rng, 16, 16, 3))
    (fused_dir / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = runner.invoke(cli, ["colorize", str(fused_dir), str(color_dir), "-o", str(out_dir), "-j", "2"])
    assert result.exit_code == 1
    assert "lonely.jpg" in result.output and "failed: b" in result.output
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "c.png"]
    mtime = (out_dir / "a.png").stat().st_mtime_ns
    write_image(fused_dir / "b.png", smooth_image(rng, 16, 16), overwrite=True)
    again = runner.invoke(cli, ["colorize", str(fused_dir), str(color_dir), "-o", str(out_dir)])
    assert again.exit_code == 0 and "2 already done" in again.output
    assert (out_dir / "a.png").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "b.png", "c.png"]


def test_verbose_shows_traceback(runner, tmp_path, pair):
    fused, color = pair
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"junk")
    quiet = runner.invoke(cli, ["colorize", str(bad), str(color), "-o", str(tmp_path / "x.png")])
    assert quiet.exit_code == 2 and "Traceback" not in quiet.output and "broken.png" in quiet.output
    loud = runner.invoke(cli, ["-v", "colorize", str(bad), str(color), "-o", str(tmp_path / "x.png")])
    assert loud.exit_code == 2 and "Traceback" in loud.output


def test_a_cut_multi_page_tiff_is_an_error_not_a_shorter_stack(runner, tmp_path, rng):
    """tifffile logs a page list cut short and reads on; fusecli must not fuse the pages left."""
    import tifffile

    frames = [np.round(smooth_image(rng, 32, 48) * 255 * gain).astype(np.uint8) for gain in (0.4, 0.7, 1.0)]
    path = tmp_path / "bracket.tif"
    tifffile.imwrite(path, frames[0])
    with tifffile.TiffWriter(path) as tw:
        for frame in frames:
            tw.write(frame, contiguous=False)
    data = path.read_bytes()
    path.write_bytes(data[: tifffile.TiffFile(path).pages[2].offset])  # the third page's directory is gone
    result = runner.invoke(cli, ["fuse", str(path), "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 2 and not (tmp_path / "out.png").exists()
    assert "bracket.tif: TIFF is truncated or damaged after page 2" in result.output
    assert "tifffile" not in result.output  # said once, by fusecli, without tifffile's object names


def test_a_single_long_job_shows_a_spinner_on_a_terminal_only(monkeypatch):
    """One fusion can take seconds to minutes (a deep 24 MP focus stack, a network on a large
    image): on a terminal a spinner with the elapsed time says it is working; with -q or in a
    pipe nothing is drawn."""
    import io
    import time

    from rich.console import Console

    from fusecli.cli import progress

    screen = io.StringIO()
    monkeypatch.setattr(progress, "stderr_console", Console(file=screen, force_terminal=True, width=80))
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: True)
    with progress.working("fusing 3 images"):
        time.sleep(0.3)
    assert "fusing 3 images" in screen.getvalue() and "0:00:00" in screen.getvalue()
    screen.truncate(0)
    with progress.working("fusing 3 images", quiet=True):
        pass
    assert screen.getvalue() == ""


def test_an_image_over_the_pixel_budget_is_one_clear_line(runner, tmp_path, rng, monkeypatch):
    """A header declaring 30000×30000 (an 875 KB PNG can) is refused before decoding: exit 2 for
    one item, one failed item in a batch whose other items finish; --max-pixels sets the budget."""
    monkeypatch.setenv("FUSECLI_MAX_PIXELS", "300M")  # restored after the test, whatever --max-pixels sets
    scene = smooth_image(rng, 40, 48)
    for folder in ("fused", "a", "b"):
        for name in ("s1", "s2"):
            write_image(tmp_path / folder / f"{name}.png", scene)
    png_bomb(tmp_path / "a" / "s2.png", 30000, 30000)
    one = runner.invoke(cli, ["fuse", str(tmp_path / "a" / "s2.png"), str(tmp_path / "b" / "s2.png"), "-o", str(tmp_path / "out.png")])
    assert one.exit_code == 2 and "30000×30000 is 900 MP, over the 300 MP limit" in one.output and "Traceback" not in one.output
    assert not (tmp_path / "out.png").exists()
    batch = runner.invoke(cli, ["metrics", "--fused", str(tmp_path / "fused"), "--sources", str(tmp_path / "a"), str(tmp_path / "b"), "--metrics", "SSIM"])
    assert batch.exit_code == 1 and "failed: s2" in batch.output and "s1" in batch.output
    small = ["fuse", str(tmp_path / "a" / "s1.png"), str(tmp_path / "b" / "s1.png"), "--task", "mff", "-o"]
    refused = runner.invoke(cli, ["--max-pixels", "1000", *small, str(tmp_path / "small.png")])
    assert refused.exit_code == 2 and "48×40 is 0.00192 MP, over the 0.001 MP limit" in refused.output
    monkeypatch.setenv("FUSECLI_MAX_PIXELS", "300M")  # the option set it for that run
    assert runner.invoke(cli, [*small, str(tmp_path / "small.png")]).exit_code == 0
    assert runner.invoke(cli, ["--max-pixels", "many", "models"]).exit_code == 2


def test_a_bad_prompt_file_fails_its_scene_only(runner, tmp_path, rng):
    """--prompts DIR: a prompt file that is not UTF-8 text fails that scene (exit 1); the others are fused."""
    for name in ("s1", "s2", "s3"):
        write_image(tmp_path / "ir" / f"{name}.png", smooth_image(rng, 32, 40))
        write_image(tmp_path / "vis" / f"{name}.png", smooth_image(rng, 32, 40, 3))
        (tmp_path / "prompts").mkdir(exist_ok=True)
        (tmp_path / "prompts" / f"{name}.txt").write_text("remove the noise\n")
    (tmp_path / "prompts" / "s2.txt").write_bytes(b"\xff\xfe\x00r\x00e\x00m\x00")
    out = runner.invoke(cli, ["fuse", "--ir", str(tmp_path / "ir"), "--vis", str(tmp_path / "vis"), "--model", "pyramid-vif",
                              "--prompts", str(tmp_path / "prompts"), "-o", str(tmp_path / "out")])
    assert out.exit_code == 1 and "s2" in out.output and "not UTF-8" in out.output, out.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s1.png", "s3.png"]


def test_an_output_that_cannot_be_written_is_refused_before_fusing(runner, tmp_path, rng, monkeypatch):
    """An input as the output (even with --overwrite), or a place under a file, is refused before
    any work: the fusion never runs."""
    def never(*args, **kwargs):
        raise AssertionError("fused although the output could not be written")

    monkeypatch.setattr("fusecli.fusion.files.fuse", never)
    a, b = (write_image(tmp_path / f"{k}.png", smooth_image(rng, 24, 32)) for k in "ab")
    before = a.read_bytes()
    over_input = runner.invoke(cli, ["fuse", str(a), str(b), "--task", "mff", "-o", str(a), "--overwrite"])
    assert over_input.exit_code == 2 and "input" in over_input.output and a.read_bytes() == before
    under_file = runner.invoke(cli, ["fuse", str(a), str(b), "--task", "mff", "-o", str(tmp_path / "b.png" / "out.png")])
    assert under_file.exit_code == 2 and "is a file, not a folder" in under_file.output
    map_over_input = runner.invoke(cli, ["fuse", str(a), str(b), "--task", "mff", "-o", str(tmp_path / "o.png"), "--routing-map", str(b), "--overwrite"])
    assert map_over_input.exit_code == 2 and "input" in map_over_input.output


@pytest.mark.parametrize("task,folders", [("mff", ["near", "far"]), ("mef", ["under", "normal", "over"])])
def test_mef_and_mff_folders_matched_by_name(runner, tmp_path, rng, task, folders):
    """--sources A B [C]: one scene per name, unmatched names listed, resumable, shardable."""
    import cv2

    for k in range(3):
        scene = smooth_image(rng, 40, 48, 3)
        for i, folder in enumerate(folders):
            frame = cv2.GaussianBlur(scene, (0, 0), 1 + 2 * i) if task == "mff" else np.clip(scene * (0.4 + 0.7 * i), 0, 1)
            write_image(tmp_path / folder / f"s{k}.png", frame)
    write_image(tmp_path / folders[0] / "lonely.png", smooth_image(rng, 40, 48, 3))
    args = ["fuse", "--task", task, "--sources", *(str(tmp_path / f) for f in folders), "-o", str(tmp_path / "out")]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0 and "lonely.png" in first.output, first.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s0.png", "s1.png", "s2.png"]
    single = runner.invoke(cli, ["fuse", "--task", task, *(str(tmp_path / f / "s1.png") for f in folders), "-o", str(tmp_path / "s1.png")])
    assert single.exit_code == 0 and (tmp_path / "s1.png").read_bytes() == (tmp_path / "out" / "s1.png").read_bytes()
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "3 already done" in again.output
    assert runner.invoke(cli, ["fuse", "--sources", str(tmp_path / folders[0]), "-o", str(tmp_path / "o2")]).exit_code == 2
