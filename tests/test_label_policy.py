"""buffer.label_policy: whether replayed chains keep their label (keep), take the data batch's (fresh), or some do (mix:P)."""

import pytest
import torch

from conftest import tiny_config
from igebm.config import load_config
from igebm.errors import UserError
from igebm.sampling.buffer import parse_label_policy, relabel
from igebm.training import Trainer


def test_policies_relabel_as_documented():
    own, data = torch.zeros(1000, dtype=torch.long), torch.arange(1000) % 10 + 1
    g = torch.Generator().manual_seed(0)
    assert torch.equal(relabel(own, data, "keep", g), own)
    assert torch.equal(relabel(own, data, "fresh", g), data)
    mixed = relabel(own, data, "mix:0.3", g)
    switched = mixed != 0
    assert torch.equal(mixed[switched], data[switched])
    assert 0.25 < switched.float().mean() < 0.35


@pytest.mark.parametrize("bad", ["sometimes", "mix:", "mix:1.5", "mix:-0.1", "mix:nan"])
def test_a_bad_policy_is_a_config_error_naming_the_key(bad):
    with pytest.raises(UserError, match="buffer.label_policy"):
        load_config(None, [f"buffer.label_policy={bad}"])
    with pytest.raises(ValueError):
        parse_label_policy(bad)


def _conditions_of_one_step(tmp_path, policy):
    trainer = Trainer(tiny_config(buffer={"label_policy": policy}), tmp_path / policy.replace(":", "_"))
    seen = []
    real = trainer.sampler.sample
    trainer.sampler.sample = lambda energy, x, cond, **k: seen.append(cond.clone()) or real(energy, x, cond, **k)
    g = torch.Generator()
    g.set_state(trainer.gen.get_state())
    batch_labels = trainer.c_all[torch.randint(0, len(trainer.x_all), (trainer.cfg.train.batch_size,), generator=g)]
    before = trainer.buffer.c.clone()
    trainer.train_step()
    return seen[0], batch_labels, before


def test_fresh_conditions_replayed_chains_on_the_data_batch_labels(tmp_path):
    cond, batch_labels, _ = _conditions_of_one_step(tmp_path, "fresh")
    assert torch.equal(cond, batch_labels)


def test_keep_conditions_chains_on_their_stored_labels(tmp_path):
    cond, batch_labels, stored = _conditions_of_one_step(tmp_path, "keep")
    assert not torch.equal(cond, batch_labels)
    assert set(cond.tolist()) <= set(stored.tolist())
