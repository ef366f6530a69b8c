"""Metropolis-corrected samplers: HMC, MALA (one-leapfrog HMC) and adaptive HMC.

Each `step` is one HMC transition per chain: draw momenta p ~ N(0, mass), run
`leapfrog_steps` leapfrog steps of size `step_size` on U(x) = E(x)/T, and accept
or reject each chain on its own (never the whole batch) with probability
min(1, exp(H(x, p) - H(x', p'))), H = U + |p|^2 / (2 mass).

Walls (the data range, a clamp box) are handled by **reflection**: a position
that leaves the box is mirrored back inside and that momentum component flips.
Reflection keeps the leapfrog map reversible and volume-preserving, so the
Metropolis test stays exact for the target restricted to the box. Rejecting at
the walls would also be exact, but image data sit on the walls (a digit's black
background is 0), so nearly every proposal would touch one and be rejected.

With a mask only the masked-in entries get momentum, so the others stay put.

MALA here is HMC with one leapfrog step: the same proposal as the textbook
x' = x - eps grad U + sqrt(2 eps) xi with eps = step_size^2 / 2, with the same
exact correction, and the walls handled by reflection too.

Adaptive HMC tunes `step_size` by dual averaging (Hoffman & Gelman 2014) toward
`target_accept` from the batch's mean acceptance at each step. Its state lives on
the sampler object, so adaptation continues across calls, i.e. through training
while the energy changes; its gain never falls below that of step `adapt_window`,
so it keeps tracking the energy instead of freezing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from igebm.errors import UserError
from igebm.sampling.base import ChainContext, Sampler, register_sampler

MAX_REFLECTIONS = 8


def reflect(x: torch.Tensor, p: torch.Tensor, constrain) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror positions that left the box back inside and flip those momenta.

    `constrain` clamps to the box (and resets fixed entries, which have zero momentum);
    x - constrain(x) is the overshoot. Several reflections handle a step longer than the box.
    """
    for _ in range(MAX_REFLECTIONS):
        inside = constrain(x)
        out = x != inside
        if not bool(out.any()):
            return x, p
        x = torch.where(out, 2 * inside - x, x)
        p = torch.where(out, -p, p)
    return constrain(x), p  # a step many box widths long: clamp (the Metropolis test then rejects it as needed)


@register_sampler("hmc")
@dataclass
class HMCSampler(Sampler):
    step_size: float = 0.01
    leapfrog_steps: int = 10
    mass: float = 1.0  # a diagonal mass matrix m * I; a per-entry tensor also works through the API

    def __post_init__(self) -> None:
        self._check(self.step_size, self.leapfrog_steps)

    @staticmethod
    def _check(step_size, leapfrog_steps, in_config: bool = False) -> None:
        name = (lambda key: f"config key 'sampler.{key}'") if in_config else (lambda key: key)
        if not (step_size > 0 and math.isfinite(step_size)):
            raise UserError(f"{name('step_size')} must be a positive number, got {step_size}")
        if int(leapfrog_steps) != leapfrog_steps or leapfrog_steps < 1:
            raise UserError(f"{name('leapfrog_steps')} must be a whole number of at least 1, got {leapfrog_steps}")

    @classmethod
    def validate_config(cls, cfg) -> None:
        cls._check(cfg.step_size, cfg.leapfrog_steps, in_config=True)
        if not cfg.mass > 0:
            raise UserError(f"config key 'sampler.mass' must be positive, got {cfg.mass}")

    # ---------------------------------------------------------------- the transition
    def current_step_size(self, state: dict) -> float:
        return self.step_size

    def init_state(self, x: torch.Tensor, ctx: ChainContext) -> dict:
        return {"accepted": torch.zeros(len(x)), "steps": 0, "accept_trace": [], "evaluations": 0}

    def _kinetic(self, p: torch.Tensor) -> torch.Tensor:
        return 0.5 * (p.pow(2) / self.mass).flatten(1).sum(1)

    def step(self, x: torch.Tensor, ctx: ChainContext, state: dict) -> torch.Tensor:
        eps = self.current_step_size(state)
        moving = (lambda v: v * ctx.mask) if ctx.mask is not None else (lambda v: v)  # fixed entries get no momentum
        p = moving(ctx.noise_like(x) * math.sqrt(self.mass))
        e0, g0 = self._energy_and_grad_at(x, ctx, state)
        state["evaluations"] += 1 + self.leapfrog_steps
        h0 = e0 / ctx.temperature + self._kinetic(p)
        xn, pn = x, p - 0.5 * eps * moving(g0)
        for i in range(self.leapfrog_steps):
            xn, pn = reflect(xn + eps * pn / self.mass, pn, ctx.constrain)
            e1, g = ctx.energy_and_grad(xn)
            pn = pn - (eps if i < self.leapfrog_steps - 1 else 0.5 * eps) * moving(g)
        h1 = e1 / ctx.temperature + self._kinetic(pn)
        log_ratio = (h0 - h1).nan_to_num(nan=-math.inf, posinf=-math.inf)
        u = torch.rand(len(x), generator=ctx.generator).to(x.device)
        accept = torch.log(u) < log_ratio
        mean_accept = float(log_ratio.clamp(max=0).exp().mean())
        state["accepted"] += accept.float().cpu()
        state["steps"] += 1
        state["accept_trace"].append(mean_accept)
        self.after_step(state, mean_accept)
        keep = accept.view(-1, *([1] * (x.dim() - 1)))
        x_next, e_next = torch.where(keep, xn, x), torch.where(accept, e1, e0)
        state["current"] = (x_next, e_next, torch.where(keep, g, g0))  # the next step starts here: no re-evaluation
        ctx.last_energy = e_next
        return x_next

    def _energy_and_grad_at(self, x: torch.Tensor, ctx: ChainContext, state: dict):
        """E(x) and its gradient, reused from the previous step's end when the chain is where that step left it."""
        cached = state.get("current")
        if cached is not None and cached[0].shape == x.shape and torch.equal(cached[0], x):
            state["evaluations"] -= 1
            return cached[1], cached[2]
        return ctx.energy_and_grad(x)

    def after_step(self, state: dict, mean_accept: float) -> None:
        """Adaptive methods update their step size here."""

    def chain_stats(self, state: dict) -> dict:
        n = max(state["steps"], 1)
        per_chain = state["accepted"] / n
        return {"acceptance": float(per_chain.mean()), "acceptance_per_chain": per_chain,
                "mean_accept_prob": float(sum(state["accept_trace"]) / n) if state["accept_trace"] else float("nan"),
                "step_size": float(self.current_step_size(state)),
                "gradient_evaluations": state["evaluations"]}  # per chain: L per transition, +1 for the first


@register_sampler("mala")
@dataclass
class MALASampler(HMCSampler):
    """Metropolis-adjusted Langevin: one-leapfrog HMC; `step_size` is the Langevin step eps
    (x' = x - eps grad U + sqrt(2 eps) xi), i.e. a leapfrog step of sqrt(2 eps)."""

    step_size: float = 0.01
    leapfrog_steps: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.leapfrog_steps != 1:
            raise UserError("MALA takes one leapfrog step; use sampler.kind = 'hmc' for more")

    @classmethod
    def config_fields(cls, cfg) -> dict:
        out = super().config_fields(cfg)
        out["leapfrog_steps"] = 1
        return out

    @classmethod
    def validate_config(cls, cfg) -> None:
        cls._check(cfg.step_size, 1, in_config=True)

    def current_step_size(self, state: dict) -> float:
        return math.sqrt(2.0 * self.step_size)

    def chain_stats(self, state: dict) -> dict:
        out = super().chain_stats(state)
        out["step_size"] = self.step_size
        return out


@register_sampler("adaptive_hmc")
@dataclass
class AdaptiveHMCSampler(HMCSampler):
    """HMC whose step size is tuned by dual averaging toward `target_accept`, across the batch and across calls."""

    target_accept: float = 0.65
    adapt_window: int = 1000  # the gain stays at least that of this step, so adaptation keeps tracking
    _log_eps: float = field(default=float("nan"), init=False, repr=False)
    _h_bar: float = field(default=0.0, init=False, repr=False)
    _t: int = field(default=0, init=False, repr=False)
    _mu: float = field(default=0.0, init=False, repr=False)
    history: list = field(default_factory=list, init=False, repr=False)  # (mean acceptance, step size) per step

    GAMMA, T0 = 0.05, 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.target_accept < 1.0:
            raise UserError(f"target_accept must be in (0, 1), got {self.target_accept}")
        self._log_eps = math.log(self.step_size)
        self._mu = math.log(10 * self.step_size)

    @classmethod
    def validate_config(cls, cfg) -> None:
        super().validate_config(cfg)
        if not 0.0 < cfg.target_accept < 1.0:
            raise UserError(f"config key 'sampler.target_accept' must be in (0, 1), got {cfg.target_accept}")

    def current_step_size(self, state: dict) -> float:
        return math.exp(self._log_eps)

    def after_step(self, state: dict, mean_accept: float) -> None:
        self._t += 1
        t = min(self._t, self.adapt_window)
        w = 1.0 / (t + self.T0)
        self._h_bar = (1 - w) * self._h_bar + w * (self.target_accept - mean_accept)
        self._log_eps = self._mu - math.sqrt(t) / self.GAMMA * self._h_bar
        self._log_eps = max(min(self._log_eps, self._mu + 5.0), self._mu - 20.0)  # keep exp() finite
        self.history.append((mean_accept, math.exp(self._log_eps)))

    def adaptation_state(self) -> dict:
        """What a checkpoint needs to continue the adaptation exactly."""
        return {"log_eps": self._log_eps, "h_bar": self._h_bar, "t": self._t, "mu": self._mu}

    def load_adaptation_state(self, s: dict) -> None:
        self._log_eps, self._h_bar, self._t, self._mu = float(s["log_eps"]), float(s["h_bar"]), int(s["t"]), float(s["mu"])
