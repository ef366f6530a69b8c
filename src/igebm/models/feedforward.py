"""A feed-forward predictor: the trajectory baseline (history in, next-step change out, trained with MSE).

`matched_hidden` picks its width so that it has about as many parameters as
a given energy network, for a comparison at matched size.
"""

from __future__ import annotations

import torch
from torch import nn


class FeedForward(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden: int = 256, depth: int = 3):
        super().__init__()
        layers, d = [], in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.SiLU()]
            d = hidden
        self.net = nn.Sequential(*layers, nn.Linear(d, out_dim))
        self.in_dim, self.out_dim, self.hidden, self.depth = in_dim, out_dim, hidden, depth

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        return self.net(cond)


def num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def matched_hidden(in_dim: int, out_dim: int, depth: int, target_params: int) -> int:
    """The width whose FeedForward(in_dim, out_dim, width, depth) has closest to `target_params` parameters."""
    def count(h: int) -> int:
        return (in_dim + 1) * h + (depth - 1) * (h + 1) * h + (h + 1) * out_dim
    return min(range(4, 4097), key=lambda h: abs(count(h) - target_params))
