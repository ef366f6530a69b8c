"""OOD scores by energy, on the raw input with no Langevin steps; higher = more in-distribution.

The paper's score (`energy`): -E(x) for an unconditional model, -min_y E(x, y)
for a conditional one. Conditional runs also offer `logsumexp`
(log sum_y exp(-E(x, y)), the marginal's unnormalised log-density, as JEM) and
`mean-energy` (-mean_y E(x, y)).
"""

from __future__ import annotations

import numpy as np
import torch

from igebm.errors import UserError
from igebm.models import energies_per_class
from igebm.training.run import TrainedRun

SCORES = ("energy", "min-energy", "logsumexp", "mean-energy")


_REDUCE = {"min-energy": lambda e: -e.min(1).values, "logsumexp": lambda e: torch.logsumexp(-e, 1),
           "mean-energy": lambda e: -e.mean(1)}


def resolve_score(run: TrainedRun, score: str) -> str:
    """`energy` (or `auto`) is the paper's score: -E(x), or -min_y E(x, y) for a conditional run."""
    if score in ("auto", "energy"):
        return "min-energy" if run.labelled else "energy"
    if score not in SCORES:
        raise UserError(f"unknown --score '{score}' (choose {', '.join(SCORES)})")
    if not run.labelled:
        raise UserError(f"--score {score} reduces over class labels and needs a conditional run; use --score energy")
    return score


@torch.no_grad()
def energy_score(run: TrainedRun, x: np.ndarray, score: str = "energy", batch: int = 500) -> np.ndarray:
    """Higher = more in-distribution; on the raw input, no Langevin steps."""
    score = resolve_score(run, score)
    out = []
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch]))
        if score == "energy":
            out.append(-run.energy(xb, None))
            continue
        e = energies_per_class(run.energy, xb, run.num_classes)
        out.append(_REDUCE[score](e))
    return torch.cat(out).numpy()
