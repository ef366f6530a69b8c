"""The sampler contract: a method is one `step()`; `sample()` is shared by every method.

A subclass implements one transition, `step(x, ctx, state) -> x`, using
`ctx.energy_and_grad(x)` for E(x)/T and its input gradient and `ctx.noise_like(x)`
for its randomness, and ending with `ctx.constrain(x)`. `Sampler.sample` does
what every method needs around it:
- freezes the parameters and caches spectral norms for the chain, so gradients
  are taken with respect to inputs only and one chain sees one set of weights;
- masks (only masked-in entries move), the data-range clamp, clamp boxes (e.g.
  an epsilon ball for robust classification);
- recording every k steps, generators, and per-chain statistics;
- the chain options (`sampling/options.py`): bf16 autocast for the energy with the
  state, noise and update in fp32, channels_last, weights folded once per chain, and
  a compiled step where the method offers one (`compiled_step`).

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

from igebm.sampling.options import (ChainOptions, WeightCache, autocast, call_folded, notice, resolve_compile,
                                    resolve_precision, to_layout)

SAMPLERS: dict[str, type["Sampler"]] = {}


def register_sampler(name: str):
    def wrap(cls):
        cls.kind = name
        SAMPLERS[name] = cls
        return cls
    return wrap


def build_sampler(cfg, data_range: tuple[float, float] | None, options: ChainOptions | None = None) -> "Sampler":
    """The sampler a `[sampler]` config names (validated by its section), with the run's chain options."""
    sampler = SAMPLERS[cfg.kind].from_config(cfg, data_range)
    if options is not None:
        sampler.options = options
    return sampler


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
    bf16: bool = False  # autocast the energy; x, the gradient and the returned energies stay fp32
    weights: WeightCache | None = None  # folded weights (bf16 / channels_last), shared by composite experts

    def folded(self) -> tuple[nn.Module, dict[str, torch.Tensor]] | None:
        if self.weights is None or not isinstance(self.energy, nn.Module):
            return None
        return self.weights.get(self.energy)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(x.device, self.bf16):
            if self.weights is None:
                e = call_energy(self.energy, x, self.cond)
            else:
                try:
                    e = call_folded(self.energy, self.folded(), x, self.cond)
                except RuntimeError as exc:  # an energy that turns autocast off inside meets bf16 weights
                    if self.weights.dtype is None or "type" not in str(exc):
                        raise
                    notice("precision bf16: this energy runs part of itself outside autocast; "
                           "keeping its weights fp32 (autocast still casts per call)")
                    self.weights.keep_fp32()
                    e = call_folded(self.energy, self.folded(), x, self.cond)
        return e.float() if self.bf16 else e

    def energy_and_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E(x), d(E(x)/T)/dx), the gradient with respect to the input only (both fp32)."""
        x = x.detach().requires_grad_(True)
        e = self._call(x)
        (g,) = torch.autograd.grad(e.sum() / self.temperature, x)
        self.last_energy = e.detach()
        return e.detach(), g.to(x.dtype)

    def energy_of(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._call(x)

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
    options: ChainOptions = field(default_factory=ChainOptions, repr=False)  # precision, layout, compile

    # ----------------------------------------------------------- what a method implements
    def init_state(self, x: torch.Tensor, ctx: ChainContext) -> dict[str, Any]:
        """Per-chain state a method keeps across steps (momenta, acceptance counts, ...)."""
        return {}

    def step(self, x: torch.Tensor, ctx: ChainContext, state: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    def chain_stats(self, state: dict[str, Any]) -> dict[str, Any]:
        """Statistics of a finished chain, stored in `SampleResult.stats`."""
        return {}

    def compiled_step(self, ctx: ChainContext) -> Callable | None:
        """A compiled `(x, ctx, state) -> x` for `compile = step`, or None (methods without one run eagerly)."""
        return None

    # ----------------------------------------------------------- chain options
    @property
    def resolved_precision(self) -> str:
        """The precision chains use: fp32 or bf16 (`auto` reads fp32 until its first chain decides)."""
        if self.options.precision == "auto":
            return getattr(self, "_auto_precision", None) or "fp32"
        return self.options.precision

    def _precision_for(self, energy: nn.Module, x: torch.Tensor, cond: torch.Tensor | None) -> str:
        """fp32 or bf16; `auto` is decided once per sampler (on its first chain) and remembered."""
        if self.options.precision != "auto":
            return self.options.precision
        if getattr(self, "_auto_precision", None) is None:
            self._auto_precision = resolve_precision("auto", energy, x, cond, self.options.channels_last)
        return self._auto_precision

    def _step_fn(self, ctx: ChainContext, steps: int) -> Callable:
        if not resolve_compile(self.options.compile, steps, self.options.expected_chains):
            return self.step
        fn = self.compiled_step(ctx)
        if fn is None:
            if not getattr(self, "_compile_noticed", False):
                notice(f"compile: sampler '{self.kind}' has no compiled step; running eagerly")
                self._compile_noticed = True
            return self.step
        return fn

    @classmethod
    def config_fields(cls, cfg) -> dict[str, Any]:
        """This method's settings read from a `[sampler]` config (by field name)."""
        names = {f.name for f in fields(cls)} - {"clamp", "options"}
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
        cl = self.options.channels_last and x0.dim() == 4
        x = to_layout(x0.detach().clone(), cl)
        if mask is not None:
            mask = to_layout(mask.to(dtype=torch.bool, device=x.device).expand_as(x), cl)
        ctx = ChainContext(energy, cond, self.temperature, generator, self.make_constrain(x, mask, clamp_box), mask)
        result = SampleResult(x, torch.empty(0))
        with frozen_energy(energy), torch.enable_grad():  # works inside a caller's no_grad too
            ctx.bf16 = self._precision_for(energy, x, cond) == "bf16"
            if ctx.bf16 or cl:  # fold spectral norms once, cast and lay out once, for this chain
                ctx.weights = WeightCache(torch.bfloat16 if ctx.bf16 else None, cl)
            state = self.init_state(x, ctx)
            step = self._step_fn(ctx, steps)
            for k in range(steps):
                x = step(x, ctx, state).detach()
                if record_every and (k % record_every == 0):
                    result.trace.append(x.cpu().clone())
                    result.trace_energies.append(ctx.last_energy.cpu() if ctx.last_energy is not None
                                                 else ctx.energy_of(x).cpu())
                    result.trace_steps.append(k)
            e_final = ctx.energy_of(x)
        result.x, result.energies, result.stats = x.contiguous(), e_final, self.chain_stats(state)
        if record_every:
            result.trace.append(result.x.cpu().clone())
            result.trace_energies.append(e_final.cpu())
            result.trace_steps.append(steps)
        return result
