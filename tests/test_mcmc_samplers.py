"""MALA, HMC and adaptive HMC: exactness on analytic 2-D targets, per-chain acceptance, adaptation, walls, masks."""

import numpy as np
import pytest
import torch
from torch import nn

from conftest import tiny_config
from igebm.config import load_config
from igebm.errors import UserError
from igebm.evaluation.metrics import mmd_rbf
from igebm.sampling import AdaptiveHMCSampler, HMCSampler, LangevinSampler, MALASampler
from igebm.sampling.targets import GaussianTarget as Gaussian, MixtureTarget as Mixture, RingTarget as Ring
from igebm.training import Trainer

N = 1000


SAMPLERS = {
    "mala": lambda: MALASampler(steps=300, step_size=0.05, clamp=None),
    "hmc": lambda: HMCSampler(steps=100, step_size=0.15, leapfrog_steps=8, clamp=None),
    "adaptive_hmc": lambda: AdaptiveHMCSampler(steps=150, step_size=0.5, leapfrog_steps=8, clamp=None),
}


def floor_and_distance(target, samples, seed=0):
    """(noise floor, MMD of the samples to exact ones): the floor is the largest |MMD| between
    independent exact sets of the same size (the estimate is unbiased, so it can be negative)."""
    g = torch.Generator().manual_seed(100 + seed)
    ref = target.exact(N, g).numpy()
    floor = max(abs(mmd_rbf(target.exact(N, g).numpy(), ref)) for _ in range(4))
    return floor, mmd_rbf(samples.numpy(), ref)


@pytest.mark.parametrize("target", [Gaussian(), Mixture(), Ring()], ids=["gaussian", "mixture", "ring"])
@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_samples_match_exact_samples(kind, target):
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(N, 2, generator=g) * 2
    x = SAMPLERS[kind]().sample(target, x0, generator=g).x
    floor, dist = floor_and_distance(target, x)
    assert dist < 3 * floor, f"{kind}: MMD {dist:.5f} vs noise floor {floor:.5f}"


def test_the_check_can_fail_ula_with_a_large_step_is_biased():
    """The same check flags a biased sampler: ULA with a large step overdisperses the Gaussian."""
    target = Gaussian()
    g = torch.Generator().manual_seed(1)
    x = LangevinSampler(steps=300, step_size=0.4, grad_clip=0, parameterization="ula", clamp=None).sample(
        target, target.exact(N, g), generator=g).x
    floor, dist = floor_and_distance(target, x)
    assert dist > 3 * floor


@pytest.mark.parametrize("kind", ["mala", "hmc"])
def test_started_from_exact_samples_they_stay_exact(kind):
    """Invariance: a Metropolis-corrected step with a large step size still leaves the target in place."""
    target = Mixture()
    g = torch.Generator().manual_seed(2)
    big = MALASampler(steps=30, step_size=0.3, clamp=None) if kind == "mala" else \
        HMCSampler(steps=30, step_size=0.6, leapfrog_steps=5, clamp=None)
    x = big.sample(target, target.exact(N, g), generator=g).x
    floor, dist = floor_and_distance(target, x, seed=3)
    assert dist < 3 * floor
    assert abs(float((x[:, 0] > 0).float().mean()) - 0.7) < 0.04  # the mixture weights survive


class TwoScales(nn.Module):
    """Chains with condition 1 see a target 10^4 times narrower: they should reject, the others accept."""

    def forward(self, x, cond):
        scale = torch.where(cond == 1, 1e4, 1.0)
        return 0.5 * scale * (x ** 2).sum(1)


def test_acceptance_is_per_chain():
    cond = torch.arange(200) % 2
    res = HMCSampler(steps=20, step_size=0.3, leapfrog_steps=3, clamp=None).sample(
        TwoScales(), torch.zeros(200, 2), cond, generator=torch.Generator().manual_seed(0))
    per_chain = res.stats["acceptance_per_chain"]
    assert per_chain.shape == (200,)
    assert per_chain[cond == 0].mean() > 0.8 and per_chain[cond == 1].mean() < 0.1


@pytest.mark.parametrize("start", [1e-3, 3.0])
def test_adaptation_reaches_its_target_acceptance(start):
    target = Gaussian(mean=(0.0,) * 2, std=(1.0, 0.3))
    s = AdaptiveHMCSampler(steps=400, step_size=start, leapfrog_steps=5, clamp=None, target_accept=0.65)
    s.sample(target, torch.randn(500, 2), generator=torch.Generator().manual_seed(0))
    late = np.mean([a for a, _ in s.history[-150:]])
    assert abs(late - 0.65) < 0.05, late
    # and it continues from where it stopped on the next call (as it does through training)
    eps = s.history[-1][1]
    g = torch.Generator().manual_seed(1)
    s.sample(target, target.exact(500, g), steps=5, generator=g)
    assert s.adaptation_state()["t"] == 405 and 0.5 * eps < s.history[-5][1] < 2 * eps


def test_walls_reflect_and_keep_a_flat_target_uniform():
    flat = Gaussian(mean=(0.5, 0.5), std=(1e3, 1e3))  # nearly flat on the unit box
    x = HMCSampler(steps=60, step_size=0.3, leapfrog_steps=5, clamp=(0.0, 1.0)).sample(
        flat, torch.full((3000, 2), 0.05), generator=torch.Generator().manual_seed(0)).x
    assert x.min() >= 0 and x.max() <= 1
    assert torch.allclose(x.mean(0), torch.full((2,), 0.5), atol=0.03)
    assert torch.allclose(x.var(0), torch.full((2,), 1 / 12), atol=0.01)


@pytest.mark.parametrize("cls", [MALASampler, HMCSampler, AdaptiveHMCSampler])
def test_masked_entries_stay_put_and_the_clamp_box_holds(cls):
    target = Gaussian(mean=(0.5, 0.5))
    x0 = torch.rand(64, 2)
    mask = torch.tensor([True, False])
    lo, hi = x0 - 0.1, x0 + 0.1
    x = cls(steps=20, step_size=0.05, clamp=(0.0, 1.0)).sample(
        target, x0, mask=mask, clamp_box=(lo, hi), generator=torch.Generator().manual_seed(0)).x
    assert torch.equal(x[:, 1], x0[:, 1])
    assert (x >= lo - 1e-6).all() and (x <= hi + 1e-6).all()
    assert not torch.equal(x[:, 0], x0[:, 0])


@pytest.mark.parametrize("override,key", [
    ("sampler.kind=gibbs", "sampler.kind"),
    ("sampler.step_size=0", "sampler.step_size"),
    ("sampler.step_size=-1", "sampler.step_size"),
])
def test_bad_sampler_settings_are_one_line_errors(override, key):
    with pytest.raises(UserError, match=key):
        load_config(None, ["sampler.kind=hmc", override])


@pytest.mark.parametrize("kind,override,key", [
    ("hmc", "sampler.leapfrog_steps=0", "sampler.leapfrog_steps"),
    ("adaptive_hmc", "sampler.target_accept=1.5", "sampler.target_accept"),
    ("adaptive_hmc", "sampler.target_accept=0", "sampler.target_accept"),
])
def test_bad_method_settings_name_the_key(kind, override, key):
    with pytest.raises(UserError, match=key):
        load_config(None, [f"sampler.kind={kind}", override])


@pytest.mark.parametrize("kind", ["mala", "hmc", "adaptive_hmc"])
def test_each_method_trains_with_the_replay_buffer(tmp_path, kind):
    cfg = tiny_config(sampler={"kind": kind, "step_size": 0.01, "leapfrog_steps": 2}, train={"max_steps": 2})
    trainer = Trainer(cfg, tmp_path / kind)
    stats = trainer.train_step()
    assert 0.0 <= stats["sampler_acceptance"] <= 1.0 and stats["sampler_step_size"] > 0


def test_adaptive_hmc_resumes_its_step_size(tmp_path):
    cfg = tiny_config(sampler={"kind": "adaptive_hmc", "step_size": 0.01, "leapfrog_steps": 2},
                      train={"max_steps": 3, "checkpoint_every": 3})
    first = Trainer(cfg, tmp_path / "run")
    first.fit()
    resumed = Trainer(cfg, tmp_path / "run", resume=True)
    assert resumed.sampler.adaptation_state() == first.sampler.adaptation_state()
    assert first.sampler.adaptation_state()["t"] == 3 * cfg.sampler.steps
    from igebm.training import load_run
    assert load_run(tmp_path / "run").sampler.adaptation_state() == first.sampler.adaptation_state()
