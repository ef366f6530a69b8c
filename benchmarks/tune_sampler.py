"""Test-time sampler tuning: judge samples of one trained run under sampler variants.

Usage: python benchmarks/tune_sampler.py RUN_DIR [--num 500] [--grid noise_std=0.005,0.02 step_size=10,5 ...]
Prints one JSON line per variant: accuracy, Fréchet / floor, saturation, diversity
after each step count in --steps, judged against the VALIDATION split (tuning never
looks at test). No retraining: the sampler is a test-time choice.
"""

import argparse
import dataclasses
import itertools
import json

from igebm.evaluation.generation import steps_curve
from igebm.evaluation.judge import run_judge
from igebm.training import load_run

p = argparse.ArgumentParser()
p.add_argument("run_dir")
p.add_argument("--num", type=int, default=500)
p.add_argument("--steps", default="20,60,200")
p.add_argument("--grid", nargs="*", default=["noise_std=0.005,0.01,0.02"])
args = p.parse_args()

run = load_run(args.run_dir)
judge = run_judge(run)
steps = [int(s) for s in args.steps.split(",")]
keys = [g.split("=")[0] for g in args.grid]
values = [[float(v) for v in g.split("=")[1].split(",")] for g in args.grid]
base = run.sampler
for combo in itertools.product(*values):
    run.sampler = dataclasses.replace(base, **dict(zip(keys, combo)))
    row = {"sampler": dict(zip(keys, combo))}
    for r in steps_curve(run, judge, steps, args.num, split="val"):
        row[r["steps"]] = {"acc": round(r.get("accuracy", float("nan")), 3), "fd": round(r["frechet_ratio"], 2),
                           "sat": round(r["saturation"], 3), "div": round(r["diversity"], 3)}
    print(json.dumps(row), flush=True)
