"""Samplers for flow-matching models."""

from fusecli.sampling.flow import GAMMA_SCHEDULES, gamma_schedule, sample_flow

__all__ = ["GAMMA_SCHEDULES", "gamma_schedule", "sample_flow"]
