"""An MLP energy for vectors (the 2-D toys), optionally conditioned on a label or attributes."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from igebm.models.conditioning import AttributeEncoder, ConditionSpec, FiLM
from igebm.models.resnet import activation_fn


class MLPEnergy(nn.Module):
    def __init__(self, dim: int, hidden: int = 128, depth: int = 3, cond: ConditionSpec | int = 0,
                 activation: str = "swish", use_spectral_norm: bool = False):
        super().__init__()
        if isinstance(cond, int):
            cond = ConditionSpec("label", num_classes=cond) if cond else ConditionSpec()
        self.cond = cond
        self.num_classes = cond.num_classes
        layers, d = [], dim
        for _ in range(depth):
            lin = nn.Linear(d, hidden)
            layers.append(spectral_norm(lin) if use_spectral_norm else lin)
            d = hidden
        self.layers = nn.ModuleList(layers)
        self.encoder = AttributeEncoder(cond.num_attributes, hidden) if cond.kind == "attributes" else None
        self.film = FiLM(cond, hidden, hidden) if cond.conditional else None
        self.act = activation_fn(activation)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None and self.film is None:
            raise ValueError("this energy is unconditional: call it with cond=None")
        code = cond if self.encoder is None or cond is None else self.encoder(cond)
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i == 0 and code is not None:
                h = self.film.mul_gain(self.film.add_bias(h, code), code)
            h = self.act(h)
        return self.head(h).squeeze(-1)
