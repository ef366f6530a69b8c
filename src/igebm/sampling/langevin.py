"""Langevin dynamics: noisy gradient descent on E(x)/T, one `step` of the sampler contract.

Two parameterisations:
- "igebm" (Du & Mordatch): x += N(0, noise_std^2); g = dE/dx clipped per element
  to +-grad_clip; x -= step_size * g; clamp to the data range. Noise and step are
  set apart, as in the paper's recipes (step 10, noise 0.005, clip 0.01).
- "ula" (textbook unadjusted Langevin): x -= step * g + sqrt(2 step) * N(0, 1),
  whose stationary law approaches exp(-E/T) as the step shrinks. An energy that
  knows its own per-dimension scale s (`langevin_scale()`, e.g. the trajectory
  energy on a learned Gaussian base) gets the preconditioned chain
  x -= step * s^2 * g + sqrt(2 step) * s * N(0, 1): the same stationary law, with
  every dimension moving at the pace of its own width instead of the narrowest's.

With `compile = step` (chain options) the whole step, noise in, `torch.func.grad` of
the folded energy inside, is one `torch.compile(fullgraph=True)` graph; the
spectral norms are folded outside it, so the graph sees plain convolutions. A graph
that fails to compile falls back to the eager step with a one-line notice.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from igebm.errors import UserError
from igebm.sampling.base import ChainContext, Sampler, register_sampler
from igebm.sampling.options import WeightCache, autocast, call_functional, notice

PARAMETERIZATIONS = ("igebm", "ula")


def langevin_scale(energy, parameterization: str) -> torch.Tensor | None:
    """The energy's own per-dimension scale for a preconditioned ULA chain, or None (plain chain)."""
    fn = getattr(energy, "langevin_scale", None)
    if fn is None or parameterization != "ula":
        return None
    with torch.no_grad():
        scale = fn()
    return None if scale is None else scale.detach()


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
        if "scale" not in state:  # frozen weights through one sample() call: look the scale up once
            state["scale"] = langevin_scale(ctx.energy, self.parameterization)
        return ctx.constrain(self._update(x, noise, g, state["scale"]))

    # ------------------------------------------------------------------ compile = step
    def _update(self, x, noise, g, scale: torch.Tensor | None = None):
        if self.grad_clip > 0:
            g = g.clamp(-self.grad_clip, self.grad_clip)
        if scale is not None:
            g, noise = g * scale ** 2, noise * scale
        x = x - self.step_size * g
        if self.parameterization == "ula":
            x = x + math.sqrt(2.0 * self.step_size) * noise
        return x

    def _graph(self, energy, module, bf16: bool):
        temperature, noise_std, igebm = self.temperature, self.noise_std, self.parameterization == "igebm"

        def energy_sum(x, weights, cond):
            with autocast(x.device, bf16):
                e = call_functional(module, weights, x, cond).float()
            return e.sum() / temperature, e.detach()

        def graph(x, noise, weights, cond):
            if igebm:
                x = x + noise_std * noise
            g, e = torch.func.grad(energy_sum, has_aux=True)(x, weights, cond)
            return self._update(x, noise, g), e

        return torch.compile(graph, fullgraph=True, dynamic=False)

    def compiled_step(self, ctx: ChainContext):
        if not isinstance(ctx.energy, torch.nn.Module) or getattr(self, "_compile_failed", False):
            return None
        if langevin_scale(ctx.energy, self.parameterization) is not None:  # preconditioned chains run eagerly
            return None
        if ctx.weights is None:  # the graph always takes folded weights, so it never traces a parametrization
            ctx.weights = WeightCache(None, False)
        cache = self.__dict__.setdefault("_graphs", {})
        key = (id(ctx.energy), ctx.bf16)
        if key not in cache or cache[key][0] is not ctx.energy:
            cache[key] = (ctx.energy, self._graph(ctx.energy, ctx.folded()[0], ctx.bf16))
        graph = cache[key][1]

        def step(x: torch.Tensor, c: ChainContext, state: dict) -> torch.Tensor:
            if getattr(self, "_compile_failed", False):
                return self.step(x, c, state)
            noise = c.noise_like(x)
            try:
                t0 = time.perf_counter()
                x_new, e = graph(x, noise, c.folded()[1], c.cond)
                if not state.get("compiled"):
                    state["compiled"] = True
                    if time.perf_counter() - t0 > 1.0:
                        notice(f"compile: Langevin step compiled in {time.perf_counter() - t0:.0f}s")
            except Exception as exc:  # noqa: BLE001 - any compiler failure means: run eagerly
                self._compile_failed = True
                notice(f"compile: the Langevin step did not compile ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0][:120] if str(exc) else ''}); running eagerly")
                return self.step(x, c, state)
            c.last_energy = e
            return c.constrain(x_new)
        return step
