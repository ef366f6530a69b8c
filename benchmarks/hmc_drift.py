"""The seed's HMC lesson, measured: fixed-step HMC's acceptance drifts during training; adaptive HMC holds it.

Usage: python benchmarks/hmc_drift.py RUN_DIR [RUN_DIR ...]
Reads each run's training log (sampler_acceptance and sampler_step_size, logged every train.log_every
steps) and prints the acceptance and step size over training, then judges 500 samples of the trained
run (its own sampler, from noise) against the test split at 20 and 60 transitions.
Train the runs first, e.g.
    igebm train digits --set sampler.kind=hmc --set sampler.step_size=0.01 --set sampler.leapfrog_steps=3 \
        --set train.max_steps=300 --set train.max_minutes=0 --out runs/lesson_hmc   (and kind=adaptive_hmc)
"""

import sys

import numpy as np

from igebm.evaluation.generation import steps_curve
from igebm.evaluation.judge import run_judge
from igebm.training import load_run, read_metrics

for run_dir in sys.argv[1:]:
    rows = [r for r in read_metrics(run_dir) if "sampler_acceptance" in r]
    run = load_run(run_dir)
    print(f"\n## {run_dir}: sampler {run.cfg.sampler.kind}, target {run.cfg.sampler.target_accept}\n")
    print("| training steps | mean acceptance | step size |\n|---|---|---|")
    for lo in range(0, len(rows), max(1, len(rows) // 6)):
        chunk = rows[lo:lo + max(1, len(rows) // 6)]
        print(f"| {chunk[0]['step']}-{chunk[-1]['step']} | {np.mean([r['sampler_acceptance'] for r in chunk]):.3f} "
              f"| {np.mean([r['sampler_step_size'] for r in chunk]):.3g} |")
    judge = run_judge(run)
    for r in steps_curve(run, judge, [20, 60], 500, 0, "test"):
        print(f"- {r['steps']} transitions from noise: accuracy {r['accuracy']:.3f}, Fréchet {r['frechet_ratio']:.2f}x")
