"""An ensemble of energies: E(x, c) = sum_i E_i(x, c), trained and sampled as one model.

The seed found ensembles "help a bit, but [are] not worth the added complexity";
`model.ensemble = N` makes that a measurement. Each member starts from its own
random initialisation; the sum is a product of experts, so sampling and scoring
need nothing special.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class EnsembleEnergy(nn.Module):
    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([m(x, cond) for m in self.members]).sum(0)
