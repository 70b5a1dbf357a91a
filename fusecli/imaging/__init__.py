"""Images in and out: readers and atomic writers, metadata (ICC, EXIF), camera RAW, colour spaces, infrared ranges.

The readers and writers are re-exported here (``from fusecli.imaging import read_image``) and
load OpenCV when first used, so importing a light module of this package (``infrared``) stays cheap.
"""

from __future__ import annotations

from fusecli.registry import lazy_exports

_EXPORTS = {
    "IMAGE_EXTENSIONS": "fusecli.imaging.read",
    "DEFAULT_JPEG_QUALITY": "fusecli.imaging.read",
    "ImageMeta": "fusecli.imaging.read",
    "image_format": "fusecli.imaging.read",
    "is_image_file": "fusecli.imaging.read",
    "output_suffix": "fusecli.imaging.read",
    "as_float": "fusecli.imaging.read",
    "sniff_format": "fusecli.imaging.read",
    "convert_channels": "fusecli.imaging.read",
    "read_image": "fusecli.imaging.read",
    "read_stack": "fusecli.imaging.read",
    "check_output_free": "fusecli.imaging.write",
    "check_not_input": "fusecli.imaging.write",
    "check_output": "fusecli.imaging.write",
    "check_writable": "fusecli.imaging.write",
    "tiff_compression": "fusecli.imaging.write",
    "encode_image": "fusecli.imaging.write",
    "write_bytes_atomic": "fusecli.imaging.write",
    "write_image": "fusecli.imaging.write",
    "frame_names": "fusecli.imaging.write",
    "output_meta": "fusecli.imaging.write",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
