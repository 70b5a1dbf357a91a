"""Camera RAW files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, …) as 16-bit RGB, through LibRaw.

Why: photographers bracket in RAW. Each file is developed the same fixed way, so a bracket
keeps its exposure steps (no auto-brightening, which would undo them), with the camera's white
balance, sRGB primaries and the sRGB tone curve (what viewers assume of a file without a colour
profile), upright. Optional:
``pip install 'fusecli[raw]'`` (rawpy); fusecli says so when a RAW file is read without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fusecli.errors import ImageReadError
from fusecli.imaging.header import refuse_over_budget

# Reading only: fusecli writes PNG, JPEG, TIFF, … (a RAW input's fusion defaults to 16-bit TIFF).
RAW_EXTENSIONS = (
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf",
    ".rw2", ".pef", ".srw", ".3fr", ".iiq", ".erf", ".kdc", ".mrw", ".x3f",
)
INSTALL_HINT = "pip install 'fusecli[raw]'"
SRGB_CURVE = (2.4, 12.92)  # LibRaw's (power, toe slope) for the sRGB transfer function


def is_camera_raw(path: str | Path) -> bool:
    return Path(path).suffix.lower() in RAW_EXTENSIONS


def read_camera_raw(path: Path) -> np.ndarray:
    """``(H, W, 3)`` uint16 RGB of a camera RAW file: camera white balance, no auto-brightening,
    sRGB primaries and tone curve, LibRaw's AHD demosaicing, the camera's orientation applied.
    Raises :class:`ImageReadError` naming the file (missing rawpy, unreadable or corrupt file)."""
    try:
        import rawpy
    except ImportError as exc:
        raise ImageReadError(f"{path}: reading camera RAW files needs rawpy ({INSTALL_HINT})") from exc
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty")
    try:
        with rawpy.imread(str(path)) as raw:
            refuse_over_budget(path, raw.sizes.width * raw.sizes.height, f"{raw.sizes.width}×{raw.sizes.height}")  # before developing
            return raw.postprocess(
                use_camera_wb=True,
                no_auto_bright=True,
                adjust_maximum_thr=0.0,  # LibRaw's default lowers the white point to a bright shot's maximum: not the same scale for every shot
                output_bps=16,
                output_color=rawpy.ColorSpace.sRGB,
                gamma=SRGB_CURVE,
            )
    except rawpy.LibRawFileUnsupportedError as exc:
        raise ImageReadError(f"{path}: not a camera RAW file that LibRaw reads") from exc
    except rawpy.LibRawIOError as exc:
        raise ImageReadError(f"{path}: truncated or unreadable camera RAW file") from exc
    except (rawpy.LibRawError, OSError) as exc:  # corrupt data, too big, …
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ImageReadError(f"{path}: cannot decode camera RAW data ({reason})") from exc
