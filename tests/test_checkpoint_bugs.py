"""The four checkpoint and resume bugs of the restructure issue, each pinned by a test.

Each test failed on the code before the fix (commit 3ff943e):
1. the last step was saved twice when max_steps is a multiple of checkpoint_every, and the
   second save deleted the good folder before renaming the new one into place;
2. keep_checkpoints <= 0 silently kept everything;
3. chain noise came from the device's default generator, which no checkpoint holds (GPU);
4. every rank resumed rank 0's replay buffer and random state.
"""

import os

import pytest
import torch
from torch import nn

from conftest import tiny_config
from igebm.config import load_config
from igebm.errors import UserError
from igebm.sampling import LangevinSampler
from igebm.training import Trainer
from igebm.training import checkpoint as ckpt


def test_the_last_step_is_saved_once(tmp_path, monkeypatch):
    saved = []
    real = ckpt.save_checkpoint
    monkeypatch.setattr(ckpt, "save_checkpoint", lambda root, step, *a, **k: saved.append(step) or real(root, step, *a, **k))
    Trainer(tiny_config(train={"max_steps": 6, "checkpoint_every": 3}), tmp_path / "run").fit()
    assert saved == [3, 6]


def test_replacing_a_checkpoint_never_loses_it(tmp_path, monkeypatch):
    """If writing the replacement fails at the last moment, the old checkpoint is still there."""
    root = tmp_path / "checkpoints"
    parts = {"model": {"w": torch.ones(3)}}
    ckpt.save_checkpoint(root, 6, parts, {"step": 6})
    real_replace = os.replace

    def failing_replace(src, dst):
        if os.path.basename(str(src)).startswith(".tmp_"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", failing_replace)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(root, 6, {"model": {"w": torch.zeros(3)}}, {"step": 6})
    monkeypatch.setattr(ckpt.os, "replace", real_replace)
    (kept,) = ckpt.list_checkpoints(root)
    parts_back, state = ckpt.load_checkpoint(kept, ("model",))
    assert state["step"] == 6 and torch.equal(parts_back["model"]["w"], torch.ones(3))


def test_a_kill_between_the_two_renames_is_recovered(tmp_path):
    root = tmp_path / "checkpoints"
    ckpt.save_checkpoint(root, 3, {"model": {"w": torch.ones(1)}}, {"step": 3})
    os.replace(root / "step_0000003", root / ".old_step_0000003.999")  # as if killed right after the first rename
    assert [p.name for p in ckpt.list_checkpoints(root)] == ["step_0000003"]


@pytest.mark.parametrize("keep", [0, -1])
def test_keep_checkpoints_must_be_positive(keep):
    with pytest.raises(UserError, match="train.keep_checkpoints"):
        load_config(None, [f"train.keep_checkpoints={keep}"])


def test_keep_checkpoints_keeps_the_newest(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(train={"max_steps": 9, "checkpoint_every": 3, "keep_checkpoints": 2}), run).fit()
    assert [p.name for p in ckpt.list_checkpoints(run / "checkpoints")] == ["step_0000006", "step_0000009"]


class Quadratic(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x, cond=None):
        return 0.5 * self.scale * x.pow(2).flatten(1).sum(1)


def test_chain_noise_comes_from_the_given_cpu_generator_on_any_device():
    """A chain on another device draws its noise from the (checkpointed) CPU generator.

    The meta device stands in for a GPU here: its tensors have shapes but no values, and
    before the fix drawing CPU-generator noise directly on it failed, as on CUDA the noise
    came from the device's own generator instead.
    """
    sampler = LangevinSampler(steps=3, step_size=0.1, noise_std=0.01, grad_clip=0.0)
    energy = Quadratic().to("meta")
    g = torch.Generator().manual_seed(0)
    before = g.get_state().clone()
    out = sampler.sample(energy, torch.zeros(4, 2, device="meta"), generator=g)
    assert out.x.device.type == "meta"
    assert not torch.equal(g.get_state(), before)  # the noise consumed the CPU generator


def test_the_trainer_hands_its_generator_to_every_chain(tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(), tmp_path / "run")
    seen = []
    real = trainer.sampler.sample
    monkeypatch.setattr(trainer.sampler, "sample", lambda *a, **k: seen.append(k.get("generator")) or real(*a, **k))
    trainer.train_step()
    assert seen == [trainer.gen]


def _ranks(run_dir, cfg, resume=False):
    return [Trainer(cfg, run_dir, resume=resume, rank=r, world_size=2) for r in (1, 0)]


def test_each_rank_resumes_its_own_buffer_and_random_state(tmp_path):
    cfg = tiny_config(train={"max_steps": 2})
    run = tmp_path / "run"
    rank1, rank0 = _ranks(run, cfg)
    rank1.fit()  # stages its part of the step-2 checkpoint
    rank0.fit()  # then assembles it (in a process group, a barrier keeps this order)
    want = {t.rank: (t.buffer.x.clone(), t.gen.get_state().clone()) for t in (rank0, rank1)}
    assert not torch.equal(want[0][0], want[1][0])  # different seeds, different chains
    for t in _ranks(run, cfg, resume=True):
        assert torch.equal(t.buffer.x, want[t.rank][0]), f"rank {t.rank} got another rank's buffer"
        assert torch.equal(t.gen.get_state(), want[t.rank][1])


def test_resume_with_another_world_size_is_refused(tmp_path):
    cfg = tiny_config(train={"max_steps": 2})
    Trainer(cfg, tmp_path / "run").fit()
    with pytest.raises(UserError, match="written by 1 process.*this run has 2.*--reshard"):  # issue 15
        Trainer(cfg, tmp_path / "run", resume=True, rank=1, world_size=2)
