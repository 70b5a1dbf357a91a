"""The fusion pipeline: frames in, fused image out, with any catalog model or training-free method.

:func:`fuse` checks the inputs, infers the task when not given, orders exposure brackets by
brightness, optionally registers, aligns and deghosts, runs the method in overlapping tiles
(bounded memory, no seams) and restores colour; :func:`fuse_files` adds reading and atomic
writing. Modules: ``pipeline`` (the steps), ``task`` (task inference, defaults), ``learned``
(networks and their classical stage), ``colour``, ``tiling``, ``routing`` (expert maps),
``files``.
"""

from __future__ import annotations

from fusecli.fusion.files import fuse_files, read_frames  # noqa: F401
from fusecli.fusion.learned import resolve_device  # noqa: F401
from fusecli.fusion.pipeline import FuseResult, FuseSettings, check_frames, fuse  # noqa: F401
from fusecli.fusion.task import DEFAULTS, default_model, infer_task  # noqa: F401
