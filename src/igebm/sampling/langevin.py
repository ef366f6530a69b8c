"""Langevin dynamics: noisy gradient descent on E(x)/T, one `step` of the sampler contract.

Two parameterisations:
- "igebm" (Du & Mordatch): x += N(0, noise_std^2); g = dE/dx clipped per element
  to +-grad_clip; x -= step_size * g; clamp to the data range. Noise and step are
  set apart, as in the paper's recipes (step 10, noise 0.005, clip 0.01).
- "ula" (textbook unadjusted Langevin): x -= step * g + sqrt(2 step) * N(0, 1),
  whose stationary law approaches exp(-E/T) as the step shrinks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from igebm.errors import UserError
from igebm.sampling.base import ChainContext, Sampler, register_sampler

PARAMETERIZATIONS = ("igebm", "ula")


@register_sampler("langevin")
@dataclass
class LangevinSampler(Sampler):
    step_size: float = 10.0
    noise_std: float = 0.005
    grad_clip: float = 0.01  # per element; 0 disables
    parameterization: str = "igebm"

    def __post_init__(self) -> None:
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"unknown parameterization '{self.parameterization}' (igebm or ula)")

    @classmethod
    def validate_config(cls, cfg) -> None:
        if cfg.parameterization not in PARAMETERIZATIONS:
            raise UserError(f"config key 'sampler.parameterization' is {cfg.parameterization!r}; "
                            f"choose one of {list(PARAMETERIZATIONS)}")

    def step(self, x: torch.Tensor, ctx: ChainContext, state: dict) -> torch.Tensor:
        noise = ctx.noise_like(x)
        if self.parameterization == "igebm":
            x = x + self.noise_std * noise
        _, g = ctx.energy_and_grad(x)
        if self.grad_clip > 0:
            g = g.clamp(-self.grad_clip, self.grad_clip)
        x = x - self.step_size * g
        if self.parameterization == "ula":
            x = x + math.sqrt(2.0 * self.step_size) * noise
        return ctx.constrain(x)
