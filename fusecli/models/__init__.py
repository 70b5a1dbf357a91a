"""The model zoo. For now: the training-free fusion methods (``classical``)."""

from .classical import FUSION_METHODS, fuse_frames

__all__ = ["FUSION_METHODS", "fuse_frames"]
