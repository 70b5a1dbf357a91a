"""MMAIF's real-world degradation pipeline: degradations, composition rules, prompts, datasets.

On the fly (training)::

    from fusecli.degrade import sample
    s = sample([ir, vis], "vif", rng)          # s.degraded, s.clean, s.ops, s.prompt
"""

from fusecli.degrade.ops import DEGRADATIONS, LEVELS, Degradation, apply, sample_params
from fusecli.degrade.pipeline import DegradedSample, available_ops, degrade_frames, sample
from fusecli.degrade.prompts import make_prompt, prompt_vocabulary

__all__ = [
    "DEGRADATIONS",
    "LEVELS",
    "Degradation",
    "DegradedSample",
    "apply",
    "available_ops",
    "degrade_frames",
    "make_prompt",
    "prompt_vocabulary",
    "sample",
    "sample_params",
]
