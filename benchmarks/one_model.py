"""One energy for every task: what each conditional digits run can do, measured alike (issue 10).

Usage: python benchmarks/one_model.py RUN_DIR [RUN_DIR ...] [--attack-num 100] [--restarts 3]
       [--ood-seeds 0,1,2] [--skip-robustness] [--json OUT.json]

For each run, on the test split (choices made on validation):
- samples: judge accuracy and Fréchet ratio at the step count the validation curve picks
  (evaluation.generation.pick_headline), and at 200 steps;
- clean accuracy of argmin_y E(x, y), with no refinement and after 10 steps in an 8/255 ball;
- OOD average AUROC over the generated sets with both label-free scores, -min_y E(x, y) and
  logsumexp_y -E(x, y), against a Gaussian mixture sized on the validation split and MADE;
- accuracy under the adaptive attack (BPDA + EOT, 3 restarts) at L-inf 0.05, 0.1, 0.2 and
  L2 0.5, 1.0, against a standard and a PGD-trained classifier of the same body;
- completion with inferred labels (mean of S) against the label-free nearest-neighbour and
  conditional-Gaussian baselines.
Prints a markdown table per run, then one JSON line.
"""

import argparse
import json
import time

import numpy as np
import torch

from igebm.data.ood_sets import GENERATED, make_ood_set
from igebm.evaluation.attacks import evaluate_robustness
from igebm.evaluation.baselines.classifiers import ensure_baselines
from igebm.evaluation.baselines.density import GaussianMixtureDensity
from igebm.evaluation.generation import pick_headline, steps_curve
from igebm.evaluation.images import MASKS, SuiteSettings, evaluate_completion
from igebm.evaluation.judge import run_judge
from igebm.evaluation.ood import baseline_scorers, evaluate_ood
from igebm.evaluation.ood_metrics import ood_metrics
from igebm.tasks.generalisation.classify import EnergyClassifier
from igebm.training import load_run

STEPS = [20, 60, 100, 200]
EPS = {"linf": [0.05, 0.1, 0.2], "l2": [0.5, 1.0]}

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("run_dirs", nargs="+")
p.add_argument("--attack-num", type=int, default=100)
p.add_argument("--restarts", type=int, default=3)
p.add_argument("--ood-seeds", default="0,1,2")
p.add_argument("--skip-robustness", action="store_true")
p.add_argument("--json")
args = p.parse_args()
seeds = [int(s) for s in args.ood_seeds.split(",")]


def mean_auroc(score_fn_table) -> float:
    return float(np.mean([row["average"]["auroc"] for row in score_fn_table]))


def density_baselines(run) -> dict:
    """Average AUROC over the seeds of the mixture sized on validation (and the fixed 10-component one) and MADE."""
    train, val, x_in = run.dataset("train").x, run.dataset("val").x, run.dataset("test").x
    fits = [GaussianMixtureDensity(k, 0, cov).fit(train) for cov in ("full", "diag") for k in (10, 20, 40, 80, 160)]
    tuned = max(fits, key=lambda g: float(g.log_prob(val).mean()))
    out = {f"Gaussian mixture sized on validation ({tuned.components} {tuned.covariance})": [],
           "Gaussian mixture (10 full)": [], "MADE (autoregressive)": []}
    for seed in seeds:
        sets = [make_ood_set(name, x_in, seed=seed) for name in GENERATED]
        scorers = baseline_scorers(run, seed=seed)
        fns = {list(out)[0]: tuned.log_prob, "Gaussian mixture (10 full)": scorers["Gaussian mixture"],
               "MADE (autoregressive)": scorers["MADE (autoregressive)"]}
        for name, fn in fns.items():
            s_in = fn(x_in)
            out[name].append(float(np.mean([ood_metrics(s_in, fn(x))["auroc"] for x in sets])))
    return {k: float(np.mean(v)) for k, v in out.items()}


results = {}
baselines_ood = None
for run_dir in args.run_dirs:
    t0 = time.time()
    run = load_run(run_dir)
    judge = run_judge(run)
    r = {"policy": run.cfg.buffer.label_policy, "ce_alpha": run.cfg.train.ce_alpha, "train_steps": run.step}
    val = steps_curve(run, judge, STEPS, 500, 0, "val")
    test = {row["steps"]: row for row in steps_curve(run, judge, STEPS, 500, 0, "test")}
    head = pick_headline(val)["steps"]
    r["headline_steps_chosen_on_val"] = head
    r["samples_at_headline"] = {k: test[head][k] for k in ("accuracy", "frechet_ratio")}
    r["samples_at_200"] = {k: test[200][k] for k in ("accuracy", "frechet_ratio")}

    x_test, y_test = torch.from_numpy(run.dataset("test").x), run.dataset("test").y
    r["clean_accuracy"] = {name: float((EnergyClassifier(run, steps, 8 / 255).predict(x_test).numpy() == y_test).mean())
                           for name, steps in (("no refinement", 0), ("10 steps in an 8/255 ball", 10))}

    r["ood_average_auroc"] = {}
    for score in ("energy", "logsumexp"):
        tables = [evaluate_ood(run, list(GENERATED), score, baselines=False, seed=s)[0] for s in seeds]
        r["ood_average_auroc"][score] = mean_auroc([next(iter(t.values())) for t in tables])
    if baselines_ood is None:  # the same data split for every run: fit the density baselines once
        baselines_ood = density_baselines(run)

    comp = {}
    for mask in MASKS:
        row, _, _ = evaluate_completion(run, judge, mask, SuiteSettings(labels="infer"), 0)
        comp[mask] = {"EBM mean of S (inferred labels)": row["mse_mean_of_s"],
                      "EBM average of S (inferred labels)": row["mse_of_average"],
                      "nearest neighbour": row["mse nearest neighbour"],
                      "conditional Gaussian": row["mse conditional Gaussian"],
                      "judge agrees": row["judge_agrees"]}
    r["completion_inferred"] = comp

    if not args.skip_robustness:
        base = ensure_baselines(run)
        r["robustness_adaptive"] = {}
        for norm, eps in EPS.items():
            res = evaluate_robustness(run, norm, eps, 10, args.restarts, 10, ("adaptive",), args.attack_num, 0,
                                      base, 1)
            r["robustness_adaptive"][norm] = res["accuracy"]
    r["seconds"] = round(time.time() - t0)
    results[run_dir] = r

    print(f"\n## {run_dir}: label policy {r['policy']}, ce_alpha {r['ce_alpha']}, {r['train_steps']} steps "
          f"({r['seconds']} s to evaluate)\n")
    print(f"- samples (test): at {head} steps (chosen on val) accuracy {r['samples_at_headline']['accuracy']:.3f}, "
          f"Fréchet {r['samples_at_headline']['frechet_ratio']:.2f}x; at 200 steps "
          f"{r['samples_at_200']['accuracy']:.3f}, {r['samples_at_200']['frechet_ratio']:.2f}x")
    print("- clean accuracy of argmin_y E(x, y): " + ", ".join(f"{k} {v:.3f}" for k, v in r["clean_accuracy"].items()))
    print("- OOD average AUROC (3 draws of the sets): -min_y E " f"{r['ood_average_auroc']['energy']:.3f}, "
          f"logsumexp_y -E {r['ood_average_auroc']['logsumexp']:.3f}; baselines: "
          + ", ".join(f"{k} {v:.3f}" for k, v in baselines_ood.items()))
    for mask, c in comp.items():
        print(f"- completion, {mask}, inferred labels: " + ", ".join(f"{k} {v:.4f}" for k, v in c.items()))
    for norm, accs in r.get("robustness_adaptive", {}).items():
        print(f"- adaptive attack, {norm}: " + "; ".join(
            f"{model}: " + ", ".join(f"eps {e} {a:.2f}" for e, a in vals.items()) for model, vals in accs.items()))
    print(flush=True)

print(json.dumps({"runs": results, "ood_baselines": baselines_ood}))
if args.json:
    with open(args.json, "w") as f:
        json.dump({"runs": results, "ood_baselines": baselines_ood}, f, indent=2)
