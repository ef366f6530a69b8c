"""Fewer gradient evaluations to the same quality: variants of the digits recipe, chosen on VALIDATION.

Usage: python benchmarks/gradient_budget.py [--only baseline,k10_step20,...] [--out runs/gradient_budget]
       [--json F] [--set KEY=VALUE ...]
Run it under the CPU lock with OMP_NUM_THREADS=1 (each variant sets run.threads=1 and no wall-clock cap,
so a busy machine trains the same model, only slower).

Each variant is the `digits` recipe plus a few overrides. The cost is the training's energy-gradient
evaluations: one = the input gradient of E for ONE example; a training step costs K x batch (with a K
schedule, the K of that step). Sampling for evaluation is listed apart (500 chains x the headline step
count). Quality: the same 500 chains from noise judged after each step count in STEPS, on the
validation split (where the headline step count is chosen, by the recipe's rule: the lowest Fréchet
ratio among counts with accuracy >= 0.95) and on test (reported at that count).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from igebm.config import load_config
from igebm.evaluation.generation import pick_headline, steps_curve
from igebm.evaluation.judge import run_judge
from igebm.recipes import find_recipe
from igebm.training import Trainer, load_run
from igebm.training.schedule import gradient_evaluations

STEPS = [20, 60, 100, 200]
# The variants are overrides of the recipe as it was measured (K 20, step 10: `OLD_CHAIN`); the
# `digits` recipe itself has since moved to the winner, k10_step20 (docs/results/gradient_budget.md).
OLD_CHAIN = ["sampler.steps=20", "sampler.step_size=10", "eval.headline_steps=100"]
VARIANTS = {
    "baseline": [*OLD_CHAIN],  # the recipe before: 900 steps x K 20 x batch 128
    "k10_step20": ["sampler.steps=10", "sampler.step_size=20"],  # half the chain, the same distance per step
    "batch64": [*OLD_CHAIN, "train.batch_size=64"],  # the same 900 updates on half the chains
    "half_steps": [*OLD_CHAIN, "train.max_steps=450"],  # half the updates
    "schedule": [*OLD_CHAIN, "train.max_steps=700", "train.steps_start=5", "train.steps_warmup=700"],  # K 5 -> 20
}

p = argparse.ArgumentParser()
p.add_argument("--only", default=",".join(VARIANTS))
p.add_argument("--out", default="runs/gradient_budget")
p.add_argument("--json")
p.add_argument("--steps", default=",".join(map(str, STEPS)), help="sampling step counts judged (smoke: 2,4)")
p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="applied to every variant (smoke)")
args = p.parse_args()
STEPS = [int(s) for s in args.steps.split(",")]


def r3(v):
    return round(v, 3) if isinstance(v, float) else v


rows = []
for name in args.only.split(","):
    overrides = ["run.threads=1", "train.max_minutes=0", "train.progress=false", "train.tensorboard=false",
                 *VARIANTS[name], *args.set]
    cfg = load_config(find_recipe("digits"), overrides)
    out = Path(args.out) / name
    t0 = time.time()
    if not (out / "checkpoints").is_dir():
        Trainer(cfg, out).fit()
    minutes = (time.time() - t0) / 60
    run = load_run(out)
    judge = run_judge(run)
    val = steps_curve(run, judge, STEPS, 500, seed=0, split="val")
    test = steps_curve(run, judge, STEPS, 500, seed=0, split="test")
    head = pick_headline(val)
    at = next(r for r in test if r["steps"] == head["steps"])
    t, k = cfg.train, cfg.sampler.steps
    evals = gradient_evaluations(run.step, t.batch_size, t.steps_start, t.steps_warmup, k)
    row = {"variant": name, "overrides": VARIANTS[name], "train_steps": run.step, "train_minutes": round(minutes, 2),
           "train_grad_evals": evals, "eval_grad_evals_at_headline": 500 * head["steps"],
           "headline_steps_on_val": head["steps"], "val_at_headline": {k: r3(v) for k, v in head.items()},
           "test_at_headline": {k: r3(v) for k, v in at.items()},
           "val_curve": [{k: r3(v) for k, v in r.items()} for r in val],
           "test_curve": [{k: r3(v) for k, v in r.items()} for r in test]}
    rows.append(row)
    print(json.dumps(row), flush=True)
if args.json:
    Path(args.json).write_text(json.dumps(rows, indent=2))
print("\n| variant | train grad evals | vs baseline | headline (val) | val acc / Fréchet | test acc / Fréchet |")
print("|---|---|---|---|---|---|")
base = 900 * 20 * 128
for r in rows:
    v, te = r["val_at_headline"], r["test_at_headline"]
    print(f"| {r['variant']} | {r['train_grad_evals']:,} | {r['train_grad_evals'] / base:.2f}x | {r['headline_steps_on_val']} | "
          f"{v['accuracy']:.3f} / {v['frechet_ratio']:.2f} | {te['accuracy']:.3f} / {te['frechet_ratio']:.2f} |")
