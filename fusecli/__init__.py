"""fusecli: image fusion for infrared+visible pairs, exposure brackets and focus stacks.

The library does all the work; the ``fusecli`` command is a thin layer over it. Heavy
modules (torch models) are imported lazily so ``import fusecli`` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .color import colorize, rgb_to_ycbcr, ycbcr_to_rgb  # noqa: E402
from .errors import FusecliError  # noqa: E402
from .io import read_image, read_stack, write_image  # noqa: E402

__all__ = [
    "__version__",
    "FusecliError",
    "colorize",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "read_image",
    "read_stack",
    "write_image",
]
