from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def smooth_image(rng: np.random.Generator, h: int, w: int, channels: int | None = None) -> np.ndarray:
    """A float32 test image with structure (not just noise), values in [0, 1]."""
    import cv2

    shape = (h, w) if channels is None else (h, w, channels)
    noise = rng.random(shape).astype(np.float32)
    img = cv2.GaussianBlur(noise, (0, 0), 2.0)
    img = (img - img.min()) / max(float(img.max() - img.min()), 1e-6)
    return img.astype(np.float32)


def staged(model, frames, options):
    """``model.fuse`` after its classical stage, as the pipeline runs it (frames already a multiple of its size)."""
    from fusecli.restore.stage import prepare

    return model.fuse(frames, prepare(model, frames, options))


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width`` × ``height`` gray pixels, with a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def jpeg_bomb(path: Path, width: int, height: int) -> Path:
    """A JPEG whose start-of-frame declares ``width`` × ``height`` (after an APP0 segment)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    path.write_bytes(b"\xff\xd8" + app0 + sof + b"\xff\xd9")
    return path


def pink_noise(seed: int, h: int = 192, w: int = 256) -> np.ndarray:
    """A frame with natural images' spectrum (amplitude ~ 1/frequency, random phase), in 0..1."""
    gen = np.random.default_rng(seed)
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    spectrum = np.fft.irfft2(np.exp(2j * np.pi * gen.random(radius.shape)) / np.maximum(radius, 1.0 / max(h, w)), (h, w))
    return ((spectrum - spectrum.min()) / (spectrum.max() - spectrum.min())).astype(np.float32)
