"""Classical restorations of degraded frames, what a prompt asks to be fixed, and the all-in-one models' classical stage."""

from __future__ import annotations

from fusecli.restore.classical import Stats, RestoreStats, denoise, deblock, remove_streaks, destripe, dehaze, brighten, CONTRAST_QUANTILE, MIN_CONTRAST, stretch, applied_contrast, contrast_of, sharpen, RESTORATIONS, GLOBAL_RESTORATIONS, FRAME_DECISIONS, UPSAMPLED_BELOW, frame_stats, extreme_share, upsampling_score, looks_upsampled, restoration_stats, restore, STACK_TASKS, share_stack_contrast, stack_restoration_stats, restore_stack, chroma_gain  # noqa: F401
from fusecli.restore.prompts import PROMPT_PATTERNS, degradations_in_prompt, BRIGHTEN_PATTERN, read_prompt_file, tone_requests  # noqa: F401
