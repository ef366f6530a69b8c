"""Training: contrastive-divergence loss, the trainer, checkpoints and run loading."""

from igebm.training.losses import cd_loss, clip_grads_igebm
from igebm.training.run import TrainedRun, load_run
from igebm.training.trainer import Trainer, TrainingDiverged, read_metrics

__all__ = ["Trainer", "TrainingDiverged", "TrainedRun", "cd_loss", "clip_grads_igebm", "load_run", "read_metrics"]
