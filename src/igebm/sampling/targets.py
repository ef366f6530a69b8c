"""Analytic 2-D targets with exact samplers: the reference for checking and comparing samplers.

Each is an energy `forward(x, cond=None) -> (batch,)` (the density is exp(-E)) with
`exact(n, generator)` drawing exact samples, so a sampler's output can be compared
with the truth (MMD) and its mixing measured from stationarity (ESS).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class GaussianTarget(nn.Module):
    """An axis-aligned Gaussian; anisotropic by default, so one step size cannot suit both axes."""

    def __init__(self, mean=(1.0, -1.0), std=(0.5, 1.5)):
        super().__init__()
        self.mean, self.std = torch.tensor(mean), torch.tensor(std)

    def forward(self, x, cond=None):
        return 0.5 * (((x - self.mean) / self.std) ** 2).sum(1)

    def exact(self, n, g):
        return self.mean + self.std * torch.randn(n, len(self.mean), generator=g)


class MixtureTarget(nn.Module):
    """Two Gaussians 2 apart with weights 0.3 / 0.7 (reachable, but a barrier between them)."""

    def __init__(self):
        super().__init__()
        self.centres, self.weights, self.s = torch.tensor([[-1.0, 0.0], [1.0, 0.0]]), torch.tensor([0.3, 0.7]), 0.45

    def forward(self, x, cond=None):
        d = ((x[:, None] - self.centres) ** 2).sum(-1) / (2 * self.s ** 2)
        return -torch.logsumexp(torch.log(self.weights) - d, 1)

    def exact(self, n, g):
        k = torch.multinomial(self.weights, n, replacement=True, generator=g)
        return self.centres[k] + self.s * torch.randn(n, 2, generator=g)


class RingTarget(nn.Module):
    """Radius ~ N(2, 0.2^2), uniform angle (the log r term cancels the area element)."""

    def forward(self, x, cond=None):
        r = x.norm(dim=1).clamp_min(1e-6)
        return 0.5 * ((r - 2.0) / 0.2) ** 2 + torch.log(r)

    def exact(self, n, g):
        r = 2.0 + 0.2 * torch.randn(n, generator=g)
        a = 2 * math.pi * torch.rand(n, generator=g)
        return torch.stack([r * a.cos(), r * a.sin()], 1)


TARGETS = {"gaussian": GaussianTarget, "mixture": MixtureTarget, "ring": RingTarget}
