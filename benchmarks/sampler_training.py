"""Training the digits recipe with each sampler at an equal wall-clock budget (issue 13).

Usage: python benchmarks/sampler_training.py [--out runs/samplers] [--minutes M] [--only NAME,...]
                                             [--variant NAME:KEY=V,KEY=V ...] [--set K=V] [--json F]

Every variant is the `digits` recipe with a different `[sampler]`, trained for the same wall-clock
budget (`train.max_minutes = M`, no step cap), one after another on the same machine:
- langevin:     the recipe (10 igebm-Langevin steps of 20, noise 0.005, gradient clip 0.01);
- mala:         Metropolis-adjusted Langevin, 10 transitions (1 gradient each) at a fixed step;
- hmc:          3 transitions of 3 leapfrog steps at a fixed step (about the recipe's 10 gradients);
- adaptive_hmc: the same, its step size adapted by dual averaging toward acceptance 0.65, in training too.
The Metropolis samplers target exp(-E/T) at `sampler.temperature` (below). Then for each: steps
trained, stability (max |energy|, NaN, final energy gap), the acceptance and step size over training
(the share of logged points within 0.1 of 0.65, after the first 10%), samples from noise with the
run's own sampler judged on validation to pick the transition count (lowest Fréchet ratio with
accuracy >= 0.95, else lowest), and on test at it, with the gradient evaluations that took.
"""

import argparse
import json
import math
import platform
from pathlib import Path

import numpy as np
import torch

from digits_variants import common_args, judged, train_variant
from igebm.training import read_metrics

T = 1e-3  # the Metropolis samplers' temperature, picked on validation from 1e-6..1e-2 (docs/results/sampler_training.md)
VARIANTS = {
    "langevin": [],
    "mala": ["sampler.kind=mala", "sampler.steps=10", f"sampler.temperature={T}",
             "sampler.step_size=4.5e-4"],  # eps^2 / 2 of the HMC step below
    "hmc": ["sampler.kind=hmc", "sampler.steps=3", "sampler.leapfrog_steps=3", f"sampler.temperature={T}",
            "sampler.step_size=0.03"],  # adaptive HMC's step at the start of its training, fixed
    "adaptive_hmc": ["sampler.kind=adaptive_hmc", "sampler.steps=3", "sampler.leapfrog_steps=3",
                     f"sampler.temperature={T}", "sampler.step_size=2e-3"],
}
p = common_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]), "runs/samplers")
p.add_argument("--minutes", type=float, default=2.0, help="wall-clock training budget of every variant")
p.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=V,KEY=V", help="an extra variant")
p.add_argument("--num", type=int, default=500, help="samples judged per step count")
args = p.parse_args()

for text in args.variant:
    name, _, body = text.partition(":")
    VARIANTS[name] = [kv for kv in body.split(",") if kv]
names = args.only.split(",") if args.only else list(VARIANTS)

rows = []
for name in names:
    out = Path(args.out) / name
    overrides = ["train.max_steps=1000000", f"train.max_minutes={args.minutes}", "train.progress=false",
                 *args.set, *VARIANTS[name]]
    run = train_variant(out, overrides)
    log = [r for r in read_metrics(out) if "e_pos" in r]
    energies = [v for r in log for v in (r["e_pos"], r["e_neg"])]
    accept = [(r["step"], r["sampler_acceptance"], r.get("sampler_step_size", math.nan))
              for r in log if "sampler_acceptance" in r]
    late = accept[len(accept) // 10:]
    val, head, test = judged(run, args.num)
    grads_per_transition = run.cfg.sampler.leapfrog_steps if run.cfg.sampler.kind in ("hmc", "adaptive_hmc") else 1
    row = {"variant": name, "overrides": VARIANTS[name], "train_steps": run.step,
           "train_seconds": round(log[-1]["time"], 1) if log and "time" in log[-1] else None,
           "grads_per_train_step": run.cfg.sampler.steps * grads_per_transition,
           "max_abs_energy": round(max(abs(v) for v in energies), 4),
           "non_finite": any(not math.isfinite(v) for v in energies),
           "final_gap": round(float(np.mean([r["gap"] for r in log[-10:]])), 5),
           "val_curve": [{k: round(v, 3) for k, v in r.items()} for r in val],
           "headline_transitions_val": head, "headline_gradients": head * grads_per_transition,
           "test_accuracy": round(test["accuracy"], 3), "test_frechet_ratio": round(test["frechet_ratio"], 2)}
    if accept:
        acc = np.array([a for _, a, _ in late])
        row.update({"acceptance_range": [round(float(acc.min()), 3), round(float(acc.max()), 3)],
                    "acceptance_within_0.1_of_0.65": round(float(np.mean(np.abs(acc - 0.65) <= 0.1)), 3),
                    "step_size_first_last": [float(f"{accept[0][2]:.3g}"), float(f"{accept[-1][2]:.3g}")],
                    "acceptance_trace": [(s, round(a, 3), float(f"{e:.3g}")) for s, a, e in accept]})
    rows.append(row)
    print(json.dumps({k: v for k, v in row.items() if k != "acceptance_trace"}), flush=True)

machine = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
print(f"\nMachine: {machine}; budget {args.minutes} min each\n\n| sampler | training steps | gradients per step | "
      "max abs energy | acceptance over training (range; share within 0.1 of 0.65) | step size first -> last | "
      "transitions (val) | test accuracy | Fréchet ratio |\n|---|---|---|---|---|---|---|---|---|")
for r in rows:
    acc = (f"{r['acceptance_range'][0]}-{r['acceptance_range'][1]}; {r['acceptance_within_0.1_of_0.65']}"
           if "acceptance_range" in r else "-")
    steps = f"{r['step_size_first_last'][0]} -> {r['step_size_first_last'][1]}" if "step_size_first_last" in r else "-"
    print(f"| {r['variant']} | {r['train_steps']} | {r['grads_per_train_step']} | {r['max_abs_energy']}"
          f"{' (non-finite)' if r['non_finite'] else ''} | {acc} | {steps} | {r['headline_transitions_val']} "
          f"({r['headline_gradients']} gradients) | {r['test_accuracy']} | {r['test_frechet_ratio']} |")
if args.json:
    Path(args.json).write_text(json.dumps({"machine": machine, "minutes": args.minutes, "rows": rows}, indent=1),
                               encoding="utf-8")
