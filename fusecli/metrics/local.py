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

from fusecli.errors import LabelError

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels (x1, y1 exclusive)


def _text(path: Path) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise LabelError(f"{path}: cannot read the label file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise LabelError(f"{path}: not a text label file (not UTF-8)") from None


def _number(value: object, where: str) -> float:
    """``value`` as a finite float, or a :class:`LabelError` saying ``where`` it was."""
    if isinstance(value, bool):
        raise LabelError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LabelError(f"{where}: expected a number, got {str(value)[:40]!r}") from None
    if not np.isfinite(number):
        raise LabelError(f"{where}: expected a finite number, got {value!r}")
    return number


def read_yolo(path: Path, width: int, height: int) -> list[Box]:
    """Boxes of a YOLO ``.txt`` file: one ``class cx cy w h`` line per box, normalised to 0..1."""
    boxes = []
    for number, line in enumerate(_text(path).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5:
            raise LabelError(f"{path}:{number}: a YOLO line needs 'class cx cy w h'")
        cx, cy, bw, bh = (_number(v, f"{path}:{number}") for v in parts[1:5])
        boxes.append(((cx - bw / 2) * width, (cy - bh / 2) * height, (cx + bw / 2) * width, (cy + bh / 2) * height))
    return boxes


def read_voc(path: Path) -> list[Box]:
    """Boxes of a Pascal VOC ``.xml`` file (1-based, inclusive pixel corners)."""
    try:
        root = ET.fromstring(_text(path))
    except ET.ParseError as exc:
        raise LabelError(f"{path}: not a valid Pascal VOC XML file ({exc})") from None
    boxes = []
    for index, obj in enumerate(root.iter("object"), 1):
        bb = obj.find("bndbox")
        if bb is None:
            continue
        x0, y0, x1, y1 = (_number(bb.findtext(tag), f"{path}: object {index} <{tag}>") for tag in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append((x0 - 1, y0 - 1, x1, y1))
    return boxes


def read_coco(path: Path, image_stem: str) -> list[Box] | None:
    """Boxes of image ``image_stem`` in a COCO ``.json`` file (``bbox = [x, y, w, h]`` in pixels);
    None when the file has no ``images`` entry for it."""
    try:
        data = json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise LabelError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    images, annotations = (data.get(key, []) if isinstance(data, dict) else None for key in ("images", "annotations"))
    if not isinstance(images, list) or not isinstance(annotations, list) or not all(isinstance(x, dict) for x in images + annotations):
        raise LabelError(f"{path}: not a COCO file: expected an object with lists of objects 'images' and 'annotations'")
    ids = [img.get("id") for img in images if isinstance(img.get("file_name"), str) and Path(img["file_name"]).stem == image_stem]
    if not ids:
        return None
    boxes = []
    for index, ann in enumerate(annotations):
        if ann.get("image_id") not in ids:
            continue
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise LabelError(f"{path}: annotation {index}: 'bbox' must be [x, y, width, height]")
        x, y, w, h = (_number(v, f"{path}: annotation {index} bbox") for v in bbox)
        boxes.append((x, y, x + w, y + h))
    return boxes


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
        if found is not None:
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
