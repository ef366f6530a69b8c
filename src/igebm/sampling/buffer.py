"""Replay buffer of negative samples for persistent contrastive divergence.

Each chain starts from a stored sample, or, with probability `reinit_prob`
(IGEBM: 5%), from fresh noise. Samples are written back to the slots they came
from (JEM, ebmkit), so a slot is a long-running chain. The condition a chain
ran under (a label, or an attribute vector) is stored with it, so a chain keeps
its condition; a re-initialised slot draws a new one from `cond_sampler`.
Optional uint8 storage (as in IGEBM) adds uniform dequantisation noise on read.

Whether a replayed chain keeps its condition is the trainer's `buffer.label_policy`
(`relabel` below): the released IGEBM code stores images only, so every replayed
chain is re-conditioned on the data batch's labels.
"""

from __future__ import annotations

from typing import Callable

import torch

NoiseFn = Callable[[int, torch.Generator], torch.Tensor]
CondFn = Callable[[int, torch.Generator], torch.Tensor]


class ReplayBuffer:
    def __init__(self, capacity: int, shape: tuple[int, ...], noise_fn: NoiseFn, *,
                 cond_sampler: CondFn | None = None, reinit_prob: float = 0.05, store_uint8: bool = False,
                 generator: torch.Generator | None = None):
        self.capacity, self.shape = capacity, tuple(shape)
        self.noise_fn, self.cond_sampler = noise_fn, cond_sampler
        self.reinit_prob, self.store_uint8 = reinit_prob, store_uint8
        g = generator or torch.Generator().manual_seed(0)
        self.x = self._encode(noise_fn(capacity, g))
        self.c = self._random_conditions(capacity, g)

    def _random_conditions(self, n: int, g: torch.Generator) -> torch.Tensor:
        if self.cond_sampler is None:
            return torch.zeros(n, dtype=torch.long)
        return self.cond_sampler(n, g)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.store_uint8:
            return (x.clamp(0, 1) * 255).round().to(torch.uint8)
        return x.detach().float().cpu().clone()

    def _decode(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.store_uint8:
            return (x.float() + torch.rand(x.shape, generator=g)) / 256.0
        return x.clone()

    def sample(self, n: int, generator: torch.Generator):
        """Return (x, cond, slots, fresh) for `n` chains; `fresh` marks re-initialised ones."""
        slots = torch.randint(0, self.capacity, (n,), generator=generator)
        x = self._decode(self.x[slots], generator)
        c = self.c[slots].clone()
        fresh = torch.rand(n, generator=generator) < self.reinit_prob
        k = int(fresh.sum())
        if k:
            x[fresh] = self.noise_fn(k, generator)
            c[fresh] = self._random_conditions(k, generator)
        return x, c, slots, fresh

    def update(self, slots: torch.Tensor, x: torch.Tensor, cond: torch.Tensor | None) -> None:
        """Write finished chains (and the conditions they ran under) back into their slots."""
        self.x[slots] = self._encode(x.detach().cpu())
        if cond is not None:
            self.c[slots] = cond.detach().cpu().to(self.c.dtype)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"x": self.x.clone(), "y": self.c.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if tuple(state["x"].shape) != (self.capacity, *self.shape):
            raise ValueError(f"buffer shape {tuple(state['x'].shape)} does not match "
                             f"capacity {self.capacity} x {self.shape}")
        if tuple(state["y"].shape) != tuple(self.c.shape):
            raise ValueError(f"buffer conditions of shape {tuple(state['y'].shape)} do not match {tuple(self.c.shape)}")
        self.x, self.c = state["x"].clone(), state["y"].clone().to(self.c.dtype)


LABEL_POLICIES = ("keep", "fresh", "mix:P")


def parse_label_policy(policy: str) -> float:
    """The share of chains that take a new condition: keep = 0, fresh = 1, mix:P = P."""
    if policy == "keep":
        return 0.0
    if policy == "fresh":
        return 1.0
    if policy.startswith("mix:"):
        try:
            share = float(policy[4:])
        except ValueError:
            share = float("nan")
        if 0.0 <= share <= 1.0:
            return share
    raise ValueError(f"label policy {policy!r}: choose keep, fresh or mix:P with P in [0, 1]")


def relabel(c_chains: torch.Tensor, c_data: torch.Tensor, policy: str, generator: torch.Generator) -> torch.Tensor:
    """Conditions for replayed chains under `policy`: their own (keep), the data batch's (fresh), or a mix.

    `fresh` takes the data batch's conditions, as the released code does, rather than uniform
    draws: each negative is then paired with a positive of the same condition, so the loss
    compares E(x+, y) with E(x-, y) under the data's own label frequencies, and a chain that
    ran under another label is pushed up at the new one (morphing during training).
    """
    share = parse_label_policy(policy)
    if share == 0.0:
        return c_chains
    if share == 1.0:
        return c_data.clone()
    switch = torch.rand(len(c_chains), generator=generator) < share
    out = c_chains.clone()
    out[switch] = c_data[switch].to(out.dtype)
    return out
