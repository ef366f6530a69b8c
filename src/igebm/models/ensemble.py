"""An ensemble of energies: E(x, c) = sum_i E_i(x, c), trained and sampled as one model.

The seed found ensembles "help a bit, but [are] not worth the added complexity";
`model.ensemble = N` makes that a measurement. Each member starts from its own
random initialisation; the sum is a product of experts, so sampling and scoring
need nothing special.

`mean=True` averages members trained apart (seeds of one recipe, `igebm compose
--expert RUN1+RUN2:...`): the geometric mean of their densities, at one member's
energy scale, so the step size the recipe's sampler was tuned with still fits.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class EnsembleEnergy(nn.Module):
    def __init__(self, members: Sequence[nn.Module], mean: bool = False):
        super().__init__()
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.members = nn.ModuleList(members)
        self.mean = mean

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        total = torch.stack([m(x) if cond is None else m(x, cond) for m in self.members]).sum(0)
        return total / len(self.members) if self.mean else total
