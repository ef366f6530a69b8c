"""OOD detection and robust classification on trained runs, against the issue's targets.

Usage: python benchmarks/generalisation.py RUN_DIR [RUN_DIR ...] [--num 100] [--pgd-steps 10] [--skip-robustness]
       [--restarts 1] [--ood-seeds 0,1,2] [--json OUT.json]
OOD: one AUROC table with a row per EBM run (its paper score: -E(x), or -min_y E(x, y) when
conditional) and the baselines (Gaussian mixture, MADE, max-softmax of a standard classifier),
fitted once on the first run's training split, on every generated OOD set. With several
--ood-seeds, the sets and the baselines are drawn again per seed and the averages are summarised
as mean and spread. The runs must share a dataset (the digits split is fixed).
Then, for each conditional run: clean accuracy of argmin_y E(x, y) and accuracy under PGD (L-inf
and L2) for the energy classifier (paper and adaptive attacks) and for a standard and a PGD-trained
classifier of matched size.
"""

import argparse
import json
import time

import numpy as np
import torch

from igebm.evaluation.baselines.classifiers import ensure_baselines
from igebm.report.sections.generalisation import WEAK_CLASSIFIER
from igebm.evaluation.ood import auroc_rows, evaluate_ood
from igebm.data.ood_sets import GENERATED
from igebm.evaluation.attacks import evaluate_robustness
from igebm.tasks.generalisation.classify import EnergyClassifier
from igebm.training import load_run

p = argparse.ArgumentParser()
p.add_argument("run_dirs", nargs="+")
p.add_argument("--num", type=int, default=100, help="test images attacked")
p.add_argument("--pgd-steps", type=int, default=10)
p.add_argument("--eot", type=int, default=1, help="refinement-noise samples per adaptive gradient")
p.add_argument("--restarts", type=int, default=1, help="PGD random restarts (best of, per image)")
p.add_argument("--skip-robustness", action="store_true")
p.add_argument("--gmm-sweep", action="store_true",
               help="also fit Gaussian mixtures of 5-160 full or diagonal components on the training split: "
                    "validation log-likelihood and average AUROC of each, to see how tuning moves the baseline")
p.add_argument("--ood-seeds", default="0", help="comma-separated seeds of the OOD sets and baselines (default 0)")
p.add_argument("--json", help="also write the full results here")
args = p.parse_args()

def check_attack(run, model, eps_list=(0.05, 0.1, 0.2), steps=10):
    """Our PGD against torchattacks' PGD on the standard classifier (same eps, steps, step size)."""
    from igebm.evaluation.attacks import classifier_grad_fn, pgd
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


def print_table(title, rows):
    cols = list(rows[0])[1:]
    print(f"\n## {title}")
    print("| model | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for r in rows:
        print(f"| {r['model']} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + " |", flush=True)


def ood_tables(runs, seeds):
    """{seed: {model: {set: metrics}}}: every EBM run, then the baselines fitted on the first run's data."""
    from igebm.evaluation.baselines.density import GaussianMixtureDensity, train_made
    train = runs[0].dataset("train")
    start = time.perf_counter()
    GaussianMixtureDensity(10, 0).fit(train.x)
    fit_seconds = {"gaussian_mixture": time.perf_counter() - start}
    start = time.perf_counter()
    train_made(train.x, train.levels, epochs=60, seed=0)
    fit_seconds["made"] = time.perf_counter() - start
    print("likelihood baselines fitted in: " + ", ".join(f"{k} {v:.1f}s" for k, v in fit_seconds.items()))
    tables = {}
    for seed in seeds:
        table = {}
        for i, run in enumerate(runs):
            t, _ = evaluate_ood(run, list(GENERATED), baselines=(i == 0), seed=seed)
            for model, row in t.items():
                table[f"{model} {run.run_dir}" if model.startswith("EBM") else model] = row
        ebm = {k: v for k, v in table.items() if k.startswith("EBM")}
        tables[seed] = {**ebm, **{k: v for k, v in table.items() if not k.startswith("EBM")}}
        print_table(f"OOD AUROC, sets and baselines drawn with seed {seed} (in-distribution: test split)",
                    auroc_rows(tables[seed]))
    if len(seeds) > 1:
        print(f"\n## average AUROC over seeds {seeds}: mean (min-max)")
        for model in tables[seeds[0]]:
            avgs = np.array([tables[s][model]["average"]["auroc"] for s in seeds])
            print(f"| {model} | {avgs.mean():.4f} ({avgs.min():.3f}-{avgs.max():.3f}) |")
    return tables, fit_seconds


def gmm_sweep(run, seed=0):
    """Validation log-likelihood picks a mixture without looking at OOD data; AUROC shows what it buys."""
    from igebm.evaluation.ood_metrics import ood_metrics
    from igebm.evaluation.baselines.density import GaussianMixtureDensity
    from igebm.data.ood_sets import make_ood_set
    train, held_out, x_in = run.dataset("train").x, run.dataset("val").x, run.dataset("test").x
    sets = [make_ood_set(name, x_in, seed=seed) for name in GENERATED]
    rows = []
    for covariance in ("full", "diag"):
        for k in (5, 10, 20, 40, 80, 160):
            gmm = GaussianMixtureDensity(k, seed, covariance).fit(train)
            val = float(gmm.log_prob(held_out).mean())
            s_in = gmm.log_prob(x_in)
            auroc = float(np.mean([ood_metrics(s_in, gmm.log_prob(x))["auroc"] for x in sets]))
            rows.append({"model": f"{k} {covariance}", "validation log-lik": val, "average AUROC": auroc})
    best = max(rows, key=lambda r: r["validation log-lik"])
    print_table(f"Gaussian mixtures (seed {seed}), fitted on train; best validation log-likelihood: {best['model']}",
                rows)
    return rows


EPS = {"linf": [0.0, 0.05, 0.1, 0.2, 0.3], "l2": [0.0, 0.5, 1.0, 2.0]}
runs = [load_run(d) for d in args.run_dirs]
seeds = [int(s) for s in args.ood_seeds.split(",")]
tables, fit_seconds = ood_tables(runs, seeds)
out = {"ood": {str(s): t for s, t in tables.items()}, "fit_seconds": fit_seconds}
if args.gmm_sweep:
    out["gmm_sweep"] = gmm_sweep(runs[0])
for run in runs:
    run_dir = str(run.run_dir)
    if not run.labelled:
        print(f"\n{run_dir} is unconditional: no classification or robustness numbers")
        continue
    baselines = ensure_baselines(run)
    x_test = torch.from_numpy(run.dataset("test").x)
    clean = {name: float((EnergyClassifier(run, steps, 8 / 255).predict(x_test).numpy() == run.dataset("test").y).mean())
             for name, steps in (("no refinement", 0), ("10 steps in an 8/255 ball", 10))}
    print(f"\nclean accuracy of argmin_y E(x, y) on the full test split: {clean}")
    out[run_dir] = {"clean_accuracy": clean}
    out[run_dir]["attack_check"] = check_attack(run, baselines["standard classifier"])
    if args.skip_robustness:
        continue
    if clean["no refinement"] < WEAK_CLASSIFIER:
        print(f"{run_dir} classifies near chance: not attacked (train with train.ce_alpha > 0 to classify)")
        continue
    for norm, eps in EPS.items():
        res = evaluate_robustness(run, norm, eps, args.pgd_steps, args.restarts, 10, ("paper", "adaptive"), args.num,
                                  0, baselines, args.eot)
        print_table(f"{run_dir}: accuracy under PGD ({norm}, {args.pgd_steps} steps, {args.restarts} restart(s), "
                    f"{args.num} test images)",
                    [{"model": name, **{f"eps {e:g}": accs[f"{e:g}"] for e in eps}} for name, accs in res["accuracy"].items()])
        out[run_dir][f"robustness_{norm}"] = res
if args.json:
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)
    print(f"wrote {args.json}")
