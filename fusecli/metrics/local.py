"""Foreground/background masks from box labels, for MoE-Fusion's local metrics.

MoE-Fusion (seed 002, section 4) scores the foreground image (everything outside the labelled
boxes set to 0) and the background image (every box set to 0) separately. The same mask is
applied to the sources, so metrics that compare with the sources compare like with like.
Label formats: YOLO ``.txt`` (class cx cy w h, normalised), Pascal VOC ``.xml`` and COCO
``.json`` (``images`` + ``annotations`` with ``bbox = [x, y, w, h]`` in pixels).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from fusecli.errors import FusecliError, ImageReadError

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels (x1, y1 exclusive)


def read_yolo(path: Path, width: int, height: int) -> list[Box]:
    boxes = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5:
            raise FusecliError(f"{path}:{number}: a YOLO line needs 'class cx cy w h'")
        cx, cy, bw, bh = (float(v) for v in parts[1:5])
        boxes.append(((cx - bw / 2) * width, (cy - bh / 2) * height, (cx + bw / 2) * width, (cy + bh / 2) * height))
    return boxes


def read_voc(path: Path) -> list[Box]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ImageReadError(f"{path}: not a valid Pascal VOC XML file ({exc})") from exc
    boxes = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        if bb is None:
            continue
        get = lambda tag: float(bb.findtext(tag))  # noqa: E731
        boxes.append((get("xmin") - 1, get("ymin") - 1, get("xmax"), get("ymax")))  # VOC is 1-based, inclusive
    return boxes


def read_coco(path: Path, image_stem: str) -> list[Box]:
    data = json.loads(Path(path).read_text())
    ids = [img["id"] for img in data.get("images", []) if Path(img.get("file_name", "")).stem == image_stem]
    return [
        (x, y, x + w, y + h)
        for ann in data.get("annotations", [])
        if ann.get("image_id") in ids
        for x, y, w, h in [ann["bbox"]]
    ]


def find_boxes(labels: Path, stem: str, width: int, height: int) -> list[Box] | None:
    """Boxes for image ``stem`` from a label file or a folder of labels; None if it has none."""
    labels = Path(labels)
    if labels.is_file():
        if labels.suffix.lower() == ".json":
            return read_coco(labels, stem)
        if labels.suffix.lower() == ".xml":
            return read_voc(labels)
        return read_yolo(labels, width, height)
    for suffix, reader in ((".txt", lambda p: read_yolo(p, width, height)), (".xml", read_voc)):
        candidate = labels / f"{stem}{suffix}"
        if candidate.exists():
            return reader(candidate)
    for coco in sorted(labels.glob("*.json")):
        found = read_coco(coco, stem)
        if found:
            return found
    return None


def box_mask(shape: tuple[int, int], boxes: list[Box]) -> np.ndarray:
    """Boolean ``(H, W)`` mask, True inside any box (clipped to the image)."""
    h, w = shape
    mask = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        c0, r0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        c1, r1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
        if c1 > c0 and r1 > r0:
            mask[r0:r1, c0:c1] = True
    return mask
