"""Replay buffer of negative samples for persistent contrastive divergence.

Each chain starts from a stored sample, or, with probability `reinit_prob`
(IGEBM: 5%), from fresh noise. Samples are written back to the slots they came
from (JEM, ebmkit), so a slot is a long-running chain. Labels are stored with
the samples so that a conditional chain keeps its class; a re-initialised slot
draws a new random label. Optional uint8 storage (as in IGEBM) adds uniform
dequantisation noise on read.
"""

from __future__ import annotations

from typing import Callable

import torch

NoiseFn = Callable[[int, torch.Generator], torch.Tensor]


class ReplayBuffer:
    def __init__(self, capacity: int, shape: tuple[int, ...], noise_fn: NoiseFn, *,
                 num_classes: int = 0, reinit_prob: float = 0.05, store_uint8: bool = False,
                 generator: torch.Generator | None = None):
        self.capacity, self.shape = capacity, tuple(shape)
        self.noise_fn, self.num_classes = noise_fn, num_classes
        self.reinit_prob, self.store_uint8 = reinit_prob, store_uint8
        g = generator or torch.Generator().manual_seed(0)
        self.x = self._encode(noise_fn(capacity, g))
        self.y = self._random_labels(capacity, g)

    def _random_labels(self, n: int, g: torch.Generator) -> torch.Tensor:
        if not self.num_classes:
            return torch.zeros(n, dtype=torch.long)
        return torch.randint(0, self.num_classes, (n,), generator=g)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.store_uint8:
            return (x.clamp(0, 1) * 255).round().to(torch.uint8)
        return x.detach().float().cpu().clone()

    def _decode(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.store_uint8:
            return (x.float() + torch.rand(x.shape, generator=g)) / 256.0
        return x.clone()

    def sample(self, n: int, generator: torch.Generator):
        """Return (x, y, slots, fresh) for `n` chains; `fresh` marks re-initialised ones."""
        slots = torch.randint(0, self.capacity, (n,), generator=generator)
        x = self._decode(self.x[slots], generator)
        y = self.y[slots].clone()
        fresh = torch.rand(n, generator=generator) < self.reinit_prob
        k = int(fresh.sum())
        if k:
            x[fresh] = self.noise_fn(k, generator)
            y[fresh] = self._random_labels(k, generator)
        return x, y, slots, fresh

    def update(self, slots: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
        """Write finished chains back into the slots they came from."""
        self.x[slots] = self._encode(x.detach().cpu())
        self.y[slots] = y.detach().cpu()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"x": self.x.clone(), "y": self.y.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if tuple(state["x"].shape) != (self.capacity, *self.shape):
            raise ValueError(f"buffer shape {tuple(state['x'].shape)} does not match "
                             f"capacity {self.capacity} x {self.shape}")
        self.x, self.y = state["x"].clone(), state["y"].clone().long()
