"""fusecli: image fusion for infrared+visible pairs, exposure brackets and focus stacks.

The library does all the work; the ``fusecli`` command is a thin layer over it. Packages:
``fusion`` (the pipeline), ``methods`` (training-free fusion), ``models`` (networks),
``restore`` (classical restorations, prompts), ``geometry`` (alignment, registration),
``imaging`` (files, colour), ``degrade``, ``metrics``, ``sampling``, ``train``, ``batch``,
``cli``; ``catalog`` lists every model and method by name. ``import fusecli`` is cheap: the
names below load their modules (OpenCV, torch) when first used.
"""

from __future__ import annotations

from fusecli.registry import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "FusecliError": "fusecli.errors",
    "colorize": "fusecli.imaging.color",
    "rgb_to_ycbcr": "fusecli.imaging.color",
    "ycbcr_to_rgb": "fusecli.imaging.color",
    "read_image": "fusecli.imaging",
    "read_stack": "fusecli.imaging",
    "write_image": "fusecli.imaging",
    "fuse": "fusecli.fusion",
    "fuse_files": "fusecli.fusion",
    "FuseSettings": "fusecli.fusion",
}

__all__ = ["__version__", *_LAZY]

__getattr__ = lazy_exports(__name__, _LAZY)
