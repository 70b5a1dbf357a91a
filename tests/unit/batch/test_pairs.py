from __future__ import annotations

import pytest

from fusecli.errors import EmptyInputError, InputMismatchError, ImageReadError
from fusecli.imaging import write_image
from fusecli.batch.pairs import list_images, list_stacks, match_by_stem

from conftest import smooth_image


def _touch_images(folder, names, rng):
    for name in names:
        write_image(folder / name, smooth_image(rng, 8, 8))


def test_list_images_sorted_case_insensitive(tmp_path, rng):
    _touch_images(tmp_path, ["img10.PNG", "img2.jpg", "img1.TIF"], rng)
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / ".hidden.png").write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["img1.TIF", "img2.jpg", "img10.PNG"]


def test_list_images_errors(tmp_path):
    with pytest.raises(EmptyInputError, match="no images"):
        list_images(tmp_path)
    with pytest.raises(ImageReadError, match="no such folder"):
        list_images(tmp_path / "nope")


def test_match_by_stem_reports_unmatched(tmp_path, rng):
    ir, vi = tmp_path / "ir", tmp_path / "vi"
    _touch_images(ir, ["0001.png", "0002.png", "0003.png"], rng)
    _touch_images(vi, ["0001.jpg", "0003.jpg", "0004.jpg"], rng)
    m = match_by_stem(ir, vi)
    assert [s for s, _ in m.items] == ["0001", "0003"]
    assert m.items[0][1][1].name == "0001.jpg"
    assert m.unmatched[ir] == ["0002.png"] and m.unmatched[vi] == ["0004.jpg"]
    lines = m.describe_unmatched()
    assert any("0002.png" in line for line in lines) and any("0004.jpg" in line for line in lines)


def test_match_by_stem_errors(tmp_path, rng):
    a, b = tmp_path / "a", tmp_path / "b"
    _touch_images(a, ["x.png", "x.jpg"], rng)
    _touch_images(b, ["x.png"], rng)
    with pytest.raises(InputMismatchError, match="share the name"):
        match_by_stem(a, b)
    c, d = tmp_path / "c", tmp_path / "d"
    _touch_images(c, ["1.png"], rng)
    _touch_images(d, ["2.png"], rng)
    with pytest.raises(EmptyInputError, match="no file names match"):
        match_by_stem(c, d)


def test_list_stacks(tmp_path, rng):
    _touch_images(tmp_path / "scene 2", ["a.jpg", "b.jpg"], rng)
    _touch_images(tmp_path / "scene 10", ["a.jpg", "b.jpg", "c.jpg"], rng)
    (tmp_path / "empty").mkdir()
    write_image(tmp_path / "bracket.tif", smooth_image(rng, 8, 8))
    skipped: list[str] = []
    stacks = list_stacks(tmp_path, skipped)
    assert [s.name for s in stacks] == ["bracket", "scene 2", "scene 10"]
    assert len(skipped) == 1 and "empty" in skipped[0] and "no images" in skipped[0]
    assert stacks[0].is_multipage and len(stacks[2].frames) == 3
    with pytest.raises(EmptyInputError):
        list_stacks(tmp_path / "empty")
