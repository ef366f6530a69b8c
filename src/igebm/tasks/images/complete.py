"""Completion (inpainting): fill in hidden pixels by Langevin dynamics on the energy.

As in the paper: the hidden region starts from noise and only it moves (the
sampler's mask), for several rounds of K steps; the visible pixels condition
the chain through the energy. S independent chains per input give S
different, plausible completions.
"""

from __future__ import annotations

import numpy as np
import torch

from igebm.tasks.images.chain import Chain, refine
from igebm.training.run import TrainedRun

DEFAULT_CHAIN = Chain(rounds=3)  # the paper uses 10 rounds of K; 3 x 20 is enough on the digits (see docs)


def complete(run: TrainedRun, x: np.ndarray, mask: np.ndarray, y: torch.Tensor | None, samples: int = 4,
             chain: Chain = DEFAULT_CHAIN, seed: int = 0) -> np.ndarray:
    """Completions (N, S, C, H, W) of images x; `mask` (broadcastable to x) is True where hidden."""
    n = len(x)
    xs = torch.from_numpy(np.repeat(x, samples, axis=0))
    m = torch.from_numpy(np.broadcast_to(mask, x.shape).copy()).repeat_interleave(samples, 0)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.where(m, run.noise(len(xs), g), xs)  # hidden pixels start from noise
    ys = None if y is None else y.repeat_interleave(samples)
    out = refine(run, x0, ys, chain, mask=m, generator=g)
    return out.numpy().reshape(n, samples, *x.shape[1:])
