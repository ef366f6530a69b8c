"""Langevin dynamics on an energy: noisy gradient descent on E(x).

Two parameterisations:
- "igebm" (Du & Mordatch): x += N(0, noise_std^2); g = dE/dx clipped per element
  to +-grad_clip; x -= step_size * g; clamp to the data range. Noise and step are
  set apart, as in the paper's recipes (step 10, noise 0.005, clip 0.01).
- "ula" (textbook unadjusted Langevin): x -= step * g + sqrt(2 step) * N(0, 1).
The temperature T divides the energy: the chain targets exp(-E/T).

The chain differentiates with respect to the input only; parameters are frozen
for its duration, and spectral norms are computed once (`parametrize.cached`), so
one chain sees one fixed set of weights and never touches parameter gradients.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize


@dataclass
class SampleResult:
    x: torch.Tensor
    energies: torch.Tensor  # (batch,) energies of the final state
    trace: list[torch.Tensor] = field(default_factory=list)  # states every `record_every` steps
    trace_energies: list[torch.Tensor] = field(default_factory=list)
    trace_steps: list[int] = field(default_factory=list)


@contextlib.contextmanager
def frozen_energy(energy: nn.Module):
    """Freeze parameters and cache spectral norms for one chain; restore after."""
    params = [p for p in energy.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        with parametrize.cached():
            yield
    finally:
        for p in params:
            p.requires_grad_(True)


@dataclass
class LangevinSampler:
    steps: int = 60
    step_size: float = 10.0
    noise_std: float = 0.005
    grad_clip: float = 0.01  # per element; 0 disables
    temperature: float = 1.0
    parameterization: str = "igebm"
    clamp: tuple[float, float] | None = (0.0, 1.0)

    def __post_init__(self) -> None:
        if self.parameterization not in ("igebm", "ula"):
            raise ValueError(f"unknown parameterization '{self.parameterization}' (igebm or ula)")

    @classmethod
    def from_config(cls, cfg, data_range: tuple[float, float] | None) -> "LangevinSampler":
        return cls(cfg.steps, cfg.step_size, cfg.noise_std, cfg.grad_clip, cfg.temperature,
                   cfg.parameterization, data_range if cfg.clamp else None)

    def sample(self, energy: nn.Module, x0: torch.Tensor, y: torch.Tensor | None = None, *,
               mask: torch.Tensor | None = None, steps: int | None = None,
               generator: torch.Generator | None = None, record_every: int = 0,
               clamp_box: tuple[torch.Tensor, torch.Tensor] | None = None) -> SampleResult:
        """Run the chain from `x0`. With `mask`, only entries where mask is true move.

        `clamp_box` (lo, hi) tensors further confine the chain, e.g. to an
        epsilon ball around an input for robust classification.
        """
        steps = self.steps if steps is None else steps
        x = x0.detach().clone()
        fixed = x0.detach() if mask is not None else None
        mask = mask.to(dtype=torch.bool, device=x.device) if mask is not None else None
        if mask is not None:
            mask = mask.expand_as(x)
        result = SampleResult(x, torch.empty(0))
        inv_t = 1.0 / self.temperature
        ula_noise = math.sqrt(2.0 * self.step_size)  # target exp(-E/T): gradient of E/T, unit noise
        with frozen_energy(energy), torch.enable_grad():  # works inside a caller's no_grad too
            for k in range(steps):
                noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
                if self.parameterization == "igebm":
                    x = x + self.noise_std * noise
                x.requires_grad_(True)
                e = energy(x) if y is None else energy(x, y)
                (g,) = torch.autograd.grad(e.sum() * inv_t, x)
                x = x.detach()
                if self.grad_clip > 0:
                    g = g.clamp(-self.grad_clip, self.grad_clip)
                x = x - self.step_size * g
                if self.parameterization == "ula":
                    x = x + ula_noise * noise
                x = self._constrain(x, fixed, mask, clamp_box)
                if record_every and (k % record_every == 0):
                    result.trace.append(x.detach().cpu().clone())
                    result.trace_energies.append(e.detach().cpu())
                    result.trace_steps.append(k)
            with torch.no_grad():
                e_final = energy(x) if y is None else energy(x, y)
        result.x, result.energies = x.detach(), e_final
        if record_every:
            result.trace.append(result.x.cpu().clone())
            result.trace_energies.append(e_final.cpu())
            result.trace_steps.append(steps)
        return result

    def _constrain(self, x, fixed, mask, clamp_box):
        if self.clamp is not None:
            x = x.clamp(*self.clamp)
        if clamp_box is not None:
            x = torch.maximum(torch.minimum(x, clamp_box[1]), clamp_box[0])
        if mask is not None:
            x = torch.where(mask, x, fixed)
        return x
