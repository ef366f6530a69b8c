import pytest
import torch

from igebm.config import Config


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


def tiny_config(**sections) -> Config:
    """A digits config small enough to train a few steps in a second."""
    cfg = Config()
    cfg.model.channels = 8
    cfg.sampler.steps = 3
    cfg.buffer.capacity = 64
    cfg.train.batch_size = 16
    cfg.train.max_steps = 6
    cfg.train.log_every = 1
    cfg.train.sample_every = 1000
    cfg.train.checkpoint_every = 3
    cfg.train.progress = False
    cfg.train.tensorboard = False
    for section, values in sections.items():
        for k, v in values.items():
            setattr(getattr(cfg, section), k, v)
    return cfg
