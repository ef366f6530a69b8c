"""Cross-class morphing: a chain from an image of class A, conditioned on class B.

The chain walks from an A to a B, and its frames show how.
"""

from __future__ import annotations

import numpy as np
import torch

from igebm.tasks.images.chain import Chain, refine
from igebm.training.run import TrainedRun

DEFAULT_STEPS = 300


def morph(run: TrainedRun, x: np.ndarray, to_labels: np.ndarray, steps: int = DEFAULT_STEPS, frames: int = 8,
          chain: Chain = Chain(), seed: int = 0) -> np.ndarray:
    """Frames (F, N, C, H, W) at evenly spaced step counts 0..steps along one chain from x under `to_labels`."""
    marks = np.linspace(0, steps, max(frames, 2)).round().astype(int)  # at least the start and the end
    g = torch.Generator().manual_seed(seed)
    y = torch.from_numpy(np.asarray(to_labels, dtype=np.int64))
    x_t, out = torch.from_numpy(x), [x]
    for a, b in zip(marks[:-1], marks[1:]):
        if b > a:
            x_t = refine(run, x_t, y, Chain(1, int(b - a), chain.step_size, chain.noise_std, chain.temperature),
                         generator=g)
        out.append(x_t.numpy())
    return np.stack(out)
