"""The pixel budget: sizes read from the headers of every format, images over it refused undecoded."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile

from fusecli.errors import ImageReadError
from fusecli.imaging import read_image, read_stack
from fusecli.imaging.header import DEFAULT_MAX_PIXELS, ImageTooLargeError, declared_pixels, max_pixels, parse_pixels

from conftest import jpeg_bomb, png_bomb


@pytest.mark.parametrize("ext,params", [
    (".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]), (".bmp", []),
    (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
])
@pytest.mark.parametrize("channels", [3, 4])
def test_headers_declare_the_decoded_size(tmp_path, ext, params, channels):
    """Every format's header parser agrees with the decoder (WebP: lossy VP8, lossless VP8L, VP8X with alpha)."""
    if ext in (".jpg",) and channels == 4:
        channels = 3
    image = np.random.default_rng(0).integers(0, 255, (37, 53, channels), np.uint8)
    path = tmp_path / f"x{ext}"
    path.write_bytes(cv2.imencode(ext, image, params)[1].tobytes())
    fmt = {".jpg": "jpeg"}.get(ext, ext[1:])
    assert declared_pixels(path, fmt) == (37 * 53, "53×37")
    assert read_image(path)[0].shape[:2] == (37, 53)


def test_tiff_pages_count_together(tmp_path):
    path = tmp_path / "stack.tif"
    with tifffile.TiffWriter(path) as tw:
        for _ in range(3):
            tw.write(np.zeros((20, 30), np.uint16), contiguous=False)
    assert declared_pixels(path, "tiff") == (3 * 600, "3 pages of 30×20")


@pytest.mark.parametrize("make,ext", [(png_bomb, ".png"), (jpeg_bomb, ".jpg")])
def test_an_image_over_the_budget_is_refused_before_decoding(tmp_path, make, ext):
    """30000×30000 (and 65000×65000: past OpenCV's own cap) are refused by name and size, undecoded."""
    for side in (30000, 65000):
        path = make(tmp_path / f"big{side}{ext}", side, side)
        with pytest.raises(ImageTooLargeError, match=rf"big{side}\{ext}: {side}×{side} is [\d,]+ MP, over the 300 MP limit"):
            read_image(path)


def test_the_budget_is_adjustable(tmp_path, monkeypatch):
    path = png_bomb(tmp_path / "wide.png", 400, 300)  # 0.12 MP
    monkeypatch.setenv("FUSECLI_MAX_PIXELS", "0.1M")
    with pytest.raises(ImageTooLargeError, match=r"wide.png: 400×300 is 0.12 MP, over the 0.1 MP limit"):
        read_stack(path)
    monkeypatch.setenv("FUSECLI_MAX_PIXELS", "120000")
    with pytest.raises(ImageReadError) as caught:  # within the budget: decoded, and this file's data is too short
        read_image(path)
    assert not isinstance(caught.value, ImageTooLargeError)
    monkeypatch.setenv("FUSECLI_MAX_PIXELS", "lots")
    with pytest.raises(ImageReadError, match="FUSECLI_MAX_PIXELS"):
        max_pixels()
    monkeypatch.delenv("FUSECLI_MAX_PIXELS")
    assert max_pixels() == DEFAULT_MAX_PIXELS == parse_pixels("300M")
    with pytest.raises(ValueError):
        parse_pixels("-5")
