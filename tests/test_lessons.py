"""The seed's lessons as settings: ensembles of energies (model.ensemble) and a gradient penalty (train.gp_alpha)."""

import pytest
import torch
from torch import nn

from conftest import tiny_config
from igebm.config import load_config
from igebm.errors import UserError
from igebm.models.ensemble import EnsembleEnergy
from igebm.training import Trainer
from igebm.training.losses import gradient_penalty


def test_an_ensemble_is_the_sum_of_independent_members(tmp_path):
    trainer = Trainer(tiny_config(model={"ensemble": 3}), tmp_path / "ens")
    model = trainer.model
    assert isinstance(model, EnsembleEnergy) and len(model.members) == 3
    x, y = torch.rand(5, 1, 8, 8), torch.arange(5)
    model.eval()  # no spectral-norm power iteration between the calls compared
    with torch.no_grad():
        assert torch.allclose(model(x, y), sum(m(x, y) for m in model.members), atol=1e-6)
        assert not torch.allclose(model.members[0](x, y), model.members[1](x, y))  # separate initialisations
    single = Trainer(tiny_config(), tmp_path / "one").model
    assert sum(p.numel() for p in model.parameters()) == 3 * sum(p.numel() for p in single.parameters())
    model.train()
    assert torch.isfinite(torch.tensor(trainer.train_step()["loss"]))
    assert all(torch.isfinite(p).all() for p in model.parameters())


class Quadratic(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(2.0))

    def forward(self, x, cond=None):
        return 0.5 * self.a * x.pow(2).sum(1)


def test_the_gradient_penalty_is_the_mean_squared_input_gradient_and_trains_the_weights():
    model, x = Quadratic(), torch.randn(64, 3)
    gp, stats = gradient_penalty(model, x, None)
    expected = (4.0 * x.pow(2).sum(1)).mean()  # |a x|^2 with a = 2
    assert torch.allclose(gp, expected) and stats["gp"] == pytest.approx(float(expected))
    gp.backward()  # d/da mean(a^2 |x|^2) = 2 a mean |x|^2: the penalty reaches the parameters
    assert model.a.grad == pytest.approx(float(4.0 * x.pow(2).sum(1).mean()), rel=1e-5)


def test_training_with_a_gradient_penalty_logs_it(tmp_path):
    stats = Trainer(tiny_config(train={"gp_alpha": 0.1}), tmp_path / "gp").train_step()
    assert stats["gp"] > 0
    assert "gp" not in Trainer(tiny_config(), tmp_path / "nogp").train_step()


@pytest.mark.parametrize("override,key", [("model.ensemble=0", "model.ensemble"),
                                          ("train.gp_alpha=-1", "train.gp_alpha")])
def test_bad_values_name_the_key(override, key):
    with pytest.raises(UserError, match=key):
        load_config(None, [override])
