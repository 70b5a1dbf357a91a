"""Fusion of files: reading the inputs, bit-depth and metadata bookkeeping, atomic writing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import logging
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from fusecli.errors import InputMismatchError
from fusecli.imaging.infrared import infrared_index
from fusecli.imaging import ImageMeta, check_output, frame_names, output_meta, read_stack, write_image

from fusecli.fusion.pipeline import FuseResult, FuseSettings, fuse

log = logging.getLogger(__name__)


def read_frames(paths: Sequence[str | os.PathLike]) -> tuple[list[np.ndarray], list[ImageMeta]]:
    """Read files (a multi-page TIFF contributes all its pages) keeping 8/16-bit data as stored
    integers: a 24 MP RGB frame is 72 MB as uint8 against 288 MB as float32; tiles are
    converted to float one at a time."""
    def read(path) -> tuple[list[np.ndarray], list[ImageMeta]]:
        pages, meta = read_stack(path, keep_integers=True)  # one page unless a multi-page TIFF
        return pages, [meta] * len(pages)

    frames, metas = [], []
    with ThreadPoolExecutor(max(1, min(len(paths), cv2.getNumThreads()))) as pool:  # decoders release the GIL
        for pages, page_metas in pool.map(read, paths):
            frames += pages
            metas += page_metas
    return frames, metas


def fuse_files(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    settings: FuseSettings,
    *,
    bit_depth: int | None = None,
    overwrite: bool = False,
    boxes: str | os.PathLike | None = None,
    routing_map: str | os.PathLike | None = None,
    quality: int | None = None,
) -> FuseResult:
    """Read ``inputs``, fuse, write ``output`` atomically (bit depth follows the inputs;
    ``quality``: JPEG/WebP, see :func:`fusecli.imaging.encode_image`)."""
    output = Path(output)
    check_output(output, overwrite, inputs)  # fail before the work, not after it
    if routing_map is not None:
        check_output(Path(routing_map), overwrite, inputs)
    frames, metas = read_frames(inputs)
    if boxes is not None:
        from fusecli.metrics.local import box_mask, find_boxes

        h, w = frames[1 - infrared_index(frames)].shape[:2] if settings.ir_warp is not None else frames[0].shape[:2]  # warp: visible pixels
        found = find_boxes(Path(boxes), Path(inputs[0]).stem, w, h)
        if found is None:
            raise InputMismatchError(f"{boxes}: no boxes for {Path(inputs[0]).stem}")
        settings = FuseSettings(**{**settings.__dict__, "foreground": box_mask((h, w), found).astype(np.float32)})
    if routing_map is not None:
        settings = FuseSettings(**{**settings.__dict__, "routing": True})
    result = fuse(frames, settings, names=frame_names(metas), release_inputs=True)  # a size mismatch named by file
    write_image(output, result.image, bit_depth=bit_depth, meta=output_meta(metas), overwrite=overwrite, inputs=inputs, quality=quality)
    if routing_map is not None:
        from fusecli.fusion.routing import render_routing_map

        picture = render_routing_map(result.image, result.frames, result.task, result.experts, result.expert_names)
        write_image(routing_map, picture, overwrite=overwrite, inputs=inputs)
    return result
