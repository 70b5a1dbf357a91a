"""Reading images: PNG, JPEG, BMP, WebP, TIFF (8/16-bit, float, multi-page) and camera RAW.

Inside fusecli every image is a float32 array in [0, 1], shaped ``(H, W)`` for gray or
``(H, W, C)`` with C = 3 (RGB) or 4 (RGBA). :class:`ImageMeta` remembers how the file was
stored so outputs can follow the input's bit depth, colour profile and EXIF. Files are decoded
by what their first bytes say they are (a JPEG named ``.png`` is read as a JPEG, with a
warning).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from fusecli.imaging.camera_raw import RAW_EXTENSIONS, is_camera_raw, read_camera_raw
from fusecli.errors import ImageReadError, ImageWriteError
from fusecli.imaging.header import check_pixel_budget
from fusecli.imaging.metadata import Embedded, read_embedded

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_FORMAT_BY_EXT = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".webp": "webp",
}
# Which bit depths each format can hold (32 means float32).
_DEPTHS = {"png": (8, 16), "jpeg": (8,), "bmp": (8,), "tiff": (8, 16, 32), "webp": (8,)}
# JPEG quality when none is asked for (WebP without one is lossless).
DEFAULT_JPEG_QUALITY = 95


@dataclass(frozen=True)
class ImageMeta:
    """How an image was stored: enough to write a result back the same way."""

    path: Path | None
    format: str  # png | jpeg | bmp | tiff | webp | raw (what the file holds, whatever its extension)
    bit_depth: int  # 8, 16, or 32 (float)
    channels: int  # 1, 3 or 4 as stored
    value_range: tuple[float, float] = (0.0, 1.0)  # float TIFFs outside [0, 1] were rescaled from this range
    profile: bytes | None = field(default=None, repr=False)  # embedded ICC colour profile (JPEG, PNG, TIFF)
    exif: bytes | None = field(default=None, repr=False)  # EXIF block (JPEG, PNG), orientation upright


def image_format(path: str | os.PathLike) -> str:
    """The format name for a path's extension, or raise for an unsupported one."""
    ext = Path(path).suffix.lower()
    if ext not in _FORMAT_BY_EXT:
        raise ImageWriteError(
            f"{path}: unsupported image extension {ext or '(none)'!r}; use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    return _FORMAT_BY_EXT[ext]


def is_image_file(path: str | os.PathLike) -> bool:
    """Whether fusecli reads ``path`` by its extension (camera RAW files too)."""
    return Path(path).suffix.lower() in _FORMAT_BY_EXT or is_camera_raw(path)


def output_suffix(path: str | os.PathLike) -> str:
    """The extension of an output named after input ``path``: the input's, where fusecli can write
    it; ``.tif`` (16-bit, lossless) for a camera RAW input."""
    suffix = Path(path).suffix
    return suffix if suffix.lower() in _FORMAT_BY_EXT else ".tif"


# ----------------------------------------------------------------------------- reading


def _to_float(array: np.ndarray, path: Path) -> tuple[np.ndarray, int, tuple[float, float]]:
    """Integer or float pixels -> float32 in [0, 1], with the bit depth and source range."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0, 8, (0.0, 1.0)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0, 16, (0.0, 1.0)
    if array.dtype == np.bool_:
        return array.astype(np.float32), 8, (0.0, 1.0)
    if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer):
        # float, signed or 32/64-bit integer samples are measurements (temperatures, radiometric
        # counts of IR cameras), not display values: rescaled from their own range, remembered
        data = array.astype(np.float64 if array.dtype.itemsize > 4 or array.dtype.kind in "iu" else np.float32)
        finite = data[np.isfinite(data)]
        if finite.size == 0:
            raise ImageReadError(f"{path}: float image has no finite pixel values")
        lo, hi = float(finite.min()), float(finite.max())
        data = np.nan_to_num(data, nan=lo, posinf=hi, neginf=lo)
        if array.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
            return data.astype(np.float32), 32, (0.0, 1.0)
        log.warning("%s: %s values span [%g, %g]; rescaled to [0, 1]", path, array.dtype, lo, hi)
        scale = hi - lo if hi > lo else 1.0
        return ((data - lo) / scale).astype(np.float32), 16 if array.dtype.kind in "iu" else 32, (lo, hi)
    raise ImageReadError(f"{path}: unsupported pixel type {array.dtype}")


def as_float(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Stored pixels (uint8, uint16 or float in 0..1) -> float32 in 0..1 (8/16-bit pixels into
    ``out`` when given: a buffer reused from frame to frame; float pixels are returned as they are)."""
    if image.dtype == np.uint8:  # one pass, not astype + multiply (2x faster on 24 MP)
        return np.multiply(image, np.float32(1 / 255), dtype=np.float32, out=out)
    if image.dtype == np.uint16:
        return np.multiply(image, np.float32(1 / 65535), dtype=np.float32, out=out)
    return np.asarray(image, np.float32)


def _normalise_layout(array: np.ndarray, path: Path) -> np.ndarray:
    """Squeeze singleton channels; accept (H, W), (H, W, 1|3|4), and (H, W, 2) as gray + alpha
    (PNG's LA, a TIFF's gray with one extra sample), whose alpha is dropped like RGBA's."""
    if array.ndim == 3 and array.shape[2] in (2, 4):
        _warn_if_transparent(array[:, :, -1], path)
    if array.ndim == 3 and array.shape[2] in (1, 2):
        array = array[:, :, 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        return array
    raise ImageReadError(f"{path}: unsupported image layout {array.shape}; expected gray, gray + alpha, RGB or RGBA")


def _warn_if_transparent(alpha: np.ndarray, path: Path) -> None:
    """Fusion ignores alpha, so say when it hides something: the colour stored under transparent
    pixels (often black, or whatever an editor left there) is fused as if it were visible."""
    opaque = np.iinfo(alpha.dtype).max if alpha.dtype.kind in "iu" else 1.0
    see_through = np.count_nonzero(alpha < opaque)
    if see_through:
        log.warning(
            "%s: %.1f %% of its pixels are transparent; fusecli ignores the alpha channel and fuses "
            "the colour stored under them", path, 100.0 * see_through / alpha.size,
        )


def _check_complete(data: bytes, fmt: str, path: Path) -> None:
    """Detect truncated files that decoders would otherwise half-decode silently."""
    if fmt == "jpeg":
        # Entropy-coded data never contains FF D9 or FF DA (FF is byte-stuffed), so the
        # end-of-image marker must follow the last start-of-scan marker.
        if data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
            raise ImageReadError(f"{path}: truncated JPEG file (no end-of-image marker)")
    elif fmt == "png":
        if b"IEND" not in data[-64:]:
            raise ImageReadError(f"{path}: truncated PNG file (no IEND chunk)")
    elif fmt == "webp" and len(data) < 8 + int.from_bytes(data[4:8], "little"):
        raise ImageReadError(f"{path}: truncated WebP file (shorter than its RIFF header says)")


# First bytes -> format. Files are decoded by these, not by their extension: a JPEG saved
# as ``.png`` (some public MEF sets have them) is still a readable image.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"BM", "bmp"),
)


def sniff_format(head: bytes) -> str | None:
    """The format a file's first 12 bytes announce, or None for none that fusecli reads."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((fmt for signature, fmt in _SIGNATURES if head.startswith(signature)), None)


def _content_format(path: Path, named: str) -> str:
    """The format to decode ``path`` as: what its bytes say, with a warning when its extension
    (``named``) says something else."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if not head:
        raise ImageReadError(f"{path}: file is empty")
    actual = sniff_format(head)
    if actual is None:
        raise ImageReadError(f"{path}: not a {named.upper()} file (bad signature), nor any image format fusecli reads")
    if actual != named:
        log.warning("%s: holds %s data despite its %s extension; read as %s", path, actual.upper(), path.suffix, actual.upper())
    return actual


def _read_raster(path: Path, fmt: str) -> tuple[np.ndarray, Embedded]:
    """Decode PNG/JPEG/BMP/WebP with OpenCV into RGB(A) or gray, native dtype; and its ICC profile and EXIF."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise ImageReadError(f"{path}: file is empty")
    _check_complete(data, fmt, path)
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        # ANYCOLOR keeps gray JPEGs gray and, unlike UNCHANGED, applies EXIF orientation.
        array = cv2.imdecode(buffer, cv2.IMREAD_ANYCOLOR if fmt == "jpeg" else cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # OpenCV's own limits and checks (e.g. its pixel cap) raise rather than return None
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise ImageReadError(f"{path}: OpenCV cannot decode this {fmt.upper()} ({reason})") from None
    if array is None:
        raise ImageReadError(f"{path}: cannot decode {fmt.upper()} data (corrupt or not an image)")
    return _rgb_order(array), read_embedded(data, fmt)


def _rgb_order(array: np.ndarray) -> np.ndarray:
    """OpenCV's BGR(A) channel order -> RGB(A); gray as it is."""
    if array.ndim == 3 and array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if array.ndim == 3 and array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    return array


_OPENCV_QUIET = threading.Lock()


def _opencv_tiff(path: Path, why: Exception) -> list[np.ndarray]:
    """Every page of a TIFF whose compression tifffile decodes only with the optional
    ``imagecodecs`` package (LZW, the default of OpenCV, GIMP and many camera tools; PackBits;
    JPEG): OpenCV's libtiff reads those, so they need no extra package."""
    with _OPENCV_QUIET:  # files are read in threads: one saves and restores the log level at a time
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # its own errors say less than ours
        try:
            ok, pages = cv2.imdecodemulti(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            ok, pages = False, ()
        finally:
            cv2.utils.logging.setLogLevel(level)
    if not ok or not pages:
        raise ImageReadError(f"{path}: cannot decode TIFF data ({why}; OpenCV could not either)")
    return [_rgb_order(page) for page in pages]


class _Messages(logging.Handler):
    """Collects what a library logs in this thread while it reads one file (other threads may be
    reading other files meanwhile)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def _tifffile_messages() -> Iterator[list[str]]:
    """What tifffile logs meanwhile. It reports damage (a page list cut short by truncation, a
    tag it cannot read) as log records and reads on, so a cut multi-page stack would silently
    lose frames."""
    handler, logger = _Messages(), logging.getLogger("tifffile")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def _as_displayed(array: np.ndarray, page, path: Path) -> np.ndarray:
    """A TIFF page's stored samples -> the image they show, samples last: planar RGB planes
    interleaved, palette indices through the colour map, white-is-zero gray inverted, CMYK
    converted to RGB (tifffile hands all of these over as stored)."""
    if array.ndim == 3 and page.planarconfig == 2 and page.samplesperpixel > 1 and array.shape[0] == page.samplesperpixel:
        array = np.moveaxis(array, 0, -1)  # (S, H, W) planes -> (H, W, S)
    if page.photometric == 3 and page.colormap is not None:  # PALETTE
        colours = np.asarray(page.colormap, np.float64).T  # (2**bits, 3) on 0..65535
        if page.bitspersample <= 8:
            return np.round(colours / 257.0).astype(np.uint8)[array]
        return colours.astype(np.uint16)[array]
    if page.photometric == 0 and array.dtype.kind in "ub":  # MINISWHITE
        return ~array if array.dtype.kind == "b" else np.iinfo(array.dtype).max - array
    if page.photometric == 5 and array.ndim == 3 and array.shape[-1] >= 4:  # SEPARATED
        inkset = page.tags.get(332)  # InkSet: 1 (or absent) = CMYK
        if inkset is not None and inkset.value != 1:
            raise ImageReadError(f"{path}: TIFF with a non-CMYK ink set; fusecli reads CMYK, gray and RGB")
        if array.dtype.kind not in "uf":
            raise ImageReadError(f"{path}: CMYK TIFF with {array.dtype} samples is not supported")
        top = 1.0 if array.dtype.kind == "f" else float(np.iinfo(array.dtype).max)
        ink = array[..., :4].astype(np.float32) / top
        rgb = (1.0 - ink[..., :3]) * (1.0 - ink[..., 3:4])  # the naive conversion, as OpenCV's CMYK JPEGs
        return rgb if array.dtype.kind == "f" else np.round(rgb * top).astype(array.dtype)
    return array


def _tiff_pages(path: Path) -> tuple[list[np.ndarray], Embedded]:
    """All images in a TIFF: one per page, or the frames of a (N, H, W[, C]) series; and the
    first page's ICC profile."""
    import tifffile  # imported when a TIFF is read: saves start-up time otherwise

    try:
        with _tifffile_messages() as messages, tifffile.TiffFile(path) as tif:
            pages = len(tif.pages)
            if not pages:
                raise ImageReadError(f"{path}: TIFF has no readable page (truncated or corrupt)")
            series = tif.series[0] if tif.series else None
            # samples (channels) last: one image, however many (2 = gray + alpha), not a volume
            channels_last = pages == 1 and tif.pages[0].axes.endswith("S")
            icc = tif.pages[0].tags.get(34675)  # InterColorProfile
            profile = bytes(icc.value) if icc is not None else None
            try:
                if pages > 1:
                    arrays = [_as_displayed(page.asarray(), page, path) for page in tif.pages]
                else:
                    arrays = [_as_displayed(tif.asarray(), tif.pages[0], path)]
            except ValueError as exc:
                if "imagecodecs" not in str(exc):
                    raise
                arrays = _opencv_tiff(path, exc)
            messages = [re.sub(r"^<[^>]*>\s*", "", m) for m in messages]  # "<tifffile.TiffPages @538> ..."
            damaged = [m for m in messages if "page" in m and "offset" in m]
            if damaged:
                raise ImageReadError(f"{path}: TIFF is truncated or damaged after page {pages} ({damaged[0]})")
            for message in messages:
                log.warning("%s: %s", path, message)
    except FileNotFoundError as exc:
        raise ImageReadError(f"{path}: no such file") from exc
    except ImageReadError:
        raise
    except Exception as exc:  # tifffile raises many types on corrupt data
        raise ImageReadError(f"{path}: cannot decode TIFF data ({exc})") from exc
    if len(arrays) == 1 and series is not None and arrays[0].ndim == 3 and not channels_last and arrays[0].shape[-1] not in (1, 3, 4):
        arrays = list(arrays[0])  # a single-page (N, H, W) volume
    elif len(arrays) == 1 and arrays[0].ndim == 4:
        arrays = list(arrays[0])
    return arrays, Embedded(profile)


def _finish(array: np.ndarray, path: Path, fmt: str, keep_integers: bool = False, found: Embedded = Embedded()) -> tuple[np.ndarray, ImageMeta]:
    array = _normalise_layout(np.asarray(array), path)
    if array.size == 0:
        raise ImageReadError(f"{path}: image has no pixels")
    if keep_integers and array.dtype in (np.uint8, np.uint16):  # 4x (2x) less memory than float
        depth = 8 if array.dtype == np.uint8 else 16
        channels = 1 if array.ndim == 2 else array.shape[2]
        return np.ascontiguousarray(array), ImageMeta(path, fmt, depth, channels, (0.0, 1.0), *found)
    image, depth, value_range = _to_float(array, path)
    channels = 1 if image.ndim == 2 else image.shape[2]
    return np.ascontiguousarray(image), ImageMeta(path, fmt, depth, channels, value_range, *found)


def _check_path(path: Path) -> str:
    """The format to decode an existing image file as (its content's; its extension must be an image's)."""
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, expected an image file")
    ext = path.suffix.lower()
    if is_camera_raw(path):
        return "raw"  # many RAW formats are TIFF inside: LibRaw, not the signature, decides
    if ext not in _FORMAT_BY_EXT:
        raise ImageReadError(
            f"{path}: unsupported image extension {ext or '(none)'!r}; use one of "
            f"{', '.join(IMAGE_EXTENSIONS)} (or a camera RAW file: {', '.join(RAW_EXTENSIONS)})"
        )
    return _content_format(path, _FORMAT_BY_EXT[ext])


def convert_channels(image: np.ndarray, channels: int | None) -> np.ndarray:
    """Return ``image`` as gray (1), RGB (3) or unchanged (None).

    Gray uses BT.601 luma; RGBA drops alpha; gray -> RGB replicates the channel.
    """
    if channels is None:
        return image
    if channels == 1:
        if image.ndim == 2:
            return image
        rgb = image[:, :, :3]
        return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)
    if channels == 3:
        if image.ndim == 2:
            return np.repeat(image[:, :, None], 3, axis=2)
        return np.ascontiguousarray(image[:, :, :3])
    raise ValueError(f"channels must be 1, 3 or None, not {channels}")


def _decode(path: Path, fmt: str) -> tuple[list[np.ndarray], Embedded]:
    """The stored arrays of a checked file (every page of a TIFF), and its profile and EXIF;
    a file whose header declares more pixels than the budget is refused undecoded."""
    if fmt != "raw":
        check_pixel_budget(path, fmt)
    if fmt == "tiff":
        return _tiff_pages(path)
    if fmt == "raw":
        return [read_camera_raw(path)], Embedded()
    array, found = _read_raster(path, fmt)
    return [array], found


def read_image(path: str | os.PathLike, channels: int | None = None, keep_integers: bool = False) -> tuple[np.ndarray, ImageMeta]:
    """Read one image as float32 in [0, 1].

    ``channels``: None keeps what the file holds, 1 gives luminance (BT.601), 3 gives RGB.
    ``keep_integers``: return 8/16-bit files as their stored uint8/uint16 (no ``channels``).
    Multi-page TIFFs return their first page (use :func:`read_stack` for all pages).
    Raises :class:`ImageReadError` naming the file and the reason.
    """
    path = Path(path)
    fmt = _check_path(path)
    arrays, found = _decode(path, fmt)
    image, meta = _finish(arrays[0], path, fmt, keep_integers, found)
    return (image if keep_integers else convert_channels(image, channels)), meta


def read_stack(path: str | os.PathLike, channels: int | None = None, keep_integers: bool = False) -> tuple[list[np.ndarray], ImageMeta]:
    """Read every page of a multi-page TIFF (or a single image as a one-frame stack)."""
    path = Path(path)
    fmt = _check_path(path)
    frames, meta = [], None
    arrays, found = _decode(path, fmt)
    for array in arrays:
        image, page_meta = _finish(array, path, fmt, keep_integers, found)
        meta = meta or page_meta
        frames.append(image if keep_integers else convert_channels(image, channels))
    assert meta is not None
    return frames, meta
