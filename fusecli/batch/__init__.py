"""Folder jobs: matching files by name across folders, and running items in parallel with per-item failures."""

from __future__ import annotations

from fusecli.batch.runner import BatchItem, BatchReport, process_pool, run_batch, select_shard, shard_of  # noqa: F401
