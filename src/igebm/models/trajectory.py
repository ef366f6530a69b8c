"""A next-state energy: an MLP over [x, history] (concatenation) on a standard-normal base.

E(x | c) = MLP([x, c]) + |x|^2 / 2, for x the standardised next-step change and c the
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
