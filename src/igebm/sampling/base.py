"""The sampler contract: a method is one `step()`; `sample()` is shared by every method.

A subclass implements one transition, `step(x, ctx, state) -> x`, using
`ctx.energy_and_grad(x)` for E(x)/T and its input gradient and `ctx.noise_like(x)`
for its randomness, and ending with `ctx.constrain(x)`. `Sampler.sample` does
what every method needs around it:
- freezes the parameters and caches spectral norms for the chain, so gradients
  are taken with respect to inputs only and one chain sees one set of weights;
- masks (only masked-in entries move), the data-range clamp, clamp boxes (e.g.
  an epsilon ball for robust classification);
- recording every k steps, generators, and per-chain statistics.

Register a method with `@register_sampler("name")`; the config's `sampler.kind`
picks it from `SAMPLERS`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar

import torch
from torch import nn
from torch.nn.utils import parametrize

SAMPLERS: dict[str, type["Sampler"]] = {}


def register_sampler(name: str):
    def wrap(cls):
        cls.kind = name
        SAMPLERS[name] = cls
        return cls
    return wrap


def build_sampler(cfg, data_range: tuple[float, float] | None) -> "Sampler":
    """The sampler a `[sampler]` config names (validated by its section)."""
    return SAMPLERS[cfg.kind].from_config(cfg, data_range)


@dataclass
class SampleResult:
    x: torch.Tensor
    energies: torch.Tensor  # (batch,) energies of the final state
    trace: list[torch.Tensor] = field(default_factory=list)  # states every `record_every` steps
    trace_energies: list[torch.Tensor] = field(default_factory=list)
    trace_steps: list[int] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)  # per-method statistics, e.g. acceptance rates


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


def call_energy(energy: nn.Module, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    """E(x) or E(x, cond): energies that take no condition plug in too."""
    return energy(x) if cond is None else energy(x, cond)


@dataclass
class ChainContext:
    """What one step may use besides x: the energy, condition, temperature, noise and constraints."""

    energy: nn.Module
    cond: torch.Tensor | None
    temperature: float
    generator: torch.Generator | None
    constrain: Callable[[torch.Tensor], torch.Tensor]
    mask: torch.Tensor | None  # True where entries move
    last_energy: torch.Tensor | None = None

    def energy_and_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E(x), d(E(x)/T)/dx), the gradient with respect to the input only."""
        x = x.detach().requires_grad_(True)
        e = call_energy(self.energy, x, self.cond)
        (g,) = torch.autograd.grad(e.sum() / self.temperature, x)
        self.last_energy = e.detach()
        return e.detach(), g

    def energy_of(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return call_energy(self.energy, x, self.cond)

    def noise_like(self, x: torch.Tensor) -> torch.Tensor:
        """Standard normal noise, drawn from the chain's generator on the CPU.

        Drawing on the CPU and moving it keeps a run's noise in its checkpointed
        generator on every device, so resume is exact on GPUs too.
        """
        if self.generator is not None and self.generator.device.type != "cpu":
            return torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        return torch.randn(x.shape, generator=self.generator, dtype=x.dtype).to(x.device)


@dataclass
class Sampler:
    """Base of every sampling method; subclasses add their own settings and `step`."""

    kind: ClassVar[str] = ""
    steps: int = 60
    temperature: float = 1.0
    clamp: tuple[float, float] | None = (0.0, 1.0)  # the data range; None = unbounded

    # ----------------------------------------------------------- what a method implements
    def init_state(self, x: torch.Tensor, ctx: ChainContext) -> dict[str, Any]:
        """Per-chain state a method keeps across steps (momenta, acceptance counts, ...)."""
        return {}

    def step(self, x: torch.Tensor, ctx: ChainContext, state: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    def chain_stats(self, state: dict[str, Any]) -> dict[str, Any]:
        """Statistics of a finished chain, stored in `SampleResult.stats`."""
        return {}

    @classmethod
    def config_fields(cls, cfg) -> dict[str, Any]:
        """This method's settings read from a `[sampler]` config (by field name)."""
        names = {f.name for f in fields(cls)} - {"clamp"}
        return {k: getattr(cfg, k) for k in names if hasattr(cfg, k)}

    @classmethod
    def validate_config(cls, cfg) -> None:
        """Refuse settings this method cannot use (raise UserError naming the key)."""

    @classmethod
    def from_config(cls, cfg, data_range: tuple[float, float] | None) -> "Sampler":
        return cls(**cls.config_fields(cfg), clamp=data_range if cfg.clamp else None)

    # ----------------------------------------------------------- shared by every method
    def make_constrain(self, x0: torch.Tensor, mask: torch.Tensor | None,
                       clamp_box: tuple[torch.Tensor, torch.Tensor] | None) -> Callable[[torch.Tensor], torch.Tensor]:
        fixed = x0.detach() if mask is not None else None

        def constrain(x: torch.Tensor) -> torch.Tensor:
            if self.clamp is not None:
                x = x.clamp(*self.clamp)
            if clamp_box is not None:
                x = torch.maximum(torch.minimum(x, clamp_box[1]), clamp_box[0])
            if mask is not None:
                x = torch.where(mask, x, fixed)
            return x
        return constrain

    def sample(self, energy: nn.Module, x0: torch.Tensor, cond: torch.Tensor | None = None, *,
               mask: torch.Tensor | None = None, steps: int | None = None,
               generator: torch.Generator | None = None, record_every: int = 0,
               clamp_box: tuple[torch.Tensor, torch.Tensor] | None = None) -> SampleResult:
        """Run the chain from `x0`. With `mask`, only entries where mask is true move.

        `clamp_box` (lo, hi) tensors further confine the chain, e.g. to an
        epsilon ball around an input for robust classification.
        """
        steps = self.steps if steps is None else steps
        x = x0.detach().clone()
        if mask is not None:
            mask = mask.to(dtype=torch.bool, device=x.device).expand_as(x)
        ctx = ChainContext(energy, cond, self.temperature, generator, self.make_constrain(x0, mask, clamp_box), mask)
        result = SampleResult(x, torch.empty(0))
        with frozen_energy(energy), torch.enable_grad():  # works inside a caller's no_grad too
            state = self.init_state(x, ctx)
            for k in range(steps):
                x = self.step(x, ctx, state).detach()
                if record_every and (k % record_every == 0):
                    result.trace.append(x.cpu().clone())
                    result.trace_energies.append(ctx.last_energy.cpu() if ctx.last_energy is not None
                                                 else ctx.energy_of(x).cpu())
                    result.trace_steps.append(k)
            e_final = ctx.energy_of(x)
        result.x, result.energies, result.stats = x, e_final, self.chain_stats(state)
        if record_every:
            result.trace.append(result.x.cpu().clone())
            result.trace_energies.append(e_final.cpu())
            result.trace_steps.append(steps)
        return result
