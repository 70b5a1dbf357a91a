"""Finding inputs in folders: image listings, pairs matched by stem, stacks per scene.

Engineers keep IR and visible frames in two folders with the same names
(``ir/0001.png`` <-> ``vi/0001.jpg``); photographers keep one folder (or one multi-page
TIFF) per bracket. Unmatched names are reported, never silently dropped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from fusecli.errors import EmptyInputError, InputMismatchError, ImageReadError
from fusecli.imaging import is_image_file


def natural_key(name: str) -> list:
    """Sort key so that ``img2`` comes before ``img10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_images(folder: str | os.PathLike, *, required: bool = True) -> list[Path]:
    """Image files directly in ``folder`` (extensions case-insensitive), naturally sorted.

    Hidden files (e.g. our own ``.name.tmp`` files or macOS ``._`` files) are skipped.
    Raises :class:`EmptyInputError` when ``required`` and nothing is found.
    """
    folder = Path(folder)
    if not folder.exists():
        raise ImageReadError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise ImageReadError(f"{folder}: is not a folder")
    found = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and is_image_file(p)]
    found.sort(key=lambda p: natural_key(p.name))
    if required and not found:
        raise EmptyInputError(f"{folder}: no images found (looked for .png .jpg .jpeg .bmp .tif .tiff .webp and camera RAW files)")
    return found


@dataclass
class Matched:
    """Files matched across folders by stem, plus what could not be matched."""

    items: list[tuple[str, tuple[Path, ...]]] = field(default_factory=list)
    unmatched: dict[Path, list[str]] = field(default_factory=dict)

    def describe_unmatched(self, limit: int = 10) -> list[str]:
        lines = []
        for folder, names in self.unmatched.items():
            if names:
                shown = ", ".join(names[:limit]) + (f" … (+{len(names) - limit} more)" if len(names) > limit else "")
                lines.append(f"{len(names)} file(s) in {folder} have no partner: {shown}")
        return lines


def _by_stem(folder: Path) -> dict[str, Path]:
    stems: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in stems:
            raise InputMismatchError(
                f"{folder}: two images share the name {path.stem!r} ({stems[path.stem].name}, {path.name}); "
                "rename one so pairs are unambiguous"
            )
        stems[path.stem] = path
    return stems


def match_by_stem(*folders: str | os.PathLike) -> Matched:
    """Match images across ``folders`` by file stem, in natural order of the stem."""
    if len(folders) < 2:
        raise ValueError("match_by_stem needs at least two folders")
    maps = [_by_stem(Path(f)) for f in folders]
    common = set(maps[0]).intersection(*maps[1:])
    result = Matched()
    for stem in sorted(common, key=natural_key):
        result.items.append((stem, tuple(m[stem] for m in maps)))
    for folder, mapping in zip(folders, maps):
        missing = sorted(set(mapping) - common, key=natural_key)
        result.unmatched[Path(folder)] = [mapping[s].name for s in missing]
    if not result.items:
        raise EmptyInputError(
            "no file names match across " + ", ".join(str(f) for f in folders) + " (pairs are matched by name without extension)"
        )
    return result


@dataclass(frozen=True)
class Stack:
    """One scene of a stack folder: a sub-folder of frames or a multi-page TIFF."""

    name: str
    source: Path
    frames: tuple[Path, ...]  # one path per frame; a multi-page TIFF is listed once

    @property
    def is_multipage(self) -> bool:
        return len(self.frames) == 1 and self.frames[0].suffix.lower() in (".tif", ".tiff")


def list_stacks(folder: str | os.PathLike, skipped: list[str] | None = None) -> list[Stack]:
    """Scenes in ``folder``: each sub-folder with images, and each TIFF file directly inside.
    ``skipped``: gets a line for each sub-folder without images, for the caller to report (a
    scene that silently vanishes from a batch is worse than a warning)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"{folder}: no such folder")
    stacks: list[Stack] = []
    for entry in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            frames = list_images(entry, required=False)
            if frames:
                stacks.append(Stack(entry.name, entry, tuple(frames)))
            elif skipped is not None:
                skipped.append(f"{entry}: no images in this sub-folder; skipped")
        elif entry.suffix.lower() in (".tif", ".tiff"):
            stacks.append(Stack(entry.stem, entry, (entry,)))
    if not stacks:
        raise EmptyInputError(f"{folder}: no stacks found (expected one sub-folder of images or one multi-page TIFF per scene)")
    return stacks


def unique_stems(paths: Sequence[Path]) -> None:
    """Raise if two paths would produce the same output name."""
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise InputMismatchError(f"{seen[path.stem]} and {path} would produce the same output name")
        seen[path.stem] = path
