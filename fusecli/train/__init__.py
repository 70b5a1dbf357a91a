"""Training: configs, data with on-the-fly degradation, losses, the loop, checkpoints, plots."""

from fusecli.train.config import TrainConfig, load_config
from fusecli.train.loop import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "load_config", "train"]
