"""Energy flow in 2-D: Langevin trajectories from a grid of starts (the seed's flow figure)."""

from __future__ import annotations

import numpy as np
import torch

from igebm.sampling import LangevinSampler, Sampler


def grid_starts(side: int = 8, box: float = 3.5) -> torch.Tensor:
    """side x side starting points evenly spread over [-box, box]^2."""
    t = torch.linspace(-box, box, side)
    gx, gy = torch.meshgrid(t, t, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)


def flow_sampler(step_size: float = 0.01, noise: bool = True, steps: int = 300) -> Sampler:
    """ULA in the plane, no clipping and no clamp; noise=False gives plain gradient descent."""
    return LangevinSampler(steps=steps, step_size=step_size, noise_std=0.0, grad_clip=0.0,
                           parameterization="ula" if noise else "igebm", clamp=None)


def flow_trajectories(energy, starts: torch.Tensor, steps: int = 300, step_size: float = 0.01,
                      seed: int = 0, record_every: int = 5, sampler: Sampler | None = None) -> np.ndarray:
    """(frames, M, 2): the particles every `record_every` steps of Langevin on `energy` from `starts`."""
    s = sampler or flow_sampler(step_size, True, steps)
    res = s.sample(energy, starts, None, steps=steps, generator=torch.Generator().manual_seed(seed),
                   record_every=record_every)
    return torch.stack(res.trace).numpy()
