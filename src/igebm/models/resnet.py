"""The IGEBM energy network: a spectral-normalised, class-conditional ResNet.

Following Du & Mordatch (2019): 3x3 convolutions with spectral normalisation,
residual blocks with optional 2x2 average-pool downsampling, a per-class bias
added to each conv's input and a per-class gain multiplied onto its output
(FiLM-like, no normalisation), an activation, a SUM over spatial positions and a
linear head to one scalar energy. No batch norm: energies must not depend on
the rest of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from igebm.models.conditioning import AttributeEncoder, ConditionSpec, FiLM


def activation_fn(name: str):
    if name == "swish":
        return F.silu
    if name == "leaky_relu":
        return lambda h: F.leaky_relu(h, 0.2)
    raise ValueError(f"unknown activation '{name}' (choose leaky_relu or swish)")


def _sn(module: nn.Module, enabled: bool) -> nn.Module:
    return spectral_norm(module) if enabled else module


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond: ConditionSpec, downsample: bool, act: str, sn: bool,
                 code_width: int = 128):
        super().__init__()
        self.conv1 = _sn(nn.Conv2d(cin, cout, 3, padding=1), sn)
        conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.normal_(conv2.weight, std=1e-5)  # the block starts near the identity
        nn.init.zeros_(conv2.bias)
        self.conv2 = _sn(conv2, sn)
        self.shortcut = _sn(nn.Conv2d(cin, cout, 3, padding=1), sn) if cin != cout else nn.Identity()
        film = (lambda c: FiLM(cond, c, code_width)) if cond.conditional else (lambda c: None)
        self.film1, self.film2, self.gain1, self.gain2 = film(cin), film(cout), film(cout), film(cout)
        self.act = activation_fn(act)
        self.downsample = downsample

    def forward(self, x: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        cond = code if self.film1 is not None else None
        h = self.film1.add_bias(x, cond) if cond is not None else x
        h = self.conv1(h)
        h = self.act(self.gain1.mul_gain(h, cond) if cond is not None else h)
        h = self.film2.add_bias(h, cond) if cond is not None else h
        h = self.conv2(h)
        h = self.gain2.mul_gain(h, cond) if cond is not None else h
        out = self.act(self.shortcut(x) + h)
        return F.avg_pool2d(out, 2) if self.downsample else out


@dataclass(frozen=True)
class ResNetSpec:
    """Blocks as (channel multiplier, downsample) pairs over a base width."""

    base_channels: int
    blocks: tuple[tuple[int, bool], ...]


PRESETS: dict[str, ResNetSpec] = {
    # CIFAR-10 conditional (ResNet32 in the release): 128 -> 256 channels, 5 blocks.
    "resnet32": ResNetSpec(128, ((1, True), (1, False), (2, True), (2, False), (2, False))),
    # CIFAR-10 unconditional (ResNet32Large): 128 -> 256 -> 512, 8 blocks.
    "resnet32-large": ResNetSpec(128, ((1, False), (1, True), (2, False), (2, True),
                                       (4, False), (4, True), (4, False), (4, False))),
    # 8x8 digits: small and fast on a laptop CPU.
    "resnet-digits": ResNetSpec(64, ((1, False), (1, True), (2, False))),
    # 28x28 MNIST-like images.
    "resnet-mnist": ResNetSpec(64, ((1, True), (1, False), (2, True), (2, False))),
}


class IGEBMResNet(nn.Module):
    """E(x, cond) -> (batch,) energies. `cond=None` gives the unconditional energy."""

    def __init__(self, in_channels: int, spec: ResNetSpec, cond: ConditionSpec | int = 0,
                 activation: str = "leaky_relu", use_spectral_norm: bool = True, code_width: int = 128,
                 coord_channels: bool = False):
        super().__init__()
        if isinstance(cond, int):  # a class count, for short calls
            cond = ConditionSpec("label", num_classes=cond) if cond else ConditionSpec()
        c = spec.base_channels
        self.cond = cond
        self.num_classes = cond.num_classes
        self.encoder = AttributeEncoder(cond.num_attributes, code_width) if cond.kind == "attributes" else None
        # CoordConv: x and y maps as two extra input channels. Without them a sum-pooled conv energy is
        # nearly translation-invariant, so a condition on position has little to act on.
        self.coord_channels = coord_channels
        self.stem = _sn(nn.Conv2d(in_channels + 2 * coord_channels, c, 3, padding=1), use_spectral_norm)
        blocks, cin = [], c
        for mult, down in spec.blocks:
            blocks.append(ResBlock(cin, c * mult, cond, down, activation, use_spectral_norm, code_width))
            cin = c * mult
        self.blocks = nn.ModuleList(blocks)
        self.act = activation_fn(activation)
        self.head = nn.Linear(cin, 1)  # no spectral norm on the final scalar layer

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None and not self.cond.conditional:
            raise ValueError("this energy is unconditional: call it with cond=None")
        code = cond if self.encoder is None or cond is None else self.encoder(cond)
        if self.coord_channels:
            n, _, hgt, wid = x.shape
            ys = torch.linspace(-1, 1, hgt, device=x.device, dtype=x.dtype).view(1, 1, hgt, 1).expand(n, 1, hgt, wid)
            xs = torch.linspace(-1, 1, wid, device=x.device, dtype=x.dtype).view(1, 1, 1, wid).expand(n, 1, hgt, wid)
            x = torch.cat([x, xs, ys], dim=1)
        h = self.stem(x)
        for block in self.blocks:
            h = block(h, code)
        h = self.act(h).sum(dim=(2, 3))  # sum, not mean, over positions
        return self.head(h).squeeze(-1)
