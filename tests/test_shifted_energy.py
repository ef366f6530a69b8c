"""The trajectory energy on a learned Gaussian base (arch mlp-traj-shift), its base starts, and the
preconditioned ULA chain it gets (issue 12)."""

import torch
from torch import nn

from igebm.cli import main
from igebm.models.conditioning import ConditionSpec
from igebm.models.trajectory import ShiftedTrajectoryEnergy
from igebm.data.trajectories import generate_trajectories
from igebm.sampling.langevin import LangevinSampler


class DiagonalGaussian(nn.Module):
    """E = sum x^2 / (2 sigma^2), with the preconditioner the shifted energy would give it."""

    def __init__(self, sigma, precondition: bool):
        super().__init__()
        self.sigma = torch.as_tensor(sigma)
        if precondition:
            self.langevin_scale = lambda: self.sigma

    def forward(self, x, cond=None):
        return 0.5 * ((x / self.sigma) ** 2).sum(1)


def _messages(stderr: str) -> list[str]:
    """stderr's lines but the dataset generator's progress bar."""
    return [line for line in stderr.replace("\r", "\n").splitlines() if line.strip() and "frame/s" not in line]


def _chain(energy, steps: int, start: torch.Tensor, step_size: float):
    sampler = LangevinSampler(steps=steps, step_size=step_size, parameterization="ula", grad_clip=0.0, clamp=None)
    return sampler.sample(energy, start, None, generator=torch.Generator().manual_seed(0)).x


def test_preconditioned_ula_leaves_a_badly_scaled_gaussian_invariant():
    sigma = torch.tensor([0.05, 1.0, 4.0])
    exact = torch.randn(20000, 3, generator=torch.Generator().manual_seed(1)) * sigma
    x = _chain(DiagonalGaussian(sigma, precondition=True), 50, exact, step_size=0.05)
    ratio = x.std(0) / sigma  # ULA's bias at step h on a unit Gaussian: variance 1 / (1 - h / 2)
    assert torch.allclose(ratio, torch.full((3,), (1 / (1 - 0.025)) ** 0.5), atol=0.03), ratio
    assert x.mean(0).abs().max() / sigma.max() < 0.03


def test_preconditioning_lets_every_dimension_mix_at_its_own_pace():
    """From a point, 100 preconditioned steps reach the wide dimension's spread; the plain chain, whose step the
    narrow dimension limits (0.002 * 1/0.05^2 = 0.8), stays near the start there."""
    sigma = torch.tensor([0.05, 4.0])
    start = torch.zeros(4000, 2)
    pre = _chain(DiagonalGaussian(sigma, precondition=True), 100, start, step_size=0.05)
    plain = _chain(DiagonalGaussian(sigma, precondition=False), 100, start, step_size=0.002)
    assert 0.9 < pre.std(0)[1] / sigma[1] < 1.1
    assert plain.std(0)[1] / sigma[1] < 0.2


def test_base_sample_is_the_base_at_temperature_and_energy_is_bounded_below():
    torch.manual_seed(0)
    e = ShiftedTrajectoryEnergy(4, ConditionSpec("attributes", attribute_names=tuple(f"a{i}" for i in range(8))), hidden=16, depth=2)
    with torch.no_grad():
        e.log_width.copy_(torch.tensor([-3.0, -1.0, 0.0, 1.0]))
    c = torch.randn(1, 8).repeat(20000, 1)
    x = e.base_sample(c, torch.Generator().manual_seed(0), temperature=0.25)
    with torch.no_grad():
        mu = e.mean(e.features(c[:1]))[0]
        assert torch.allclose(x.mean(0), mu, atol=0.03)
        assert torch.allclose(x.std(0), 0.5 * e.width(), rtol=0.03)
        far = mu + 50 * e.width()
        u2 = 0.5 * (((far - mu) / e.width()) ** 2).sum()
        energy = e(far[None], c[:1])[0]
        assert u2 - e.BOUND <= energy <= u2 + e.BOUND  # the correction never beats the quadratic base


def test_base_start_needs_an_energy_with_a_base(tmp_path, capsys):
    rc = main(["train", "particles", "--set", f"data.root={tmp_path / 'data'}", "--set", "data.traj_num=20",
               "--set", "data.traj_length=12", "--set", "buffer.start=base", "--set", "model.arch=mlp-traj",
               "--out", str(tmp_path / "r")])
    err = _messages(capsys.readouterr().err)
    assert rc == 2 and "buffer.start" in err[0] and "mlp-traj-shift" in err[0] and len(err) == 1


def tiny_particles(tmp_path, arch: str, start: str) -> list[str]:
    """`igebm train particles` flags for a run of a few seconds into tmp_path/run."""
    sets = [f"data.root={tmp_path / 'data'}", "data.traj_num=20", "data.traj_length=12", "model.hidden=16",
            "sampler.steps=2", "train.batch_size=8", "train.max_steps=3", "train.progress=false",
            f"model.arch={arch}", f"buffer.start={start}"]
    return [a for kv in sets for a in ("--set", kv)] + ["--out", str(tmp_path / "run")]


def test_shifted_energy_trains_from_base_starts_and_rolls_out(tmp_path, capsys):
    import numpy as np

    assert main(["train", "particles", *tiny_particles(tmp_path, "mlp-traj-shift", "base")]) == 0
    out = tmp_path / "roll"
    rc = main(["rollout", str(tmp_path / "run"), "--start", "test:0", "--horizon", "5", "--samples", "3",
               "--init", "base", "--ff-steps", "5", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    with np.load(out / "rollouts.npz") as f:
        ebm = f["ebm"]
    assert ebm.shape == (3, 6, 12) and np.isfinite(ebm).all()
    assert np.std(ebm[:, -1], axis=0).max() > 0  # three distinct futures


def test_rollout_from_base_on_an_energy_without_one_is_one_line(tmp_path, capsys):
    assert main(["train", "particles", *tiny_particles(tmp_path, "mlp-traj", "replay")]) == 0
    capsys.readouterr()
    rc = main(["rollout", str(tmp_path / "run"), "--start", "test:0", "--horizon", "3", "--samples", "2",
               "--init", "base", "--ff-steps", "5", "--out", str(tmp_path / "roll")])
    err = _messages(capsys.readouterr().err)
    assert rc == 2 and "base" in err[0] and len(err) == 1


def test_particle_constraint_is_zero_on_true_states_and_pushes_overlaps_apart(tmp_path):
    """The known-geometry energy: 0 on every true next state, positive on an overlap, its gradient separating."""
    from igebm.data.trajectories import TrajectoryStats, windows
    from igebm.tasks.trajectories.constraints import ParticleConstraint

    traj = generate_trajectories("particles", 20, 30, 0, str(tmp_path), progress=False)[1]
    stats = TrajectoryStats.of(traj.states)
    x, hist = (torch.from_numpy(a) for a in windows(traj.states, stats, 2))
    c = ParticleConstraint(stats, traj.meta, weight=1.0)
    # the simulator keeps discs within 0.02 of touching: a violation of 2 tolerances costs at most 4 per pair
    assert c(x, hist).max() <= 4 * 3 + 1e-3 and c(x, hist).median() == 0
    # move particle 1 onto particle 0 in the next state: a large energy, and descending it separates them
    pos = c.next_positions(x[:1], hist[:1])[0]
    bad = x[:1].clone()
    shift = (pos[0] - pos[1]) * 0.95 / torch.as_tensor(stats.delta_std[4:6], dtype=torch.float32)
    bad[0, 4:6] += shift
    bad.requires_grad_(True)
    e = c(bad, hist[:1])
    assert e.item() > 100
    (g,) = torch.autograd.grad(e.sum(), bad)
    after = (bad - 1e-4 * g).detach()
    p_before, p_after = c.next_positions(bad.detach(), hist[:1])[0], c.next_positions(after, hist[:1])[0]
    assert (p_after[0] - p_after[1]).norm() > (p_before[0] - p_before[1]).norm()


def test_a_constraint_on_a_dataset_without_one_is_refused():
    from types import SimpleNamespace

    from igebm.errors import UserError
    from igebm.tasks.trajectories.constraints import constraint_for

    hand = SimpleNamespace(name="hand")
    assert constraint_for(hand, 0.0) is None
    try:
        constraint_for(hand, 1.0)
    except UserError as exc:
        assert "no constraint energy" in str(exc)
    else:
        raise AssertionError("a constraint weight on the hand was accepted")
