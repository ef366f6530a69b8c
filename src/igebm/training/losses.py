"""Contrastive-divergence loss with IGEBM's L2 regularisation of energies."""

from __future__ import annotations

import torch

from igebm.models.conditioning import energies_per_class


def cd_loss(e_pos: torch.Tensor, e_neg: torch.Tensor, l2_alpha: float = 1.0):
    """mean E(data) - mean E(samples) + alpha * mean(E(data)^2 + E(samples)^2).

    The negatives are detached inputs: no gradient flows through the chain.
    Returns (loss, stats) where stats are floats for logging.
    """
    cd = e_pos.mean() - e_neg.mean()
    reg = (e_pos.pow(2).mean() + e_neg.pow(2).mean())
    loss = cd + l2_alpha * reg
    stats = {"loss": loss.item(), "cd": cd.item(), "reg": reg.item(),
             "e_pos": e_pos.mean().item(), "e_neg": e_neg.mean().item(),
             "gap": (e_neg.mean() - e_pos.mean()).item()}
    return loss, stats


@torch.no_grad()
def clip_grads_igebm(optimizer: torch.optim.Adam) -> None:
    """Clip each gradient element to +-(3 sqrt(v_hat) + 0.1), v_hat Adam's second moment.

    This is the release's per-element clipping: a gradient may not exceed three
    running standard deviations (plus a floor), which tames CD's heavy tails.
    """
    for group in optimizer.param_groups:
        beta2 = group["betas"][1]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = optimizer.state.get(p)
            if not state or "exp_avg_sq" not in state:
                p.grad.clamp_(-0.1, 0.1)
                continue
            step = float(state["step"])
            v_hat = state["exp_avg_sq"] / (1.0 - beta2 ** step)
            bound = 3.0 * v_hat.sqrt() + 0.1
            torch.maximum(torch.minimum(p.grad, bound), -bound, out=p.grad)


def classification_loss(energy, x: torch.Tensor, y: torch.Tensor, num_classes: int, temperature: float = 1.0):
    """Cross-entropy of p(y | x) = softmax_y(-E(x, y) / T) on labelled data.

    Pure contrastive divergence learns p(x | y) up to a per-class constant and,
    on the digits, leaves energies that barely depend on the label for real
    images (min-energy accuracy near chance). This JEM-style term makes
    argmin_y E(x, y) a classifier; it is off (weight 0) in the paper's recipes.
    """
    logits = -energies_per_class(energy, x, num_classes) / temperature
    loss = torch.nn.functional.cross_entropy(logits, y)
    acc = (logits.argmax(1) == y).float().mean().item()
    return loss, {"ce": loss.item(), "train_acc": acc}


def gradient_penalty(model, x: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
    """mean_i |dE(x_i)/dx_i|^2 over data and samples, differentiable in the parameters (double backward)."""
    x = x.detach().requires_grad_(True)
    e = model(x) if cond is None else model(x, cond)
    (g,) = torch.autograd.grad(e.sum(), x, create_graph=True)
    gp = g.flatten(1).pow(2).sum(1).mean()
    return gp, {"gp": float(gp.detach())}
