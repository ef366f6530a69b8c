"""Does bf16 cost sample quality? One trained digits run sampled with each precision, judged alike.

    python benchmarks/precision_quality.py RUN_DIR [--num 500] [--steps 100] [--seeds 0,1]

The same chains (same seed, same noise) run from uniform noise with the run's EMA energy at
`--steps` (default: the run's eval.headline_steps), once per option set (fp32; bf16 +
channels_last; fp32 + channels_last), and are judged by the run's own judge on the test split:
accuracy (the requested digit), Fréchet distance over the train-vs-test floor, and seconds.
Several seeds give the seed-to-seed spread that a precision difference must be compared with.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from igebm.evaluation.generation import frechet_floor, judge_samples
from igebm.evaluation.judge import run_judge
from igebm.sampling.options import ChainOptions
from igebm.tasks.generation import generate_at_steps, make_labels
from igebm.training import load_run

VARIANTS = [("fp32", ChainOptions()), ("fp32 + channels_last", ChainOptions(channels_last=True)),
            ("bf16 + channels_last", ChainOptions(precision="bf16", channels_last=True))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--num", type=int, default=500)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--split", default="test")
    ap.add_argument("--json")
    args = ap.parse_args()
    run = load_run(args.run_dir)
    steps = args.steps or run.cfg.eval.headline_steps or run.sampler.steps
    judge = run_judge(run)
    floor = frechet_floor(run, judge, args.split)
    labels = make_labels(run, args.num, all_labels=True)
    print(f"run {args.run_dir} (step {run.step}), {args.num} samples, {steps} steps from noise, "
          f"judge test accuracy {judge.test_accuracy:.3f}, {args.split} split, Fréchet floor {floor:.3f}")
    print("\n| options | seed | accuracy | Fréchet ratio | seconds |")
    print("|---|---|---|---|---|")
    rows = []
    base = run.sampler
    for seed in [int(s) for s in args.seeds.split(",")]:
        for name, opts in VARIANTS:
            run.sampler = dataclasses.replace(base, options=opts)
            t0 = time.perf_counter()
            x = generate_at_steps(run, labels, args.num, [steps], seed=seed)[steps]
            sec = time.perf_counter() - t0
            q = judge_samples(run, judge, x.numpy(), labels, args.split, floor)
            rows.append({"options": name, "seed": seed, "accuracy": q.get("accuracy"),
                         "frechet_ratio": q["frechet_ratio"], "seconds": sec})
            print(f"| {name} | {seed} | {q.get('accuracy', float('nan')):.3f} | {q['frechet_ratio']:.2f} | "
                  f"{sec:.1f} |", flush=True)
    run.sampler = base
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
