"""Test-time sampler tuning: judge samples of one trained run under sampler variants.

Usage: python benchmarks/tune_sampler.py RUN_DIR [--num 500] [--grid noise_std=0.005,0.02 step_size=10,5 ...]
Prints one JSON line per variant: accuracy, Fréchet / floor, saturation, diversity
after each step count in --steps. No retraining: the sampler is a test-time choice.
"""

import argparse
import dataclasses
import itertools
import json

from igebm.evaluation.metrics import frechet_distance, sample_quality
from igebm.evaluation.judge import run_judge
from igebm.tasks.generation.sample import generate_at_steps, make_labels
from igebm.training import load_run

p = argparse.ArgumentParser()
p.add_argument("run_dir")
p.add_argument("--num", type=int, default=500)
p.add_argument("--steps", default="20,60,200")
p.add_argument("--grid", nargs="*", default=["noise_std=0.005,0.01,0.02"])
args = p.parse_args()

run = load_run(args.run_dir)
judge = run_judge(run)
train, test = run.dataset("train"), run.dataset("test")
floor = frechet_distance(judge.features(train.x), judge.features(test.x))
labels = make_labels(run, args.num, all_labels=True)
steps = [int(s) for s in args.steps.split(",")]
keys = [g.split("=")[0] for g in args.grid]
values = [[float(v) for v in g.split("=")[1].split(",")] for g in args.grid]
base = run.sampler
for combo in itertools.product(*values):
    run.sampler = dataclasses.replace(base, **dict(zip(keys, combo)))
    row = {"sampler": dict(zip(keys, combo))}
    for s, x in generate_at_steps(run, labels, args.num, steps).items():
        q = sample_quality(judge, x.numpy(), labels.numpy(), test.x)
        row[s] = {"acc": round(q["accuracy"], 3), "fd": round(q["frechet"] / floor, 2),
                  "sat": round(q["saturation"], 3), "div": round(q["diversity"], 3)}
    print(json.dumps(row), flush=True)
