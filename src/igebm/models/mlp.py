"""An MLP energy for vectors (the 2-D toys), optionally class-conditional."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from igebm.models.resnet import activation_fn


class MLPEnergy(nn.Module):
    def __init__(self, dim: int, hidden: int = 128, depth: int = 3, num_classes: int = 0,
                 activation: str = "swish", use_spectral_norm: bool = False):
        super().__init__()
        self.num_classes = num_classes
        layers, d = [], dim
        for _ in range(depth):
            lin = nn.Linear(d, hidden)
            layers.append(spectral_norm(lin) if use_spectral_norm else lin)
            d = hidden
        self.layers = nn.ModuleList(layers)
        self.embed = nn.Embedding(num_classes, hidden) if num_classes else None
        self.act = activation_fn(activation)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i == 0 and y is not None:
                if self.embed is None:
                    raise ValueError("this energy is unconditional: call it with y=None")
                h = h + self.embed(y)
            h = self.act(h)
        return self.head(h).squeeze(-1)
