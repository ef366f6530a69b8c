"""Known constraints as energies, added to a learned next-state energy at rollout time (AND).

An EBM can be told a rule it was never trained on by adding that rule's energy: the
rollout then samples from exp(-(E_model + E_rule)). A feed-forward predictor has no
such handle. `ParticleConstraint` is the particles' geometry: a quadratic penalty on
every overlap of two discs and on every disc past a wall, in units of the feasibility
tolerance, so a violation of one tolerance costs `weight` nats. It reads the next
state from the standardised change x and the standardised history, exactly as the
rollout does (data/trajectories.py).
"""

from __future__ import annotations

import torch
from torch import nn

from igebm.data.trajectories import TrajectoryStats
from igebm.errors import UserError
from igebm.models.algebra import Composable


class ParticleConstraint(Composable):
    def __init__(self, stats: TrajectoryStats, meta: dict, weight: float = 1.0, tol: float = 0.01):
        super().__init__()
        f32 = lambda v: torch.as_tensor(v, dtype=torch.float32)  # noqa: E731
        for name in ("state_mean", "state_std", "delta_mean", "delta_std"):
            self.register_buffer(name, f32(getattr(stats, name)), persistent=False)
        self.register_buffer("radius", f32(meta["radius"]), persistent=False)
        self.register_buffer("box", f32(meta["box"]), persistent=False)
        self.weight, self.tol = float(weight), float(tol)
        self.dim = len(stats.state_mean)

    def next_positions(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, P, 2) positions of the next state a standardised change x makes of the history's last frame."""
        last = cond[:, -self.dim:] * self.state_std + self.state_mean
        nxt = last + x * self.delta_std + self.delta_mean
        return nxt.view(len(x), -1, 4)[..., :2]

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is None:
            raise ValueError("the particle constraint needs the history: call it with cond")
        pos, r = self.next_positions(x, cond), self.radius
        wall = torch.relu(r[:, None] - pos) + torch.relu(pos - (self.box - r[:, None]))  # (B, P, 2)
        e = ((wall / self.tol) ** 2).sum((1, 2))
        P = pos.shape[1]
        for i in range(P):
            for j in range(i + 1, P):
                gap = torch.sqrt(((pos[:, i] - pos[:, j]) ** 2).sum(-1) + 1e-12)
                e = e + (torch.relu(r[i] + r[j] - gap) / self.tol) ** 2
        return self.weight * e


def constraint_for(model, weight: float) -> nn.Module | None:
    """The dataset's known constraint energy (particles) at `weight`, or None at weight 0; a UserError for a
    dataset without one."""
    if weight <= 0:
        return None
    if model.name != "particles":
        raise UserError(f"--constraint (rollout.constraint) is the particles' geometry; dataset '{model.name}' "
                        "has no constraint energy: use --constraint 0")
    return ParticleConstraint(model.stats, model.split("train").meta, weight)
