"""Ghost removal for exposure fusion (`--deghost`): what moved between shots is left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fusecli.cli.main import cli
from fusecli.geometry.deghost import intensity_map, plan_deghost
from fusecli.fusion import fuse
from fusecli.fusion.pipeline import TRAINING_FREE_TILE_SCALE
from fusecli.imaging import read_image, write_image
from fusecli.methods.exposure import exposure_fusion
from conftest import EXAMPLES

GAINS = (0.35, 1.0, 2.8)  # a 3-shot bracket, -1.5 / 0 / +1.5 EV
HOME, AWAY = (60, 250), ((330, 240), (180, 60))  # (x, y) of the object in the middle shot; in the other two


def _with_object(linear: np.ndarray, x: int, y: int) -> np.ndarray:
    """A dark 60 x 80 object with a bright core (a person in a doorway, say) at (x, y)."""
    out = linear.copy()
    out[y : y + 80, x : x + 60] = (0.02, 0.02, 0.03)
    out[y + 20 : y + 60, x + 10 : x + 50] = (0.9, 0.85, 0.8)
    return out


def _shoot(linear: np.ndarray, gain: float, rng: np.random.Generator) -> np.ndarray:
    """One 8-bit shot of the linear scene: exposure, sensor noise, clipping, gamma, quantisation."""
    raw = np.clip(linear * gain + rng.normal(0, 0.003, linear.shape), 0, 1) ** (1 / 2.2)
    return np.round(raw * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def brackets() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The example scene shot as a static bracket and as one where the object moved."""
    rng = np.random.default_rng(3)
    linear = read_image(EXAMPLES / "mef" / "coffee_normal.jpg")[0] ** 2.2 / 2  # a stop darker: the middle shot is the best exposed
    static = [_shoot(_with_object(linear, *HOME), g, rng) for g in GAINS]
    places = (AWAY[0], HOME, AWAY[1])
    moving = [_shoot(_with_object(linear, *xy), g, rng) for xy, g in zip(places, GAINS)]
    return static, moving


def _object_areas(shape: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(shape[:2], bool)
    for x, y in (HOME, *AWAY):
        mask[y - 10 : y + 90, x - 10 : x + 70] = True
    return mask


def test_a_moving_object_is_left_out_and_a_static_bracket_left_alone(brackets):
    static, moving = brackets
    truth = exposure_fusion(static)  # as if the object had stood still where the middle shot has it
    areas = _object_areas(truth.shape)
    plain, clean = exposure_fusion(moving), exposure_fusion(moving, deghost=True)
    ghosts, left = np.abs(plain - truth)[areas].mean(), np.abs(clean - truth)[areas].mean()
    # what is left is mostly tone: the object now comes from the middle shot alone, and the
    # background where it was from the two shots that saw background there (measured: 0.43)
    assert left < 0.5 * ghosts, (ghosts, left)
    for x, y in (HOME, *AWAY):  # each place: the object solid where it stands, gone where it was
        place = (slice(y - 10, y + 90), slice(x - 10, x + 70))
        assert np.abs(clean - truth)[place].mean() < 0.75 * np.abs(plain - truth)[place].mean()
    # nothing else changes much: away from the object the result stays the plain fusion
    assert np.abs(clean - plain)[~areas].mean() < 2e-3
    plan = plan_deghost(moving)
    assert plan.reference == 1  # the middle shot: the most pixels neither dark nor clipped
    assert all(0.01 < share < 0.2 for k, share in enumerate(plan.moving) if k != 1) and plan.moving[1] == 0
    # a static bracket: nothing found, the same picture
    still = plan_deghost(static)
    assert max(still.moving) < 0.002, still.moving
    assert np.abs(exposure_fusion(static, deghost=True) - truth).mean() < 2e-4


def test_a_clipped_value_stands_for_the_range_the_other_shot_shows():
    """A white sky in the bright shot is every grey of its clouds in the dark one: the map from a
    clipped value is a range, so the clouds are not taken for something that moved."""
    scene = np.linspace(0, 1, 10_000, dtype=np.float32)
    bright, dark = np.clip(scene * 2, 0, 1), scene
    (mid_low, mid_high), (top_low, top_high) = intensity_map(bright, dark)[:, [512, -1]].T
    assert mid_low < 0.25 < mid_high and mid_high - mid_low < 0.04  # mid grey: about scene / 2, give or take the noise allowance
    assert top_low < 0.52 and top_high > 0.98  # clipped: everything from half to white


def test_tiles_deghost_like_the_whole_image(brackets):
    """The reference and intensity maps are planned on the whole frames, and ghosts are looked
    for at the whole frame's scale in every tile, so tiled and untiled results agree."""
    _, moving = brackets
    whole = fuse(moving, model="exposure-fusion", deghost=True, tile=4096)
    scale = TRAINING_FREE_TILE_SCALE
    tiled = fuse(moving, model="exposure-fusion", deghost=True, tile=160 // scale, overlap=48 // scale).image
    diff = np.abs(whole.image - tiled)
    assert diff.max() > 0 and diff.mean() < 0.004  # really tiled; pyramids of small tiles differ a little
    truth = exposure_fusion(brackets[0])
    areas = _object_areas(truth.shape)
    assert np.abs(tiled - truth)[areas].mean() < 0.5 * np.abs(exposure_fusion(moving) - truth)[areas].mean()
    assert any("deghosted against shot 2 of 3" in note for note in whole.notes)


def test_deghost_on_the_command_line(brackets, tmp_path):
    _, moving = brackets
    paths = [write_image(tmp_path / f"shot{i}.png", shot) for i, shot in enumerate(moving)]
    runner = CliRunner()
    result = runner.invoke(cli, ["fuse", *map(str, paths), "--deghost", "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    assert "deghosted against shot 2 of 3" in result.output and "of shot 1" in result.output
    fused = read_image(tmp_path / "out.png")[0]
    expected = exposure_fusion(moving, deghost=True)  # the same 8-bit pixels the files hold
    assert np.abs(fused - expected).max() <= 1 / 255 + 1e-6
    refused = runner.invoke(cli, ["fuse", *map(str, paths), "--deghost", "--model", "mmaif-reg", "-o", str(tmp_path / "x.png")])
    assert refused.exit_code == 2 and "--deghost works with exposure-fusion; mmaif-reg does not deghost" in refused.output
    pair = runner.invoke(cli, ["fuse", str(paths[0]), str(paths[1]), "--task", "mff", "--deghost", "-o", str(tmp_path / "y.png")])
    assert pair.exit_code == 2 and "--deghost is for exposure brackets (task mef), not mff" in pair.output
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_the_user_picks_the_shot_that_shows_what_moved(brackets, tmp_path):
    """``--deghost-reference N``: where something moved, it is shown as in the N-th shot given (the
    inputs are sorted dark to bright first, so N counts the files as the user gave them)."""
    static, moving = brackets
    linear = read_image(EXAMPLES / "mef" / "coffee_normal.jpg")[0] ** 2.2 / 2
    there = exposure_fusion([_shoot(_with_object(linear, *AWAY[0]), g, np.random.default_rng(4)) for g in GAINS])  # as the dark shot has it
    home = exposure_fusion(static)  # as the best-exposed shot has it
    given = [moving[2], moving[0], moving[1]]  # bright, dark, middle: the dark shot is input 2
    chosen = fuse(given, model="exposure-fusion", deghost_reference=1)
    automatic = fuse(given, model="exposure-fusion", deghost=True)
    assert any("deghosted against shot 1 of 3 (dark to bright; input 2, as asked)" in note for note in chosen.notes)
    assert any("deghosted against shot 2 of 3 (dark to bright; the best exposed)" in note for note in automatic.notes)
    areas = _object_areas(home.shape)
    error = lambda image, truth: float(np.abs(image - truth)[areas].mean())  # noqa: E731
    assert error(chosen.image, there) < 0.5 * error(automatic.image, there)  # measured: 0.047 against 0.148
    assert error(automatic.image, home) < 0.5 * error(chosen.image, home)
    paths = [write_image(tmp_path / f"shot{i}.png", shot) for i, shot in enumerate(given)]
    runner = CliRunner()
    result = runner.invoke(cli, ["fuse", *map(str, paths), "--deghost-reference", "2", "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    assert "input 2, as asked" in result.output
    assert np.abs(read_image(tmp_path / "out.png")[0] - chosen.image).max() <= 1 / 255 + 1e-6
    wrong = runner.invoke(cli, ["fuse", *map(str, paths), "--deghost-reference", "4", "-o", str(tmp_path / "x.png")])
    assert wrong.exit_code == 2 and "--deghost-reference 4: the bracket has 3 shots" in wrong.output
    assert not (tmp_path / "x.png").exists()
