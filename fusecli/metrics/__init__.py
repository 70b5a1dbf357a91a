"""Fusion metrics: pure functions, a name table, presets reproducing public toolboxes, scoring."""

from fusecli.metrics.conventions import PRESETS, STANDARD, Convention, get_preset
from fusecli.metrics.score import ItemResult, ScoreItem, ScoreOptions, score_arrays, score_item, score_items, summarize
from fusecli.metrics.table import METRICS, TASK_DEFAULTS, MetricSpec, default_metrics

__all__ = [
    "METRICS",
    "PRESETS",
    "STANDARD",
    "TASK_DEFAULTS",
    "Convention",
    "ItemResult",
    "MetricSpec",
    "ScoreItem",
    "ScoreOptions",
    "default_metrics",
    "get_preset",
    "score_arrays",
    "score_item",
    "score_items",
    "summarize",
]
