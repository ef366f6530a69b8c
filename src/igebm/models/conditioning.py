"""Conditioning: a condition is a class label or a float vector of named attributes.

Both feed the same FiLM-like path of the IGEBM ResNet: a per-layer gain
multiplied onto a conv's output and a bias added to its input. A label looks
its gain and bias up in an embedding (as in the paper); attributes go through a
small MLP once per forward (`AttributeEncoder`), and each layer maps the code to
its gain and bias linearly, starting at gain 1 and bias 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ConditionSpec:
    """What a model is conditioned on: kind 'none', 'label' (num_classes) or 'attributes' (names)."""

    kind: str = "none"
    num_classes: int = 0
    attribute_names: tuple[str, ...] = ()

    @property
    def conditional(self) -> bool:
        return self.kind != "none"

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_names)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "num_classes": self.num_classes, "attribute_names": list(self.attribute_names)}


def condition_spec(data, model_cfg) -> ConditionSpec:
    """The condition a model config asks for, on this dataset; a mismatch is a clear error."""
    from igebm.errors import UserError

    if not model_cfg.conditional:
        return ConditionSpec()
    have = data.available_conditions()
    kind = model_cfg.condition
    if kind == "auto":
        if not have:
            raise UserError(f"model.conditional = true, but dataset '{data.name}' has neither labels nor attributes; "
                            "set model.conditional=false")
        kind = have[0]
    if kind not in have:
        raise UserError(f"model.condition = '{kind}', but dataset '{data.name}' has "
                        f"{' and '.join(have) or 'no conditions'}; set model.condition or model.conditional=false")
    if kind == "label":
        return ConditionSpec("label", num_classes=data.num_classes)
    return ConditionSpec("attributes", attribute_names=tuple(data.attribute_names))


class AttributeEncoder(nn.Module):
    """Attributes (batch, K) -> a code (batch, width) that every FiLM layer reads."""

    def __init__(self, num_attributes: int, width: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(num_attributes, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())

    def forward(self, attrs: torch.Tensor) -> torch.Tensor:
        return self.net(attrs.float())


class FiLM(nn.Module):
    """Per-condition gain and bias for `channels` channels; identity when the condition is None."""

    def __init__(self, spec: ConditionSpec, channels: int, code_width: int = 128):
        super().__init__()
        if spec.kind == "label":
            self.gain = nn.Embedding(spec.num_classes, channels)
            self.bias = nn.Embedding(spec.num_classes, channels)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)
        elif spec.kind == "attributes":
            self.gain = nn.Linear(code_width, channels)
            self.bias = nn.Linear(code_width, channels)
            for layer, start in ((self.gain, 1.0), (self.bias, 0.0)):
                nn.init.zeros_(layer.weight)
                nn.init.constant_(layer.bias, start)
        else:
            raise ValueError("FiLM needs a label or attribute condition")

    @staticmethod
    def _shape(v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return v.view(*v.shape, *([1] * (h.dim() - 2)))

    def add_bias(self, h: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        return h if code is None else h + self._shape(self.bias(code), h)

    def mul_gain(self, h: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        return h if code is None else h * self._shape(self.gain(code), h)


def energies_per_class(energy: nn.Module, x: torch.Tensor, num_classes: int, batch: int | None = None) -> torch.Tensor:
    """E(x, y) for every class y: (N, num_classes). Differentiable in x unless called under no_grad.

    `batch` bounds how many inputs go through the model at once (N * num_classes rows).
    """
    n = len(x)
    if batch is not None and n > batch:
        return torch.cat([energies_per_class(energy, x[i:i + batch], num_classes) for i in range(0, n, batch)])
    xs = x.repeat(num_classes, *([1] * (x.dim() - 1)))
    ys = torch.arange(num_classes, device=x.device).repeat_interleave(n)
    return energy(xs, ys).view(num_classes, n).t()
