"""Robust classification: PGD reaches the analytic optimum, refinement stays in its ball, BPDA, CLI outputs."""

import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from igebm.cli import main
from igebm.sampling import LangevinSampler
from igebm.evaluation.attacks import classifier_grad_fn, energy_grad_fn, pgd
from igebm.tasks.generalisation.classify import EnergyClassifier


class Linear2(nn.Module):
    """Two-class linear classifier on flattened inputs: its minimal adversarial budget is known."""

    def __init__(self, dim: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(2, dim, generator=g))

    def forward(self, x):
        return x.flatten(1) @ self.w.t()


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_reaches_the_minimal_budget_of_a_linear_classifier(norm):
    torch.manual_seed(0)
    model = Linear2(16)
    x = 0.5 + 0.02 * torch.randn(64, 1, 4, 4)  # far from the [0, 1] walls, so only the ball binds
    y = model(x).argmax(1)
    w = model.w[y] - model.w[1 - y]  # (N, D): direction that raises the true class
    margin = (x.flatten(1) * w).sum(1)
    dual = w.abs().sum(1) if norm == "linf" else w.norm(dim=1)  # the dual norm of the attack's norm
    eps_star = (margin / dual).min().item()  # every image flips beyond this; none below it
    fn = classifier_grad_fn(model)
    x_ok = pgd(fn, x, y, eps_star * 0.95, norm, steps=20)
    assert (model(x_ok).argmax(1) == y).all()  # impossible below the budget: PGD must not cheat
    x_adv = pgd(fn, x, y, 1.05 * (margin / dual).max().item(), norm, steps=20)
    assert (model(x_adv).argmax(1) != y).all()  # ... and it finds the worst case just above it
    d = (x_adv - x).flatten(1)
    assert (d.abs().max(1).values if norm == "linf" else d.norm(dim=1)).max() <= 1.05 * (margin / dual).max() + 1e-5


class Prototypes(nn.Module):
    """E(x, y) = ||x - mu_y||^2: the lowest energy is the nearest prototype."""

    def __init__(self, mu):
        super().__init__()
        self.register_buffer("mu", mu)
        self.dummy = nn.Parameter(torch.zeros(()))  # the sampler freezes parameters; give it one

    def forward(self, x, y=None):
        return ((x - self.mu[y]) ** 2).flatten(1).sum(1) + 0 * self.dummy


@dataclass
class FakeRun:
    energy: nn.Module
    sampler: LangevinSampler
    num_classes: int = 3
    conditional: bool = True
    labelled: bool = True


def _fake_run(steps=30):
    g = torch.Generator().manual_seed(0)
    mu = torch.rand(3, 1, 4, 4, generator=g)
    # deterministic gradient descent (no noise, no clip) so the refined point is known
    sampler = LangevinSampler(steps=steps, step_size=0.25, noise_std=0.0, grad_clip=0.0)
    return FakeRun(Prototypes(mu), sampler), mu


def test_refinement_lowers_each_class_energy_but_only_inside_the_ball():
    run, mu = _fake_run()
    x = torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    eps = 0.05
    clf = EnergyClassifier(run, refine_steps=30, eps=eps, norm="linf")
    plain, refined = clf.logits(x), clf.refined_logits(x)
    # the best any point of the ball can do for class y: move each pixel eps toward mu_y
    best = torch.stack([-((x - mu[c]).abs() - eps).clamp_min(0).pow(2).flatten(1).sum(1) for c in range(3)], 1)
    assert (refined > plain + 1e-4).all()  # every hypothesis refined its own copy
    assert (refined <= best + 1e-5).all()  # never below what the eps ball allows
    assert torch.allclose(refined, best, atol=1e-4)  # and 30 steps reach it
    assert torch.equal(EnergyClassifier(run, 30, eps=0.0).refined_logits(x), plain)  # radius 0: plain argmin


def test_adaptive_gradient_is_straight_through_the_refinement():
    run, mu = _fake_run()
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    y = torch.zeros(5, dtype=torch.long)
    clf = EnergyClassifier(run, refine_steps=30, eps=0.1, norm="linf")
    _, g_adapt = energy_grad_fn(clf, "adaptive", eot=1)(x, y)
    _, g_paper = energy_grad_fn(clf, "paper")(x, y)
    # BPDA: d/dx of the loss at the refined copies, x' = x moved 0.1 toward mu per pixel
    x_ref = torch.stack([x + (mu[c] - x).clamp(-0.1, 0.1) for c in range(3)])  # (3, N, ...)
    logits = -((x_ref - mu[:, None]) ** 2).flatten(2).sum(2).t()  # (N, 3)
    p = torch.softmax(logits, 1)
    dlogit = p - torch.nn.functional.one_hot(y, 3)  # d CE / d logits
    want = sum(dlogit[:, c, None, None, None] * -2 * (x_ref[c] - mu[c]) for c in range(3))
    assert torch.allclose(g_adapt, want, atol=1e-5)
    assert not torch.allclose(g_adapt, g_paper, atol=1e-3)  # the paper mode ignores the refinement


def test_energy_classifier_refuses_unconditional_runs(tiny_uncond_dir):
    from igebm.errors import UserError
    from igebm.training import load_run
    with pytest.raises(UserError, match="class-conditional"):
        EnergyClassifier(load_run(tiny_uncond_dir))


def test_cli_robustness_merges_norms_into_robustness_json(tiny_run_dir, tmp_path, capsys):
    out = tmp_path / "rb"
    common = ["--pgd-steps", "2", "--refine-steps", "1", "--num", "6", "--attack", "adaptive", "--eot", "1",
              "--out", str(out)]
    assert main(["robustness", str(tiny_run_dir), "--norm", "linf", "--eps", "0,0.1", *common]) == 0
    assert main(["robustness", str(tiny_run_dir), "--norm", "l2", "--eps", "0,0.5,1", *common]) == 0
    res = json.loads((out / "robustness.json").read_text())
    assert set(res) == {"linf", "l2"}
    assert list(res["l2"]["accuracy"]["ebm (adaptive attack)"]) == ["0", "0.5", "1"]
    assert all(0 <= a <= 1 for a in res["linf"]["accuracy"]["ebm (adaptive attack)"].values())
    assert (out / "robustness_linf.png").exists() and (out / "robustness_l2.png").exists()
    assert "ebm (adaptive attack)" in capsys.readouterr().out


def test_cli_baseline_rejects_zero_epochs(tiny_run_dir, capsys):
    assert main(["baseline", "train", str(tiny_run_dir), "--kind", "standard", "--epochs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--epochs" in err[0]
