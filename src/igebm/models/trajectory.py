"""Next-state energies of trajectories: `TrajectoryEnergy` (arch mlp-traj, a base fixed at N(0, I)) and
`ShiftedTrajectoryEnergy` (arch mlp-traj-shift, the recipes': a learned Gaussian base plus a bounded correction).

mlp-traj: E(x | c) = MLP([x, c]) + |x|^2 / 2, for x the standardised next-step change and c the
standardised history (a float condition, batch x K). The quadratic base is the energy of
N(0, I), the scale x has by construction, so far from the data the energy always slopes
back toward it and a Langevin chain started from noise finds the data's wells; an MLP
alone saturates to a plateau there, where chains from noise stay stuck.
"""

from __future__ import annotations

import torch
from torch import nn

from igebm.models.conditioning import ConditionSpec
from igebm.models.resnet import activation_fn


class TrajectoryEnergy(nn.Module):
    def __init__(self, dim: int, cond: ConditionSpec, hidden: int = 256, depth: int = 3, activation: str = "swish"):
        super().__init__()
        if cond.kind != "attributes":
            raise ValueError("arch 'mlp-traj' is conditioned on a history: model.condition = 'attributes'")
        self.cond = cond
        layers, d = [], dim + cond.num_attributes
        for _ in range(depth):
            layers.append(nn.Linear(d, hidden))
            d = hidden
        self.layers = nn.ModuleList(layers)
        self.act = activation_fn(activation)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is None:
            raise ValueError("this energy needs the history: call it with cond")
        h = torch.cat([x, cond.to(x.dtype)], dim=1)
        for layer in self.layers:
            h = self.act(layer(h))
        return self.head(h).squeeze(-1) + 0.5 * (x ** 2).sum(1)


class ShiftedTrajectoryEnergy(nn.Module):
    """A next-state energy on a learned Gaussian base: E = |u|^2 / 2 + B tanh(g([u, f]) / B), u = (x - mu(c)) / s.

    `mu(c)` and the per-dimension width `s` are trained by contrastive divergence with the rest, so the
    base is the best Gaussian guess of the next change and the bounded correction g reshapes it (the
    rare kicks and collisions). Why a learned centre: with the base at 0 (`TrajectoryEnergy`) the
    energy's mode had to be carved out by the MLP alone and sat far from the nearly deterministic
    next state; here it starts at the predictor's guess. Why bounded: |g| <= B keeps the energy at
    least quadratic far away, so a rollout's chain can never run off to infinity. The base is also
    exactly samplable (`base_sample`), which is where training chains and rollouts can start.
    """

    BOUND = 5.0  # the correction's range, in energy units
    MIN_WIDTH = 0.05  # floor on s: the chain is preconditioned by s, but the correction's curvature is not

    def __init__(self, dim: int, cond: ConditionSpec, hidden: int = 256, depth: int = 3, activation: str = "swish"):
        super().__init__()
        if cond.kind != "attributes":
            raise ValueError("arch 'mlp-traj-shift' is conditioned on a history: model.condition = 'attributes'")
        self.cond = cond
        trunk, d = [], cond.num_attributes
        for _ in range(max(1, depth - 1)):
            trunk.append(nn.Linear(d, hidden))
            d = hidden
        self.trunk = nn.ModuleList(trunk)
        self.mean = nn.Linear(hidden, dim)
        self.log_width = nn.Parameter(torch.zeros(dim))
        self.correction = nn.ModuleList([nn.Linear(dim + hidden, hidden), nn.Linear(hidden, 1)])
        self.act = activation_fn(activation)

    def features(self, cond: torch.Tensor) -> torch.Tensor:
        h = cond
        for layer in self.trunk:
            h = self.act(layer(h))
        return h

    def width(self) -> torch.Tensor:
        return self.MIN_WIDTH + nn.functional.softplus(self.log_width + 0.5413)  # softplus(0.5413) = 1: s starts at 1.05

    def langevin_scale(self) -> torch.Tensor:
        """The base's widths: ULA chains on this energy are preconditioned by them (sampling/langevin.py)."""
        return self.width()

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is None:
            raise ValueError("this energy needs the history: call it with cond")
        f = self.features(cond.to(x.dtype))
        u = (x - self.mean(f)) / self.width()
        g = self.correction[1](self.act(self.correction[0](torch.cat([u, f], 1)))).squeeze(-1)
        return 0.5 * (u ** 2).sum(1) + self.BOUND * torch.tanh(g / self.BOUND)

    @torch.no_grad()
    def base_sample(self, cond: torch.Tensor, generator: torch.Generator | None = None,
                    temperature: float = 1.0) -> torch.Tensor:
        """Exact samples of the Gaussian base at `temperature`: where chains start (buffer.start = 'base')."""
        f = self.features(cond.float())
        mu = self.mean(f)
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        return mu + temperature ** 0.5 * self.width() * noise
