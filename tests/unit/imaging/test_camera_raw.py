"""Camera RAW inputs (fusecli.imaging.camera_raw): DNG files written here with tifffile (a Bayer mosaic
whose colour matrix makes the camera's RGB linear sRGB), developed by LibRaw through rawpy."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.errors import ImageReadError
from fusecli.imaging import is_image_file, output_suffix, read_image

from conftest import smooth_image

BLACK, WHITE = 64, 4095
XYZ_TO_LINEAR_SRGB = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def write_dng(path: Path, linear_rgb: np.ndarray) -> Path:
    """A minimal DNG: ``linear_rgb`` ``(H, W, 3)`` in 0..1 sampled on an RGGB mosaic, 12-bit with
    a black level, D65 colour matrix XYZ -> linear sRGB, neutral white balance."""
    mosaic = np.empty(linear_rgb.shape[:2], np.float32)
    mosaic[0::2, 0::2] = linear_rgb[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = linear_rgb[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = linear_rgb[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = linear_rgb[1::2, 1::2, 2]

    def rationals(values):
        return sum(((round(v * 10000), 10000) for v in values), ())

    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "fusecli test camera", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50714, "H", 1, (BLACK,), True),  # BlackLevel
        (50717, "H", 1, (WHITE,), True),  # WhiteLevel
        (50721, "2i", 9, rationals(XYZ_TO_LINEAR_SRGB), True),  # ColorMatrix1
        (50728, "2I", 3, rationals((1, 1, 1)), True),  # AsShotNeutral
        (50778, "H", 1, (21,), True),  # CalibrationIlluminant1: D65
    ]
    data = np.round(BLACK + np.clip(mosaic, 0, 1) * (WHITE - BLACK)).astype(np.uint16)
    tifffile.imwrite(path, data, photometric=32803, extratags=tags, subfiletype=0)  # 32803: CFA
    return path


@pytest.fixture
def scene(rng):
    """Linear sRGB radiance of a smooth colourful scene, 96 x 128."""
    return (0.05 + 0.9 * smooth_image(rng, 96, 128, 3)).astype(np.float32)


def test_a_dng_is_developed_to_srgb_with_its_exposure_kept(tmp_path, scene):
    """Colour, tone curve and exposure come out as the scene had them: a quarter of the light
    reads as a quarter in linear terms (auto-brightening would undo a bracket's steps)."""
    image, meta = read_image(write_dng(tmp_path / "a.dng", scene))
    assert image.shape == (96, 128, 3) and meta.format == "raw" and meta.bit_depth == 16
    inner = (slice(4, -4), slice(4, -4))  # demosaicing at the borders
    assert np.abs(image - srgb_encode(scene))[inner].mean() < 0.01
    dark, _ = read_image(write_dng(tmp_path / "dark.DNG", 0.25 * scene))  # extensions in any case
    assert np.abs(dark - srgb_encode(0.25 * scene))[inner].mean() < 0.01
    assert is_image_file(tmp_path / "x.nef") and is_image_file(tmp_path / "x.CR3") and not is_image_file(tmp_path / "x.txt")
    assert output_suffix(tmp_path / "x.dng") == ".tif" and output_suffix(tmp_path / "x.JPG") == ".JPG"


def test_bad_raw_files_are_named_with_the_reason(tmp_path, scene, monkeypatch):
    good = write_dng(tmp_path / "good.dng", scene).read_bytes()
    (tmp_path / "cut.dng").write_bytes(good[: len(good) // 2])
    (tmp_path / "junk.nef").write_bytes(b"not a raw file at all " * 20)
    (tmp_path / "empty.arw").write_bytes(b"")
    cases = {"cut.dng": "truncated or unreadable camera RAW", "junk.nef": "not a camera RAW file", "empty.arw": "file is empty"}
    for name, reason in cases.items():
        with pytest.raises(ImageReadError, match=reason) as caught:
            read_image(tmp_path / name)
        assert name in str(caught.value)
    real_import = builtins.__import__

    def without_rawpy(name, *args, **kwargs):
        if name == "rawpy":
            raise ImportError("No module named 'rawpy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_rawpy)
    with pytest.raises(ImageReadError, match=r"needs rawpy \(pip install 'fusecli\[raw\]'\)"):
        read_image(tmp_path / "good.dng")


def test_a_raw_bracket_fuses_from_the_command_line(tmp_path, scene):
    """Three RAW exposures -> an MEF fusion; alone (the output named by the user) and as a batch
    of stack folders, whose outputs default to 16-bit TIFF (RAW is read, never written)."""
    stacks = tmp_path / "brackets"
    for scene_name, scale in (("hall", 1.0), ("yard", 0.7)):
        folder = stacks / scene_name
        folder.mkdir(parents=True)
        for stop, gain in (("1_under", 0.25), ("2_normal", 1.0), ("3_over", 4.0)):
            write_dng(folder / f"{stop}.dng", np.clip(scale * gain * scene, 0, 1))
    shots = sorted((stacks / "hall").iterdir())
    runner = CliRunner()
    one = runner.invoke(cli, ["fuse", *map(str, shots), "-o", str(tmp_path / "hall.tif")])
    assert one.exit_code == 0, one.output
    assert "task mef inferred" in one.output
    fused = tifffile.imread(tmp_path / "hall.tif")
    assert fused.dtype == np.uint16 and fused.shape == (96, 128, 3)
    under, over = (read_image(p)[0] for p in (shots[0], shots[2]))
    assert under.mean() < fused.mean() / 65535 < over.mean()  # an exposure fusion, not one shot
    batch = runner.invoke(cli, ["fuse", "--task", "mef", "--stacks", str(stacks), "-o", str(tmp_path / "out")])
    assert batch.exit_code == 0, batch.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hall.tif", "yard.tif"]
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "hall.tif"), fused)
