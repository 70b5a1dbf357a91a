"""Samplers for flow-matching models."""

from .flow import GAMMA_SCHEDULES, gamma_schedule, sample_flow

__all__ = ["GAMMA_SCHEDULES", "gamma_schedule", "sample_flow"]
