"""ICC colour profiles: carried from the inputs to the output.

Why: fusion works on the stored pixel values, so a fused image is in the colour space of its
inputs. A photographer's Adobe RGB or Display P3 bracket written without its profile is shown as
sRGB by every viewer: duller, shifted colours. OpenCV neither reads nor writes profiles, so the
few bytes involved are found and placed here: JPEG APP2 ``ICC_PROFILE`` segments, the PNG
``iCCP`` chunk (TIFF goes through tifffile; WebP and BMP outputs carry none).
"""

from __future__ import annotations

import struct
import zlib

_JPEG_ICC_TAG = b"ICC_PROFILE\x00"
_JPEG_ICC_CHUNK = 65519  # 65535 - 2 (length field) - 14 (tag, sequence number, count)


def profile_color_space(profile: bytes) -> str:
    """The profile's data colour space from its header: ``"RGB"``, ``"GRAY"``, ``"CMYK"``, ...
    (empty for a profile too short to have one)."""
    return profile[16:20].decode("latin-1").strip() if len(profile) >= 128 else ""


def fits(profile: bytes | None, channels: int) -> bool:
    """Whether ``profile`` describes an image of ``channels`` (1 gray; 3 or 4 RGB(A))."""
    if not profile:
        return False
    return profile_color_space(profile) == ("GRAY" if channels == 1 else "RGB")


def read_profile(data: bytes, fmt: str) -> bytes | None:
    """The ICC profile embedded in a JPEG or PNG file's bytes, or None (also for damaged metadata:
    a profile is never worth failing a read)."""
    try:
        if fmt == "jpeg":
            return _jpeg_profile(data)
        if fmt == "png":
            return _png_profile(data)
    except (struct.error, zlib.error, ValueError, IndexError):
        return None
    return None


def embed_profile(encoded: bytes, fmt: str, profile: bytes) -> bytes:
    """``encoded`` (a JPEG or PNG file's bytes) with ``profile`` embedded; other formats unchanged."""
    if fmt == "jpeg":
        return _jpeg_with_profile(encoded, profile)
    if fmt == "png":
        return _png_with_profile(encoded, profile)
    return encoded


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


def _jpeg_profile(data: bytes) -> bytes | None:
    chunks: dict[int, bytes] = {}
    for marker, payload in _jpeg_segments(data):
        if marker == 0xE2 and payload.startswith(_JPEG_ICC_TAG) and len(payload) > 14:
            chunks[payload[12]] = payload[14:]
    if not chunks:
        return None
    return b"".join(chunks[k] for k in sorted(chunks))


def _jpeg_with_profile(encoded: bytes, profile: bytes) -> bytes:
    pieces = [profile[i : i + _JPEG_ICC_CHUNK] for i in range(0, len(profile), _JPEG_ICC_CHUNK)]
    if len(pieces) > 255:
        return encoded  # no room: a JPEG holds at most 255 profile segments
    segments = b"".join(
        b"\xff\xe2" + struct.pack(">H", 2 + 14 + len(piece)) + _JPEG_ICC_TAG + bytes((i + 1, len(pieces))) + piece
        for i, piece in enumerate(pieces)
    )
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


def _png_profile(data: bytes) -> bytes | None:
    for kind, payload, _ in _png_chunks(data):
        if kind == b"iCCP":
            name_end = payload.index(b"\x00")
            return zlib.decompress(payload[name_end + 2 :])  # after the name and compression method
    return None


def _png_with_profile(encoded: bytes, profile: bytes) -> bytes:
    payload = b"ICC profile\x00\x00" + zlib.compress(profile)
    chunk = struct.pack(">I", len(payload)) + b"iCCP" + payload + struct.pack(">I", zlib.crc32(b"iCCP" + payload))
    kind, _, end = next(_png_chunks(encoded))  # IHDR comes first; iCCP must precede the image data
    assert kind == b"IHDR"
    return encoded[:end] + chunk + encoded[end:]
