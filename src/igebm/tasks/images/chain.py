"""The one operation behind the image tasks: a Langevin chain on the trained energy.

Completion, restoration and morphing differ only in where the chain starts,
which pixels it may move (a mask) and which label it is conditioned on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from igebm.errors import UserError
from igebm.models import energies_per_class
from igebm.sampling import Sampler
from igebm.tasks.images.inputs import ImageInputs
from igebm.training.run import TrainedRun

@torch.no_grad()
def min_energy_labels(run: TrainedRun, x: torch.Tensor | np.ndarray, batch: int = 512) -> torch.Tensor:
    """argmin_y E(x, y): the class the energy finds most likely (the EBM as a classifier)."""
    return energies_per_class(run.energy, torch.as_tensor(x), run.num_classes, batch).argmin(1)


def condition_labels(run: TrainedRun, inputs: ImageInputs, seen: np.ndarray,
                     mode: str | None) -> tuple[torch.Tensor | None, str | None]:
    """Labels to condition on and how they were chosen ('given' / 'inferred'); see LABELS_HELP.

    `seen` is what the model may look at when inferring: the visible pixels (hidden ones filled
    with the mean training image) for completion, the corrupted image for restoration.
    Unconditional runs get (None, None).
    """
    if not run.labelled:
        return None, None
    mode = mode or ("given" if inputs.labels is not None else "infer")
    if mode == "given":
        if inputs.labels is None:
            raise UserError("--labels given needs labels in the input (npz 'labels' or a labelled split); "
                            "use --labels infer")
        return torch.from_numpy(inputs.labels), "given"
    return min_energy_labels(run, seen), "inferred"


@dataclass
class Chain:
    """Task-level Langevin knobs: `rounds` x `steps` steps; None = the run's own sampler setting."""

    rounds: int = 1
    steps: int | None = None
    step_size: float | None = None
    noise_std: float | None = None
    temperature: float | None = None

    def sampler(self, run: TrainedRun) -> Sampler:
        changes = {k: v for k, v in (("step_size", self.step_size), ("noise_std", self.noise_std),
                                     ("temperature", self.temperature)) if v is not None and hasattr(run.sampler, k)}
        return dataclasses.replace(run.sampler, **changes)

    def total_steps(self, run: TrainedRun) -> int:
        return self.rounds * (self.steps or run.sampler.steps)

    def describe(self, run: TrainedRun) -> dict:
        s = self.sampler(run)
        return {"rounds": self.rounds, "steps_per_round": self.steps or run.sampler.steps, "sampler": s.kind,
                "step_size": getattr(s, "step_size", None), "noise_std": getattr(s, "noise_std", None),
                "temperature": s.temperature}


def refine(run: TrainedRun, x0: torch.Tensor, y: torch.Tensor | None, chain: Chain, *,
           mask: torch.Tensor | None = None, seed: int = 0, generator: torch.Generator | None = None,
           batch: int = 1000) -> torch.Tensor:
    """Run `chain` from x0, in batches; with `mask`, only its True entries move.

    Pass a `generator` to continue one chain across calls (morph frames); else `seed` makes one.
    """
    sampler = chain.sampler(run)
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    finals = []
    for start in range(0, len(x0), batch):
        x = x0[start:start + batch]
        yb = None if y is None else y[start:start + batch]
        mb = None if mask is None else mask[start:start + batch]
        for _ in range(chain.rounds):
            x = sampler.sample(run.energy, x, yb, mask=mb, steps=chain.steps, generator=g).x
        finals.append(x)
    return torch.cat(finals)
