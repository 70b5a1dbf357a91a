"""What an image file carries beside its pixels, carried from the inputs to the output: the ICC
colour profile and the EXIF block.

Why: fusion works on the stored pixel values, so a fused image is in the colour space of its
inputs. A photographer's Adobe RGB or Display P3 bracket written without its profile is shown as
sRGB by every viewer: duller, shifted colours. And without EXIF a fused photo loses its capture
date and camera, so photo libraries file it under the day it was fused. OpenCV neither reads nor
writes either, so the few bytes involved are found and placed here: JPEG APP2 ``ICC_PROFILE`` and
APP1 ``Exif`` segments, PNG ``iCCP`` and ``eXIf`` chunks (TIFF profiles go through tifffile; WebP
and BMP outputs carry neither, TIFF no EXIF).
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

_JPEG_ICC_TAG = b"ICC_PROFILE\x00"
_JPEG_ICC_CHUNK = 65519  # 65535 - 2 (length field) - 14 (tag, sequence number, count)
_JPEG_EXIF_TAG = b"Exif\x00\x00"
_ORIENTATION = 0x0112


class Embedded(NamedTuple):
    """An image file's ICC profile and EXIF block (TIFF-structured, without the JPEG prefix)."""

    profile: bytes | None = None
    exif: bytes | None = None


def profile_color_space(profile: bytes) -> str:
    """The profile's data colour space from its header: ``"RGB"``, ``"GRAY"``, ``"CMYK"``, ...
    (empty for a profile too short to have one)."""
    return profile[16:20].decode("latin-1").strip() if len(profile) >= 128 else ""


def fits(profile: bytes | None, channels: int) -> bool:
    """Whether ``profile`` describes an image of ``channels`` (1 gray; 3 or 4 RGB(A))."""
    if not profile:
        return False
    return profile_color_space(profile) == ("GRAY" if channels == 1 else "RGB")


def read_embedded(data: bytes, fmt: str) -> Embedded:
    """The ICC profile and EXIF of a JPEG or PNG file's bytes (None where absent, and for damaged
    metadata: it is never worth failing a read). A JPEG's EXIF orientation is set to upright,
    since its pixels are read turned upright; embedded thumbnails are dropped (they would show
    one input, not the fused image)."""
    try:
        if fmt == "jpeg":
            found = _jpeg_embedded(data)
            return Embedded(found.profile, upright_exif(found.exif))
        if fmt == "png":
            found = _png_embedded(data)
            return Embedded(found.profile, upright_exif(found.exif, keep_orientation=True))
    except (struct.error, zlib.error, ValueError, IndexError):
        pass
    return Embedded()


def embed(encoded: bytes, fmt: str, found: Embedded) -> bytes:
    """``encoded`` (a JPEG or PNG file's bytes) with ``found``'s profile and EXIF embedded; other
    formats unchanged."""
    if fmt == "jpeg":
        return _jpeg_with(encoded, found)
    if fmt == "png":
        return _png_with(encoded, found)
    return encoded


def upright_exif(exif: bytes | None, keep_orientation: bool = False) -> bytes | None:
    """``exif`` with its orientation set to 1 (unless ``keep_orientation``) and its thumbnail
    (the second IFD) unlinked; None if it is not a TIFF-structured block."""
    if not exif or exif[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if exif[:2] == b"II" else ">"
    block = bytearray(exif)
    (ifd,) = struct.unpack_from(order + "I", block, 4)
    (count,) = struct.unpack_from(order + "H", block, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from(order + "HH", block, entry)
        if tag == _ORIENTATION and kind == 3 and not keep_orientation:  # SHORT, stored in the entry
            struct.pack_into(order + "H", block, entry + 8, 1)
    struct.pack_into(order + "I", block, ifd + 2 + 12 * count, 0)  # no next IFD: no thumbnail
    return bytes(block)


# ----------------------------------------------------------------------------- JPEG


def _jpeg_segments(data: bytes):
    """(marker, payload) of each segment before the image data (start of scan)."""
    pos = 2  # after SOI
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: no more metadata
            return
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):  # damaged: stop looking
            return
        yield marker, data[pos + 4 : pos + 2 + length]
        pos += 2 + length


def _jpeg_embedded(data: bytes) -> Embedded:
    chunks: dict[int, bytes] = {}
    exif = None
    for marker, payload in _jpeg_segments(data):
        if marker == 0xE2 and payload.startswith(_JPEG_ICC_TAG) and len(payload) > 14:
            chunks[payload[12]] = payload[14:]
        elif marker == 0xE1 and payload.startswith(_JPEG_EXIF_TAG) and exif is None:
            exif = payload[len(_JPEG_EXIF_TAG) :]
    profile = b"".join(chunks[k] for k in sorted(chunks)) if chunks else None
    return Embedded(profile, exif)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", 2 + len(payload)) + payload


def _jpeg_with(encoded: bytes, found: Embedded) -> bytes:
    segments = b""
    if found.exif and len(found.exif) + len(_JPEG_EXIF_TAG) <= 65533:
        segments += _segment(0xE1, _JPEG_EXIF_TAG + found.exif)
    if found.profile:
        pieces = [found.profile[i : i + _JPEG_ICC_CHUNK] for i in range(0, len(found.profile), _JPEG_ICC_CHUNK)]
        if len(pieces) <= 255:  # a JPEG holds at most 255 profile segments
            segments += b"".join(_segment(0xE2, _JPEG_ICC_TAG + bytes((i + 1, len(pieces))) + p) for i, p in enumerate(pieces))
    # after SOI and the JFIF APP0 segment, which must come first
    at = 2
    if encoded[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack(">H", encoded[4:6])[0]
    return encoded[:at] + segments + encoded[at:]


# ----------------------------------------------------------------------------- PNG


def _png_chunks(data: bytes):
    """(type, payload, end offset) of each chunk up to the image data."""
    pos = 8  # after the signature
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):  # damaged: stop looking
            return
        yield kind, data[pos + 8 : pos + 8 + length], end
        if kind == b"IDAT":
            return
        pos = end


def _png_embedded(data: bytes) -> Embedded:
    profile = exif = None
    for kind, payload, _ in _png_chunks(data):
        if kind == b"iCCP":
            name_end = payload.index(b"\x00")
            profile = zlib.decompress(payload[name_end + 2 :])  # after the name and compression method
        elif kind == b"eXIf":
            exif = payload
    return Embedded(profile, exif)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_with(encoded: bytes, found: Embedded) -> bytes:
    chunks = b""
    if found.profile:
        chunks += _chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(found.profile))
    if found.exif:
        chunks += _chunk(b"eXIf", found.exif)
    kind, _, end = next(_png_chunks(encoded))  # IHDR comes first; both must precede the image data
    assert kind == b"IHDR"
    return encoded[:end] + chunks + encoded[end:]
