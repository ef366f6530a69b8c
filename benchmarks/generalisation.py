"""OOD detection and robust classification on trained runs, against the issue's targets.

Usage: python benchmarks/generalisation.py RUN_DIR [RUN_DIR ...] [--num 100] [--pgd-steps 10] [--skip-robustness]
       [--restarts 1] [--json OUT.json]
For each run: the AUROC table (EBM, Gaussian mixture, MADE, max-softmax of a standard classifier)
on every generated OOD set; then accuracy under PGD (L-inf and L2) for the energy classifier
(paper and adaptive attacks) and for a standard and a PGD-trained classifier of matched size.
"""

import argparse
import json
import time

import torch

from igebm.tasks.generalisation_suite import ensure_baselines
from igebm.tasks.ood import auroc_rows, evaluate_ood
from igebm.tasks.ood_sets import GENERATED
from igebm.tasks.robustness import EnergyClassifier, evaluate_robustness
from igebm.training import load_run

p = argparse.ArgumentParser()
p.add_argument("run_dirs", nargs="+")
p.add_argument("--num", type=int, default=100, help="test images attacked")
p.add_argument("--pgd-steps", type=int, default=10)
p.add_argument("--eot", type=int, default=1, help="refinement-noise samples per adaptive gradient")
p.add_argument("--restarts", type=int, default=1, help="PGD random restarts (best of, per image)")
p.add_argument("--skip-robustness", action="store_true")
p.add_argument("--json", help="also write the full results here")
args = p.parse_args()

def check_attack(run, model, eps_list=(0.05, 0.1, 0.2), steps=10):
    """Our PGD against torchattacks' PGD on the standard classifier (same eps, steps, step size)."""
    from igebm.tasks.robustness import classifier_grad_fn, pgd
    try:
        import torchattacks
    except ImportError:
        print("torchattacks not installed: attack cross-check skipped (make bench installs it)")
        return None
    test = run.dataset("test")
    x, y = torch.from_numpy(test.x), torch.from_numpy(test.y)
    rows = {}
    for eps in eps_list:
        ours = pgd(classifier_grad_fn(model), x, y, eps, "linf", steps)
        ref = torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=True)(x, y)
        acc = lambda z: float((model(z).argmax(1) == y).float().mean())  # noqa: E731
        rows[f"{eps:g}"] = {"igebm": acc(ours), "torchattacks": acc(ref)}
    print("\nPGD cross-check on the standard classifier (L-inf, full test split): " +
          ", ".join(f"eps {e}: igebm {r['igebm']:.3f} / torchattacks {r['torchattacks']:.3f}" for e, r in rows.items()))
    return rows


EPS = {"linf": [0.0, 0.05, 0.1, 0.2, 0.3], "l2": [0.0, 0.5, 1.0, 2.0]}
out = {}
for run_dir in args.run_dirs:
    run = load_run(run_dir)
    baselines = ensure_baselines(run)
    from igebm.tasks.baselines import GaussianMixtureDensity, train_made
    train = run.dataset("train")
    start = time.perf_counter()
    GaussianMixtureDensity(10, 0).fit(train.x)
    fit_seconds = {"gaussian_mixture": time.perf_counter() - start}
    start = time.perf_counter()
    train_made(train.x, train.levels, epochs=60, seed=0)
    fit_seconds["made"] = time.perf_counter() - start
    print(f"likelihood baselines fitted in: " + ", ".join(f"{k} {v:.1f}s" for k, v in fit_seconds.items()))
    table, _ = evaluate_ood(run, list(GENERATED), seed=0)
    rows = auroc_rows(table)
    cols = list(rows[0])[1:]
    print(f"\n## {run_dir}: OOD AUROC (in-distribution: digits test split)")
    print("| model | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for r in rows:
        print(f"| {r['model']} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + " |")
    x_test = torch.from_numpy(run.dataset("test").x)
    clean = {name: float((EnergyClassifier(run, steps, 8 / 255).predict(x_test).numpy() == run.dataset("test").y).mean())
             for name, steps in (("no refinement", 0), ("10 steps in an 8/255 ball", 10))}
    print(f"\nclean accuracy of argmin_y E(x, y) on the full test split: {clean}")
    out[run_dir] = {"ood": table, "clean_accuracy": clean, "fit_seconds": fit_seconds}
    out[run_dir]["attack_check"] = check_attack(run, baselines["standard classifier"])
    if args.skip_robustness:
        continue
    for norm, eps in EPS.items():
        res = evaluate_robustness(run, norm, eps, args.pgd_steps, args.restarts, 10, ("paper", "adaptive"), args.num,
                                  0, baselines, args.eot)
        print(f"\n## {run_dir}: accuracy under PGD ({norm}, {args.pgd_steps} steps, {args.restarts} restart(s), "
              f"{args.num} test images)")
        print("| model | " + " | ".join(f"eps {e:g}" for e in eps) + " |\n|---|" + "---|" * len(eps))
        for name, accs in res["accuracy"].items():
            print(f"| {name} | " + " | ".join(f"{accs[f'{e:g}']:.3f}" for e in eps) + " |", flush=True)
        out[run_dir][f"robustness_{norm}"] = res
print(json.dumps(out))
if args.json:
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)
