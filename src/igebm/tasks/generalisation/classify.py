"""Classification by lowest energy: argmin_y E(x, y), optionally after refinement.

`EnergyClassifier` predicts argmin_y E(x, y), optionally after N Langevin
refinement steps kept inside the epsilon ball around the input (the paper:
10 steps in an L-inf ball of 8/255). Each class hypothesis y refines its own
copy of x under E(., y). Under attack the ball is the attack's own epsilon, so
at epsilon 0 the classifier is the plain argmin.
"""

from __future__ import annotations

import torch

from igebm.errors import UserError
from igebm.models import energies_per_class
from igebm.training.run import TrainedRun

class EnergyClassifier:
    def __init__(self, run: TrainedRun, refine_steps: int = 10, eps: float = 0.0, norm: str = "linf"):
        if not run.labelled:
            raise UserError("classification by energy needs a class-conditional run (model.conditional = true, "
                            "on a labelled dataset)")
        self.run, self.k = run, run.num_classes
        self.refine_steps, self.eps, self.norm = refine_steps, eps, norm

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """-E(x, y) for every y: differentiable with respect to x."""
        return -energies_per_class(self.run.energy, x, self.k)

    def refined_logits(self, x: torch.Tensor, generator: torch.Generator | None = None,
                       straight_through: bool = False) -> torch.Tensor:
        """Logits after refinement; with straight_through, gradients pass to x as if refinement were identity."""
        if self.refine_steps <= 0 or self.eps <= 0:  # a ball of radius 0 leaves nothing to refine
            return self.logits(x)
        n = len(x)
        x0 = x.detach().repeat(self.k, 1, 1, 1)
        ys = torch.arange(self.k).repeat_interleave(n)
        box = None
        if self.norm == "linf":
            box = ((x0 - self.eps).clamp(0, 1), (x0 + self.eps).clamp(0, 1))
        xr = self.run.sampler.sample(self.run.energy, x0, ys, steps=self.refine_steps, generator=generator,
                                     clamp_box=box).x
        if self.norm == "l2":
            xr = x0 + project_l2(xr - x0, self.eps)
        if straight_through:
            xs = x.repeat(self.k, 1, 1, 1)
            xr = xs + (xr - xs).detach()
        return -self.run.energy(xr, ys).view(self.k, n).t()

    @torch.no_grad()
    def predict(self, x: torch.Tensor, seed: int = 0, batch: int = 200) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.cat([self.refined_logits(x[i:i + batch], g).argmax(1) for i in range(0, len(x), batch)])


def project_l2(delta: torch.Tensor, eps: float) -> torch.Tensor:
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    return delta * (eps / norms).clamp(max=1.0).view(-1, *[1] * (delta.dim() - 1))
