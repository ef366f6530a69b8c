"""Tune the completion chain on the VALIDATION split, then report the chosen chain on test.

Usage: python benchmarks/tune_completion.py RUN_DIR [--samples 4] [--grid rounds=3,6 noise_std=0.005,0 ...]

Completion is scored by mean-of-S MSE on the hidden pixels (a typical answer; no oracle), for both
masks, conditioned on the true class. The chain with the lowest mean-of-S summed over the two masks
on validation is reported on test, next to the same-class Gaussian baselines (the fair ones: they
are given the label too). Prints markdown tables, then one JSON line.
"""

import argparse
import dataclasses
import itertools
import json

from igebm.evaluation.images import MASKS, SuiteSettings, evaluate_completion
from igebm.evaluation.judge import run_judge
from igebm.tasks.images.chain import Chain
from igebm.training import load_run

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("run_dir")
p.add_argument("--samples", type=int, default=4)
p.add_argument("--grid", nargs="*", default=["rounds=3,10", "noise_std=0.005,0", "temperature=1,0.3"])
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()

run = load_run(args.run_dir)
judge = run_judge(run)
keys = [g.split("=")[0] for g in args.grid]
values = [[float(v) for v in g.split("=")[1].split(",")] for g in args.grid]
COLS = ("mse_mean_of_s", "mse_of_average", "mse_best_of_s", "diversity", "judge_agrees")


def chain_of(combo) -> Chain:
    knobs = dict(zip(keys, combo))
    if "rounds" in knobs:
        knobs["rounds"] = int(knobs["rounds"])
    if "steps" in knobs:
        knobs["steps"] = int(knobs["steps"])
    return dataclasses.replace(Chain(rounds=3), **knobs)


def rows_for(chain: Chain, split: str) -> dict:
    s = SuiteSettings(split=split, num=len(run.dataset(split)), samples=args.samples, complete_chain=chain)
    return {m: evaluate_completion(run, judge, m, s, args.seed)[0] for m in MASKS}


print(f"## Validation split ({len(run.dataset('val'))} images, S = {args.samples}, true class given)\n")
print("| " + " | ".join(keys) + " | " + " | ".join(f"{m} mean of S" for m in MASKS) + " | sum |")
print("|---" * (len(keys) + len(MASKS) + 1) + "|")
tried = []
for combo in itertools.product(*values):
    chain = chain_of(combo)
    rows = rows_for(chain, "val")
    total = sum(r["mse_mean_of_s"] for r in rows.values())
    tried.append((total, combo, chain))
    print("| " + " | ".join(f"{v:g}" for v in combo) + " | "
          + " | ".join(f"{rows[m]['mse_mean_of_s']:.4f}" for m in MASKS) + f" | {total:.4f} |", flush=True)

best_total, best_combo, best_chain = min(tried, key=lambda t: t[0])
test = rows_for(best_chain, "test")
print(f"\n## Test split with the chain chosen on validation: {dict(zip(keys, best_combo))}")
print("best of S is an ORACLE (it picks with the truth).\n")
print("| mask | EBM mean of S | EBM average of S | EBM best of S (oracle) | same-class Gaussian samples, mean of S"
      " | same-class Gaussian samples, average of S | same-class conditional Gaussian (its mean) | EBM diversity"
      " | Gaussian samples diversity | judge agrees, EBM | judge agrees, Gaussian samples |")
print("|---" * 11 + "|")
for m, r in test.items():
    g = "same-class Gaussian samples "
    print(f"| {m} | {r['mse_mean_of_s']:.4f} | {r['mse_of_average']:.4f} | {r['mse_best_of_s']:.4f} "
          f"| {r[g + 'mse_mean_of_s']:.4f} | {r[g + 'mse_of_average']:.4f} "
          f"| {r['mse conditional Gaussian (same class)']:.4f} | {r['diversity']:.3f} | {r[g + 'diversity']:.3f} "
          f"| {r['judge_agrees']:.3f} | {r[g + 'judge_agrees']:.3f} |")
print(json.dumps({"chosen_on_val": dict(zip(keys, best_combo)), "val_tried": [[dict(zip(keys, c)), t] for t, c, _ in tried],
                  "test": test}))
