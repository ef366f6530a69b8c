"""Training: contrastive-divergence loss, the trainer, checkpoints and run loading."""

from igebm.training.losses import cd_loss, classification_loss, clip_grads_igebm
from igebm.training.metrics_log import read_metrics
from igebm.training.run import TrainedRun, load_run
from igebm.training.trainer import Trainer, TrainingDiverged

__all__ = ["Trainer", "TrainingDiverged", "TrainedRun", "cd_loss", "classification_loss", "clip_grads_igebm",
           "load_run", "read_metrics"]
