"""An algebra of energies: products of experts (AND), mixtures (OR), negation (NOT), weights.

Every composite is an `nn.Module` with `forward(x, cond=None) -> (batch,)`, so
every sampler takes it unchanged. The Python API reads like the math:

    size = Expert(size_model, ("size",)).given(size=0.3)
    pos = Expert(pos_model, ("x", "y")).given(x=0.25, y=0.7)
    size & pos           # E_size + E_pos: the product of experts (AND)
    size | pos           # -T logsumexp(-E_i / T): a mixture (OR), T = 1 by default
    size - 0.5 * pos     # E_size - 0.5 E_pos: negation (NOT)
    2.0 * size           # a weight (1/temperature) on one expert

A bound condition wins; a part with none bound takes the `cond` the sampler
passes (a free condition, such as a rollout's history, flows through the whole
composite), so `sampler.sample(energy, x0)` runs a fully bound one. `terms()` lists the summands of a sum,
for samplers that alternate one step per expert.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from igebm.errors import UserError


class Composable(nn.Module):
    """Mixin for energies that combine with &, |, -, * and unary -."""

    def terms(self) -> list["Composable"]:
        """The summands of this energy (itself, unless it is a sum)."""
        return [self]

    def langevin_scale(self) -> torch.Tensor | None:
        """The first part's own per-dimension scale (a preconditioner for ULA, sampling/langevin.py), if any.

        Any fixed positive scale leaves the composite's density invariant; the first part's is the one
        that knows the variable's units."""
        for m in self.modules():
            if not isinstance(m, Composable) and callable(getattr(m, "langevin_scale", None)):
                return m.langevin_scale()
        return None

    def __and__(self, other: "Composable") -> "Sum":
        return Sum([*self.terms(), *_as_energy(other).terms()])

    def __add__(self, other: "Composable") -> "Sum":
        return self & other

    def __or__(self, other: "Composable") -> "Mixture":
        return Mixture([self, _as_energy(other)])

    def __sub__(self, other: "Composable") -> "Sum":
        return self & Scaled(_as_energy(other), -1.0)

    def __neg__(self) -> "Scaled":
        return Scaled(self, -1.0)

    def __mul__(self, w: float) -> "Scaled":
        if not isinstance(w, (int, float)):
            return NotImplemented
        return Scaled(self, float(w))

    __rmul__ = __mul__


def _as_energy(e) -> Composable:
    if isinstance(e, Composable):
        return e
    if isinstance(e, nn.Module):
        return Wrapped(e)
    raise TypeError(f"cannot compose {type(e).__name__} with an energy")


class Wrapped(Composable):
    """Any `forward(x, cond=None)` energy, called without a condition (or with a fixed one)."""

    def __init__(self, energy: nn.Module, cond: torch.Tensor | None = None):
        super().__init__()
        self.energy = energy
        self.register_buffer("cond", cond, persistent=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        c = self.cond
        if c is not None:
            c = c.to(x.device)
            if c.dim() == 1:  # one condition for the whole batch
                c = c.expand(len(x), -1) if c.dtype.is_floating_point else c.expand(len(x))
            elif len(c) != len(x):
                raise ValueError(f"{len(c)} bound conditions for a batch of {len(x)}")
        if c is None:
            c = cond
        return self.energy(x) if c is None else self.energy(x, c)


class Expert(Wrapped):
    """A trained energy with named attributes (or labels); `.given(...)` binds a condition."""

    def __init__(self, energy: nn.Module, attribute_names: Sequence[str] = (), name: str = "expert",
                 num_classes: int = 0):
        super().__init__(energy)
        self.attribute_names = tuple(attribute_names)
        self.name = name
        self.num_classes = num_classes

    def given(self, label: int | None = None, **attrs) -> Wrapped:
        """This energy with its condition bound: `label=K`, or every attribute by name.

        A value may be a number (the whole batch) or a 1-D tensor/array (one per sample).
        """
        if label is not None:
            if not self.num_classes:
                raise UserError(f"{self.name} is not conditioned on labels")
            if not 0 <= label < self.num_classes:
                raise UserError(f"{self.name}: label {label} is out of range 0..{self.num_classes - 1}")
            return Wrapped(self.energy, torch.tensor(int(label)))
        unknown = [a for a in attrs if a not in self.attribute_names]
        if unknown:
            have = ", ".join(self.attribute_names) or "no attributes"
            raise UserError(f"{self.name} was not trained on attribute '{unknown[0]}' (it knows: {have})")
        missing = [a for a in self.attribute_names if a not in attrs]
        if missing:
            raise UserError(f"{self.name} needs every attribute it was trained on "
                            f"({', '.join(self.attribute_names)}); missing: {', '.join(missing)}")
        if not self.attribute_names:
            return Wrapped(self.energy)
        cols = [torch.as_tensor(attrs[a], dtype=torch.float32) for a in self.attribute_names]
        n = max(c.numel() for c in cols)
        cond = torch.stack([c.reshape(-1).expand(n) if c.numel() == 1 else c.reshape(-1) for c in cols], dim=1)
        return Wrapped(self.energy, cond[0] if n == 1 else cond)


class Sum(Composable):
    """E = sum_i E_i: the product of experts (AND)."""

    def __init__(self, parts: Sequence[Composable]):
        super().__init__()
        self.parts = nn.ModuleList(parts)

    def terms(self) -> list[Composable]:
        return list(self.parts)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return sum(p(x, cond) for p in self.parts)


class Scaled(Composable):
    """E = w * E_inner: a weight, an inverse temperature, or (w < 0) a negated term."""

    def __init__(self, inner: Composable, weight: float):
        super().__init__()
        self.inner, self.weight = inner, float(weight)

    def __mul__(self, w: float) -> "Scaled":
        if not isinstance(w, (int, float)):
            return NotImplemented
        return Scaled(self.inner, self.weight * float(w))

    __rmul__ = __mul__

    def __neg__(self) -> "Scaled":
        return Scaled(self.inner, -self.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.weight * self.inner(x, cond)


class Mixture(Composable):
    """E = -T logsumexp_i(-E_i / T): a mixture of the experts' densities (OR).

    At T = 1, exp(-E) = sum_i exp(-E_i); a small T approaches min_i E_i.
    `offsets` c_i shift each part (E_i - c_i): a trained conditional energy is not normalised per
    condition, so without them the deeper well takes most of the mass (`calibrate_offsets`).
    """

    def __init__(self, parts: Sequence[Composable], temperature: float = 1.0,
                 offsets: Sequence[float] | None = None):
        super().__init__()
        if temperature <= 0:
            raise UserError(f"the OR temperature must be positive, got {temperature}")
        self.parts = nn.ModuleList(parts)
        self.temperature = float(temperature)
        offsets = [0.0] * len(self.parts) if offsets is None else [float(c) for c in offsets]
        if len(offsets) != len(self.parts):
            raise UserError(f"{len(offsets)} OR offsets for {len(self.parts)} experts")
        self.offsets = offsets

    def __or__(self, other: Composable) -> "Mixture":
        return Mixture([*self.parts, _as_energy(other)], self.temperature, [*self.offsets, 0.0])

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        e = torch.stack([p(x, cond) - c for p, c in zip(self.parts, self.offsets)], dim=0)
        return -self.temperature * torch.logsumexp(-e / self.temperature, dim=0)


def AND(*experts: Composable, weights: Sequence[float] | None = None) -> Composable:
    """sum_i w_i E_i."""
    weights = weights or [1.0] * len(experts)
    out = Sum([])
    for e, w in zip(experts, weights):
        out = out & (e if w == 1.0 else w * e)
    return out


def OR(*experts: Composable, weights: Sequence[float] | None = None, temperature: float = 1.0,
       offsets: Sequence[float] | None = None) -> Mixture:
    """-T logsumexp_i(-(w_i E_i - c_i) / T)."""
    weights = weights or [1.0] * len(experts)
    return Mixture([e if w == 1.0 else w * e for e, w in zip(experts, weights)], temperature, offsets)


def NOT(positive: Composable, negative: Composable, weight: float = 0.5,
        positive_weight: float = 1.0) -> Composable:
    """w_a E_a - w E_b: the positive expert's density with the negative's modes pushed away."""
    a = positive if positive_weight == 1.0 else positive_weight * positive
    return a - weight * negative
