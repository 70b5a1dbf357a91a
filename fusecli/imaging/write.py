"""Writing images: atomic, never over an input or (unless asked) an existing file.

Images are float32 in [0, 1] (or stored uint8/uint16 pixels); the output follows the input's
bit depth, colour profile and EXIF (:class:`~fusecli.imaging.read.ImageMeta`) where its format
can hold them.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

from fusecli.errors import ImageWriteError, OutputExistsError
from fusecli.imaging.metadata import Embedded, embed, fits, profile_color_space
from fusecli.imaging.read import _DEPTHS, DEFAULT_JPEG_QUALITY, ImageMeta, as_float, image_format

log = logging.getLogger(__name__)


def _quantise(image: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float [0, 1] (or stored uint8/uint16 pixels) -> uint8/uint16 or float32; NaN becomes 0.

    Integer outputs are ``floor(clip(x, 0, 1) * peak + 0.5)``: rounding half up, computed in
    float64, where a float32 pixel times 255 or 65535 is exact. The bytes therefore depend on
    no library's rounding mode (OpenCV's saturating multiply rounds ties differently between
    versions). Rows are converted in blocks of about a million values, so a 24 MP frame needs
    no 64-bit copy of itself."""
    image = as_float(np.asarray(image))  # uint8 0..255 is 0..1, as everywhere in fusecli, not 0..255 saturated
    if bit_depth == 32:
        return np.clip(np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0).astype(np.float32)
    peak = 255.0 if bit_depth == 8 else 65535.0
    out = np.empty(image.shape, np.uint8 if bit_depth == 8 else np.uint16)
    rows = max(1, _BLOCK_VALUES // max(1, image[:1].size))
    for start in range(0, image.shape[0], rows):
        block = np.nan_to_num(image[start : start + rows].astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        np.clip(block, 0.0, 1.0, out=block)
        block *= peak
        block += 0.5
        np.floor(block, out=block)
        out[start : start + rows] = block
    return out


_BLOCK_VALUES = 1 << 20


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_free(path: Path, overwrite: bool) -> None:
    """Refuse an existing output unless ``overwrite`` (callers may check before long work)."""
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists (use --overwrite to replace it)")


def check_not_input(path: Path, inputs: Iterable[str | os.PathLike]) -> None:
    """Raise if ``path`` is (or links to) one of ``inputs``, or is an existing file inside an input
    folder (a folder input's files are its inputs): outputs never replace inputs."""
    path = Path(path)
    for source in map(Path, inputs):
        if source.resolve() == path.resolve() or _same_file(source, path):
            raise ImageWriteError(f"{path}: refusing to write over an input file")
        if source.is_dir() and path.exists() and path.resolve().is_relative_to(source.resolve()):
            raise ImageWriteError(f"{path}: refusing to write over a file of the input folder {source}")


def check_writable(path: Path) -> None:
    """Raise unless ``path`` can be created: its nearest existing folder is a folder fusecli may
    write in (checked before long work, not after it)."""
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ImageWriteError(f"{path}: cannot write there: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ImageWriteError(f"{path}: cannot write there: no permission to write in {folder}")


def check_output(path: Path, overwrite: bool, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Everything that would stop an output from being written, checked before the work: an
    unknown extension, an input's place, an existing file (without ``overwrite``), a place that
    cannot be written."""
    path = Path(path)
    image_format(path)
    check_not_input(path, inputs)
    check_output_free(path, overwrite)
    if path.is_dir():
        raise ImageWriteError(f"{path}: is a folder")
    check_writable(path)


def tiff_compression(dtype: np.dtype) -> dict:
    """tifffile's compression settings for TIFF output: zlib at level 1 with horizontal
    differencing for integer pixels. Why: on 24 MP fused photos this is both smaller and faster
    than zlib's default level without it, at 8 and 16 bits (`python bench/bench_tiff.py`,
    docs/benchmarks.md); every TIFF reader decodes it. Float images get no predictor: tifffile's
    floating-point predictor needs the optional imagecodecs package."""
    return {"compression": "zlib", "compressionargs": {"level": 1}, "predictor": np.dtype(dtype).kind in "ui"}


def encode_image(image: np.ndarray, fmt: str, bit_depth: int, quality: int | None = None, found: Embedded = Embedded()) -> bytes:
    """Encode a float [0, 1] image to file bytes (no disk access).

    ``quality`` (1..100) is for the lossy formats: JPEG (default 95) and WebP (default: lossless);
    the lossless formats ignore it. ``found``: the ICC profile to embed (JPEG, PNG, TIFF) where
    it describes the image's channels (an RGB profile is not put on a gray image), and the EXIF
    block (JPEG, PNG)."""
    if quality is not None and not 1 <= quality <= 100:
        raise ImageWriteError(f"quality must be 1..100, not {quality}")
    if bit_depth not in _DEPTHS[fmt]:
        allowed = "/".join("float" if d == 32 else f"{d}-bit" for d in _DEPTHS[fmt])
        raise ImageWriteError(f"{fmt.upper()} cannot store {bit_depth}-bit images (it holds {allowed})")
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ImageWriteError(f"cannot write an array of shape {image.shape} as an image")
    if fmt in ("jpeg", "bmp") and image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]  # these formats hold no alpha
    pixels = _quantise(image, bit_depth)
    if not fits(found.profile, 1 if pixels.ndim == 2 else pixels.shape[2]):
        found = found._replace(profile=None)
    if fmt == "tiff":
        import io as _io

        import tifffile

        buffer = _io.BytesIO()
        photometric = "rgb" if pixels.ndim == 3 else "minisblack"
        extra = ("unassalpha",) if pixels.ndim == 3 and pixels.shape[2] == 4 else None
        tifffile.imwrite(buffer, pixels, photometric=photometric, extrasamples=extra, iccprofile=found.profile, **tiff_compression(pixels.dtype))
        return buffer.getvalue()
    if pixels.ndim == 3:
        code = cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        pixels = cv2.cvtColor(pixels, code)
    params: list[int] = []
    if fmt == "jpeg":
        # 4:4:4 chroma: fused colour edges stay crisp (the default 4:2:0 halves chroma resolution).
        params = [
            cv2.IMWRITE_JPEG_QUALITY,
            int(quality or DEFAULT_JPEG_QUALITY),
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        ]
    elif fmt == "png":
        # zlib level 1 with the "up" filter: ~4x faster than OpenCV's default (level 3,
        # adaptive filters) for files about 10% larger; batch speed matters more here.
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    elif fmt == "webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality or 101)]  # above 100: lossless
    ok, encoded = cv2.imencode("." + ("jpg" if fmt == "jpeg" else fmt), pixels, params)
    if not ok:
        raise ImageWriteError(f"OpenCV could not encode a {fmt.upper()} image of shape {image.shape}")
    return embed(encoded.tobytes(), fmt, found) if any(found) else encoded.tobytes()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise


def write_image(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    bit_depth: int | None = None,
    meta: ImageMeta | None = None,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
    quality: int | None = None,
) -> Path:
    """Write an image (float in [0, 1], or uint8/uint16 stored pixels) atomically.

    The bit depth is ``bit_depth`` if given, else the input's (``meta``) where the output
    format can hold it, else 8; the input's colour profile and EXIF are embedded where the format
    holds them. Refuses an existing ``path`` unless ``overwrite``, and refuses
    to replace any of ``inputs`` even with ``overwrite``. ``quality``: see :func:`encode_image`.
    """
    path = Path(path)
    fmt = image_format(path)
    check_not_input(path, inputs)
    check_output_free(path, overwrite)
    if path.is_dir():
        raise ImageWriteError(f"{path}: is a folder")
    if bit_depth is None:
        wanted = meta.bit_depth if meta is not None else 8
        bit_depth = wanted if wanted in _DEPTHS[fmt] else max(d for d in _DEPTHS[fmt] if d <= 16)
        if wanted not in _DEPTHS[fmt]:
            log.info("%s: %s holds no %d-bit data; writing %d-bit", path, fmt.upper(), wanted, bit_depth)
    data = encode_image(image, fmt, bit_depth, quality, Embedded(meta.profile, meta.exif) if meta is not None else Embedded())
    try:
        write_bytes_atomic(path, data)
    except OSError as exc:
        raise ImageWriteError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    return path


def frame_names(metas: Sequence[ImageMeta]) -> list[str]:
    """Each frame's file as given, with its page for a multi-page TIFF's frames."""
    pages, seen = Counter(m.path for m in metas), Counter()
    names = []
    for meta in metas:
        seen[meta.path] += 1
        names.append(f"{meta.path} page {seen[meta.path]}" if pages[meta.path] > 1 else str(meta.path))
    return names


def output_meta(metas: Sequence[ImageMeta]) -> ImageMeta:
    """The storage to follow for an output made from several inputs: the deepest bit depth, the
    colour profile of the first input with an RGB one (else with any: a gray output's), and the
    first EXIF block (the capture date and camera of the scene)."""
    if not metas:
        raise ValueError("no input metadata")
    deepest = max(metas, key=lambda m: m.bit_depth)
    profiles = [m.profile for m in metas if m.profile]
    rgb = [p for p in profiles if profile_color_space(p) == "RGB"]
    if len(set(rgb)) > 1:
        log.warning("the inputs carry different colour profiles; the output keeps the first one's (fusecli does not convert colour spaces)")
    exif = next((m.exif for m in metas if m.exif), None)
    return replace(deepest, path=None, profile=(rgb or profiles or [None])[0], exif=exif)
