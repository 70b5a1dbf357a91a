"""Training: configs, data with on-the-fly degradation, losses, the loop, checkpoints, plots."""

from .config import TrainConfig, load_config
from .loop import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "load_config", "train"]
