"""A compact copy of a training config's data: what training reads, and nothing more.

Training reads every frame as luminance downscaled to ``data.max_side``; a copy of exactly
that (8-bit grayscale, the same folder layout, scene and frame names) is a fraction of the
original datasets' size, so it can travel to a rented GPU machine with the code. Point the
run at it with ``--set data.vif=[...]`` etc. (``pack_data`` returns the new folder lists).
JPEG (quality 95) is about 10x smaller than the float frames; PNG is lossless at 8 bits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fusecli.errors import FusecliError
from fusecli.imaging import encode_image, image_format, write_bytes_atomic
from fusecli.train.config import TrainConfig
from fusecli.train.data import _load_luma, discover, discover_sharp

FORMATS = ("jpg", "png")


def _write(path: Path, frame: np.ndarray) -> int:
    """8-bit file of a 0..1 frame, written atomically by fusecli's own writer; returns its size."""
    data = encode_image(frame, image_format(path), 8)
    write_bytes_atomic(path, data)
    return len(data)


def pack_data(config: TrainConfig, dst: str | Path, fmt: str = "jpg") -> tuple[dict[str, list[str]], int]:
    """Write the config's data folders into ``dst``; returns (``data.<key>`` -> new folders, bytes written).

    Layout per task, so that :func:`fusecli.train.data.discover` finds the same scene names:
    VIF ``ir/`` + ``vi/``; MEF one folder per stack; MFF ``A/`` + ``B/`` pairs and ``stacks/``;
    sharp photos (``focus_synthetic``) one folder per source stack or a flat folder of images.
    Unreadable scenes are skipped, as training skips them.
    """
    if fmt not in FORMATS:
        raise FusecliError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    dst = Path(dst)
    root = dst.resolve()
    keys = [*config.tasks, "focus_synthetic"]
    for src in (config.path(folder).resolve() for key in keys for folder in getattr(config.data, key)):
        if src.is_relative_to(root) or root.is_relative_to(src):  # never write over (or into) the data
            raise FusecliError(f"{dst} overlaps the data folder {src}: pack into a separate folder")
    folders: dict[str, list[str]] = {}
    written = 0
    for key in keys:
        for folder in getattr(config.data, key):
            src = config.path(folder)
            out = dst / key / src.name
            found = discover_sharp(src) if key == "focus_synthetic" else discover(key, src)
            for name, paths in found:
                try:
                    frames = _load_luma(paths, config.data.max_side, infrared=key == "vif")
                except Exception:  # training skips (and reports) it too
                    continue
                scene = name.split("/", 1)[1]
                if key == "vif":
                    targets = [out / "ir" / f"{scene}.{fmt}", out / "vi" / f"{scene}.{fmt}"]
                elif key == "mff" and not scene.startswith("stacks/") and len(paths) == 2:
                    targets = [out / "A" / f"{scene}.{fmt}", out / "B" / f"{scene}.{fmt}"]
                elif key == "focus_synthetic" and len(paths) == 1 and len(frames) == 1:
                    targets = [out / f"{scene}.{fmt}"]
                else:  # a stack: one folder of numbered frames (natural order = original order)
                    targets = [out / scene / f"{i:03d}.{fmt}" for i in range(len(frames))]
                written += sum(_write(t, f) for t, f in zip(targets, frames))
            folders.setdefault(key, []).append(str(out))
    return folders, written
