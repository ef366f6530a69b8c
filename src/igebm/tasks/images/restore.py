"""Restoration: repair a corrupted image by Langevin dynamics that start at it.

As in the paper's salt-and-pepper experiment: the chain starts from the damaged
image and every pixel may move, pulled toward low energy.
"""

from __future__ import annotations

import numpy as np
import torch

from igebm.tasks.images.chain import Chain, refine
from igebm.training.run import TrainedRun

DEFAULT_CHAIN = Chain(rounds=1)  # K = the run's sampler.steps; longer chains drift from the input (docs/RESULTS.md)


def restore(run: TrainedRun, corrupted: np.ndarray, y: torch.Tensor | None, chain: Chain = DEFAULT_CHAIN,
            seed: int = 0) -> np.ndarray:
    """Restored images: the chain starts at the corrupted image and every pixel moves."""
    return refine(run, torch.from_numpy(corrupted), y, chain, seed=seed).numpy()
