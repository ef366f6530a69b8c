"""Classification by lowest energy, and its robustness to PGD attacks.

`EnergyClassifier` predicts argmin_y E(x, y), optionally after N Langevin
refinement steps kept inside the epsilon ball around the input (the paper:
10 steps in an L-inf ball of 8/255). Each class hypothesis y refines its own
copy of x under E(., y). Under attack the ball is the attack's own epsilon, so
at epsilon 0 the classifier is the plain argmin.

PGD (random start, L-inf or L2) attacks it in two modes:
- `paper`: the gradient of the un-refined classifier, as the released code does;
- `adaptive`: through the refinement, by BPDA (straight-through: the refined
  input's Jacobian taken as the identity) and EOT (averaged over the
  refinement's noise). The stronger, honest evaluation.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from igebm.errors import UserError
from igebm.training.run import TrainedRun, load_run


class EnergyClassifier:
    def __init__(self, run: TrainedRun, refine_steps: int = 10, eps: float = 0.0, norm: str = "linf"):
        if not run.conditional:
            raise UserError("classification by energy needs a class-conditional run (model.conditional = true)")
        self.run, self.k = run, run.num_classes
        self.refine_steps, self.eps, self.norm = refine_steps, eps, norm

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """-E(x, y) for every y: differentiable with respect to x."""
        n = len(x)
        xs = x.repeat(self.k, 1, 1, 1)
        ys = torch.arange(self.k).repeat_interleave(n)
        return -self.run.energy(xs, ys).view(self.k, n).t()

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


def parse_eps(text: str) -> list[float]:
    try:
        eps = [float(e) for e in text.split(",") if e.strip()]
    except ValueError:
        raise UserError(f"--eps '{text}' is not a comma-separated list of numbers, e.g. 0,0.05,0.1,0.2") from None
    if not eps or min(eps) < 0:
        raise UserError(f"--eps '{text}' needs non-negative numbers")
    return eps


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


BASELINE_KINDS = ("standard", "pgd-adversarial")


def baseline_path(run_dir: Path, kind: str) -> Path:
    return Path(run_dir) / "baselines" / f"classifier_{kind}.safetensors"


def baseline_meta(run_dir: Path, kind: str) -> dict | None:
    """The JSON sidecar of a trained baseline (epochs, test accuracy, ...), or None."""
    path = baseline_path(run_dir, kind).with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def load_baselines(run_dir: Path) -> dict:
    from igebm.tasks.baselines import load_classifier
    found = {}
    for kind in BASELINE_KINDS:
        path = baseline_path(run_dir, kind)
        if path.is_file():
            found[f"{kind} classifier"] = load_classifier(path)
    return found


def train_baseline(run: TrainedRun, kind: str, epochs: int = 15, adv_eps: float = 0.1, seed: int = 0,
                   adv_steps: int = 7) -> Path:
    from igebm.tasks.baselines import ResNetClassifier, save_module, train_classifier
    train = run.dataset("train")
    cfg = run.cfg.model
    torch.manual_seed(seed)
    model = ResNetClassifier(train.shape[0], cfg.arch, cfg.channels, train.num_classes)
    attack = None
    if kind == "pgd-adversarial":
        attack = lambda m, xb, yb: pgd(classifier_grad_fn(m), xb, yb, adv_eps, "linf", adv_steps, seed=seed)  # noqa: E731
    train_classifier(model, train.x, train.y, epochs, attack=attack, seed=seed)
    test = run.dataset("test")
    with torch.no_grad():
        acc = float((model(torch.from_numpy(test.x)).argmax(1).numpy() == test.y).mean())
    path = baseline_path(run.run_dir, kind)
    save_module(model, path, {"kind": kind, "in_channels": train.shape[0], "arch": cfg.arch, "channels": cfg.channels,
                              "num_classes": train.num_classes, "epochs": epochs, "adv_eps_linf": adv_eps,
                              "adv_steps": adv_steps if kind == "pgd-adversarial" else 0, "test_accuracy": acc})
    return path


def cmd_classify(args) -> None:
    run = load_run(args.run_dir)
    clf = EnergyClassifier(run, args.refine_steps, args.eps, "linf")
    test = run.dataset(args.split)
    x = torch.from_numpy(test.x[: args.num] if args.num else test.x)
    y = test.y[: len(x)]
    pred = clf.predict(x, args.seed).numpy()
    acc = float((pred == y).mean())
    print(f"clean accuracy of argmin_y E(x, y) on {len(x)} {args.split} images "
          f"({args.refine_steps} refinement steps): {acc:.3f}")


def cmd_robustness(args) -> None:
    from igebm.report.figures import plot_lines
    eps = parse_eps(args.eps)
    run = load_run(args.run_dir)
    EnergyClassifier(run)  # fails early for unconditional runs
    attacks = ("paper", "adaptive") if args.attack == "both" else (args.attack,)
    if args.eot < 1:
        raise UserError(f"--eot must be at least 1, got {args.eot}")
    res = evaluate_robustness(run, args.norm, eps, args.pgd_steps, args.restarts, args.refine_steps, attacks,
                              args.num, args.seed, load_baselines(run.run_dir), args.eot)
    out = Path(args.out or Path(args.run_dir) / "robustness")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"robustness_{args.norm}.json"
    path.write_text(json.dumps(res, indent=2))
    merged_path = out / "robustness.json"  # every norm run so far into this folder, keyed by norm
    try:
        merged = json.loads(merged_path.read_text())
    except (OSError, ValueError):
        merged = {}
    merged[args.norm] = res
    merged_path.write_text(json.dumps(merged, indent=2))
    series = {name: [accs[f"{e:g}"] for e in eps] for name, accs in res["accuracy"].items()}
    plot_lines(eps, series, out / f"robustness_{args.norm}.png", f"epsilon ({args.norm})", "accuracy",
               f"Accuracy under PGD ({args.norm})")
    print(f"{'model':<32}" + "".join(f"{e:>8g}" for e in eps))
    for name, accs in series.items():
        print(f"{name:<32}" + "".join(f"{a:>8.3f}" for a in accs))
    print(f"wrote {merged_path} ({args.norm} under key '{args.norm}'), {path} and {out}/robustness_{args.norm}.png")


def cmd_baseline(args) -> None:
    run = load_run(args.run_dir)
    if not run.num_classes:
        raise UserError("baselines are classifiers: the run's dataset needs labels")
    if args.epochs < 1 or args.adv_steps < 1:
        raise UserError("--epochs and --adv-steps must be at least 1")
    path = train_baseline(run, args.kind, args.epochs, args.adv_eps, args.seed, args.adv_steps)
    meta = json.loads(path.with_suffix(".json").read_text())
    print(f"trained {args.kind} classifier: test accuracy {meta['test_accuracy']:.3f}; saved {path}")


def register(sub) -> None:
    c = sub.add_parser("classify", help="classify by lowest energy, argmin_y E(x, y)",
                       description="Predict argmin_y E(x, y) after optional Langevin refinement of x.")
    c.add_argument("run_dir")
    c.add_argument("--refine-steps", type=int, default=10, help="Langevin refinement steps (default 10, as in the paper)")
    c.add_argument("--eps", type=float, default=8 / 255, help="L-inf ball the refinement stays in (default 8/255)")
    c.add_argument("--split", choices=["train", "test"], default="test")
    c.add_argument("--num", type=int, help="use only the first NUM images")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=cmd_classify)

    r = sub.add_parser("robustness", help="accuracy under PGD attacks, per epsilon",
                       description="PGD with a random start against the energy classifier and any trained "
                                   "baselines (see `igebm baseline train`).")
    r.add_argument("run_dir")
    r.add_argument("--norm", choices=["linf", "l2"], default="linf")
    r.add_argument("--eps", default="0,0.05,0.1,0.2,0.3", help="comma-separated budgets (default 0,0.05,0.1,0.2,0.3)")
    r.add_argument("--pgd-steps", type=int, default=20,
                   help="PGD iterations per restart (default 20; step 2.5 eps / steps)")
    r.add_argument("--restarts", type=int, default=1,
                   help="random restarts; an image counts as broken if any restart fools the classifier (default 1)")
    r.add_argument("--refine-steps", type=int, default=10,
                   help="Langevin refinement steps of the energy classifier, inside the attack's ball (default 10)")
    r.add_argument("--eot", type=int, default=2,
                   help="adaptive attack: refinement-noise samples averaged per gradient (default 2)")
    r.add_argument("--attack", choices=["paper", "adaptive", "both"], default="both",
                   help="paper: gradient without refinement (as released); adaptive: BPDA + EOT through it")
    r.add_argument("--num", type=int, default=200, help="test images to attack (default 200)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", help="output folder (default RUN_DIR/robustness)")
    r.set_defaults(func=cmd_robustness)

    b = sub.add_parser("baseline", help="train baseline classifiers for comparison")
    bsub = b.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    t = bsub.add_parser("train", help="train a standard or PGD-adversarial classifier of the EBM's size")
    t.add_argument("run_dir")
    t.add_argument("--kind", choices=["standard", "pgd-adversarial"], required=True)
    t.add_argument("--epochs", type=int, default=15, help="passes over the training split (default 15)")
    t.add_argument("--adv-eps", type=float, default=0.1, help="L-inf budget of adversarial training (default 0.1)")
    t.add_argument("--adv-steps", type=int, default=7, help="PGD steps per batch of adversarial training (default 7)")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=cmd_baseline)
