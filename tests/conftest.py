import pytest
import torch

from igebm.config import Config


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


def tiny_config(**sections) -> Config:
    """A digits config small enough to train a few steps in a second."""
    cfg = Config()
    cfg.run.threads = 1  # fixed, not auto (which follows the machine's load): runs compared bit for bit
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


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory):
    """A tiny trained class-conditional digits run shared by the task tests."""
    from igebm.training import Trainer
    out = tmp_path_factory.mktemp("runs") / "tiny_cond"
    Trainer(tiny_config(train={"max_steps": 4}), out).fit()
    return out


@pytest.fixture(scope="session")
def tiny_uncond_dir(tmp_path_factory):
    from igebm.training import Trainer
    out = tmp_path_factory.mktemp("runs") / "tiny_uncond"
    Trainer(tiny_config(train={"max_steps": 2}, model={"conditional": False}), out).fit()
    return out


def inject_nan(file) -> None:
    """Poison a checkpoint part: the first entry of its first floating-point tensor becomes NaN."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(file))
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, str(file))
