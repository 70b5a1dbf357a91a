"""Image sizes from file headers, and the pixel budget checked before anything is decoded.

A few hundred bytes can declare an image of billions of pixels (a 875 KB PNG of 30000×30000
decodes to 2.7 GB); decoding it first and checking afterwards is too late. Every format fusecli
reads states its size in its header: PNG (IHDR), JPEG (the SOF segment), BMP, WebP (VP8, VP8L,
VP8X) and TIFF (each page's tags). A file whose pixels, over all its pages, exceed the budget is
refused with one line naming it and its size.

The budget: ``$FUSECLI_MAX_PIXELS`` (pixels, or with an ``M`` suffix megapixels), else
:data:`DEFAULT_MAX_PIXELS`; ``fusecli --max-pixels`` sets it for one run.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from fusecli.errors import ImageReadError

DEFAULT_MAX_PIXELS = 300_000_000  # above the largest camera frames (150 MP medium format, 400 MP pixel-shift composites aside)
ENV = "FUSECLI_MAX_PIXELS"


class ImageTooLargeError(ImageReadError):
    """An image over the pixel budget (refused before it is decoded)."""


def parse_pixels(text: str) -> int:
    """``"300000000"`` or ``"300M"`` -> pixels; raises ``ValueError`` for anything else or < 1."""
    text = text.strip()
    scale = 1_000_000 if text[-1:].upper() == "M" else 1
    value = float(text[:-1] if scale > 1 else text)
    pixels = int(value * scale)
    if not value > 0 or pixels < 1:
        raise ValueError(f"expected a positive number of pixels (e.g. 300000000 or 300M), got {text!r}")
    return pixels


def max_pixels() -> int:
    """The pixel budget in force: ``$FUSECLI_MAX_PIXELS`` or :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get(ENV)
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        return parse_pixels(value)
    except ValueError as exc:
        raise ImageReadError(f"${ENV}: {exc}") from None


def declared_pixels(path: Path, fmt: str) -> tuple[int, str] | None:
    """``(pixels over every page, "W×H" or "N pages")`` as ``path``'s header declares them, or
    None where it does not say (a header cut short: the decoder then reports the file)."""
    if fmt == "tiff":
        return _tiff_pixels(path)
    try:
        with open(path, "rb") as handle:
            size = _READERS[fmt](handle) if fmt in _READERS else None
    except (OSError, struct.error, ValueError):
        return None
    if size is None:
        return None
    width, height = size
    return width * height, f"{width}×{height}"


def check_pixel_budget(path: Path, fmt: str) -> None:
    """Raise :class:`ImageTooLargeError` if ``path``'s header declares more pixels than the budget."""
    declared = declared_pixels(path, fmt)
    if declared is not None:
        refuse_over_budget(path, *declared)


def refuse_over_budget(path: Path, pixels: int, shape: str) -> None:
    """Raise :class:`ImageTooLargeError` naming ``path`` and its ``shape`` if ``pixels`` exceed the budget."""
    limit = max_pixels()
    if pixels > limit:
        raise ImageTooLargeError(f"{path}: {shape} is {_megapixels(pixels)}, over the {_megapixels(limit)} limit (raise it with --max-pixels or ${ENV})")


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:,.0f} MP" if pixels >= 10_000_000 else f"{pixels / 1e6:.3g} MP"


def _png(handle) -> tuple[int, int] | None:
    head = handle.read(24)
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(handle) -> tuple[int, int] | None:
    """The size in the first start-of-frame segment, skipping the segments before it."""
    if handle.read(2) != b"\xff\xd8":
        return None
    while True:
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        code = marker[1]
        while code == 0xFF:  # fill bytes
            code = handle.read(1)[0]
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:  # markers without a length
            continue
        if code == 0xD9:
            return None
        length = struct.unpack(">H", handle.read(2))[0]
        if code in _SOF:
            segment = handle.read(5)
            height, width = struct.unpack(">HH", segment[1:5])
            return width, height
        handle.seek(length - 2, os.SEEK_CUR)


def _bmp(handle) -> tuple[int, int] | None:
    head = handle.read(26)
    if len(head) < 26 or head[:2] != b"BM":
        return None
    if struct.unpack("<I", head[14:18])[0] == 12:  # BITMAPCOREHEADER: 16-bit sizes
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    return abs(width), abs(height)  # a negative height is a top-down bitmap


def _webp(handle) -> tuple[int, int] | None:
    head = handle.read(30)
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":  # extended: 24-bit width - 1, height - 1
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8L":  # lossless: 14-bit width - 1, height - 1 after the signature byte
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


_READERS = {"png": _png, "jpeg": _jpeg, "bmp": _bmp, "webp": _webp}


def _tiff_pixels(path: Path) -> tuple[int, str] | None:
    """Pixels of every page as their tags declare them (tifffile reads the tags, not the data)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            shapes = [(page.imagelength, page.imagewidth) for page in tif.pages]
    except Exception:  # a damaged file: the decoder reports it, with its own reason
        return None
    if not shapes or not all(isinstance(v, int) and v > 0 for shape in shapes for v in shape):
        return None  # damaged tags: the decoder reports the file
    pixels = sum(h * w for h, w in shapes)
    height, width = shapes[0]
    return pixels, f"{width}×{height}" if len(shapes) == 1 else f"{len(shapes)} pages of {width}×{height}"
