"""PGD attacks (random start, L-inf or L2) and accuracy under attack.

Against the energy classifier in two modes:
- `paper`: the gradient of the un-refined classifier, as the released code does;
- `adaptive`: through the refinement, by BPDA (straight-through: the refined
  input's Jacobian taken as the identity) and EOT (averaged over the
  refinement's noise). The stronger, honest evaluation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from igebm.tasks.generalisation.classify import EnergyClassifier, project_l2
from igebm.training.run import TrainedRun

def pgd(grad_fn, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "linf", steps: int = 20,
        step_size: float | None = None, restarts: int = 1, predict=None, seed: int = 0) -> torch.Tensor:
    """Untargeted PGD with a random start; returns the adversarial inputs.

    `grad_fn(x_adv, y)` returns (loss per example, d loss / d x_adv). With
    restarts > 1, an example keeps the first restart that fools `predict`.
    """
    if eps <= 0:
        return x.clone()
    g = torch.Generator().manual_seed(seed)
    alpha = step_size or 2.5 * eps / steps
    best = x.clone()
    fooled = torch.zeros(len(x), dtype=torch.bool)
    for _ in range(restarts):
        if norm == "linf":
            delta = (torch.rand(x.shape, generator=g) * 2 - 1) * eps
        else:
            d = torch.randn(x.shape, generator=g)
            r = torch.rand(len(x), generator=g).view(-1, *[1] * (x.dim() - 1))
            delta = d / d.flatten(1).norm(dim=1).view_as(r) * eps * r
        x_adv = (x + delta).clamp(0, 1)
        for _ in range(steps):
            _, grad = grad_fn(x_adv, y)
            if norm == "linf":
                x_adv = x_adv + alpha * grad.sign()
                x_adv = torch.min(torch.max(x_adv, x - eps), x + eps)
            else:
                gn = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (x.dim() - 1))
                x_adv = x + project_l2(x_adv + alpha * grad / gn - x, eps)
            x_adv = x_adv.clamp(0, 1).detach()
        if predict is None:
            return x_adv
        now = predict(x_adv) != y
        take = now & ~fooled
        best[take] = x_adv[take]
        fooled |= now
        best[~fooled] = x_adv[~fooled]
    return best


def classifier_grad_fn(model):
    def fn(x, y):
        x = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), y, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), x)
        return loss.detach(), grad
    return fn


def energy_grad_fn(clf: EnergyClassifier, mode: str, eot: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)

    def fn(x, y):
        x = x.clone().requires_grad_(True)
        if mode == "paper":
            loss = F.cross_entropy(clf.logits(x), y, reduction="none")
            (grad,) = torch.autograd.grad(loss.sum(), x)
            return loss.detach(), grad
        total = torch.zeros_like(x)
        for _ in range(eot):  # expectation over the refinement noise
            loss = F.cross_entropy(clf.refined_logits(x, g, straight_through=True), y, reduction="none")
            (grad,) = torch.autograd.grad(loss.sum(), x)
            total += grad
        return loss.detach(), total / eot
    return fn


def accuracy_under_attack(predict, grad_fn, x, y, eps_list, norm, steps, restarts, seed=0) -> dict[str, float]:
    out = {}
    for eps in eps_list:
        x_adv = pgd(grad_fn, x, y, eps, norm, steps, restarts=restarts, predict=predict, seed=seed)
        out[f"{eps:g}"] = float((predict(x_adv) == y).float().mean())
    return out


def evaluate_robustness(run: TrainedRun, norm: str, eps_list: list[float], pgd_steps: int = 20, restarts: int = 1,
                        refine_steps: int = 10, attacks=("paper", "adaptive"), num: int = 200, seed: int = 0,
                        baselines: dict | None = None, eot: int = 2) -> dict:
    test = run.dataset("test")
    x, y = torch.from_numpy(test.x[:num]), torch.from_numpy(test.y[:num])
    results: dict[str, dict[str, float]] = {}
    for attack in attacks:
        accs = {}
        for eps in eps_list:
            clf = EnergyClassifier(run, refine_steps, eps, norm)
            predict = lambda z: clf.predict(z, seed)  # noqa: E731
            x_adv = pgd(energy_grad_fn(clf, attack, eot, seed), x, y, eps, norm, pgd_steps, restarts=restarts,
                        predict=predict if restarts > 1 else None, seed=seed)
            accs[f"{eps:g}"] = float((predict(x_adv) == y).float().mean())
        results[f"ebm ({attack} attack)"] = accs
    for name, model in (baselines or {}).items():
        predict = lambda z, m=model: m(z).detach().argmax(1)  # noqa: E731
        results[name] = accuracy_under_attack(predict, classifier_grad_fn(model), x, y, eps_list, norm,
                                              pgd_steps, restarts, seed)
    return {"norm": norm, "num": int(num), "pgd_steps": pgd_steps, "restarts": restarts,
            "refine_steps": refine_steps, "accuracy": results}
