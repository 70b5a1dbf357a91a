"""User-facing error types.

Every mistake a user can cause (bad path, wrong size, unreadable file, refused overwrite…)
raises a subclass of :class:`FusecliError`. The CLI catches it at the edge and prints one
line with ``exit_code``; library users catch it like any exception.
"""

from __future__ import annotations


class FusecliError(Exception):
    """Base class for errors caused by user input; carries the CLI exit code (2)."""

    exit_code = 2


class ImageReadError(FusecliError):
    """A file could not be read as an image (missing, unreadable, truncated, unsupported)."""


class ImageWriteError(FusecliError):
    """An image could not be written (unsupported format/bit depth, refused overwrite)."""


class OutputExistsError(ImageWriteError):
    """The output exists and ``overwrite`` was not given."""


class InputMismatchError(FusecliError):
    """Inputs that must agree do not: sizes, channel counts, unmatched names."""


class EmptyInputError(FusecliError):
    """A folder or stack holds no usable images."""


class UnknownNameError(FusecliError):
    """A name typed by the user (model, metric, degradation…) is not registered."""


class WeightsError(FusecliError):
    """A weights file is missing, corrupt, or does not match its architecture."""


class LabelError(FusecliError):
    """A box-label file (YOLO, Pascal VOC, COCO) cannot be read or holds malformed entries."""
