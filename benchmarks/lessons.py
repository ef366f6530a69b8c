"""The seed's ensemble and gradient-penalty lessons, measured on the digits recipe (issue 13).

Usage: python benchmarks/lessons.py [--out runs/lessons] [--steps 900] [--only NAME,...] [--set K=V] [--json F]

Trains the digits recipe four ways, the same number of training steps each (so the same number
of Langevin gradient evaluations per energy), one after another on the same machine:
- base:      the recipe (one energy, 32 channels);
- ensemble2: `model.ensemble = 2`, two 32-channel energies summed (sampled and scored on the sum);
- wide2:     one energy of twice the width (64 channels), the seed's "one model of N times the width";
- gp0.1:     the recipe with `train.gp_alpha = 0.1` (penalty on |dE/dx|^2 on data and samples).
Then, for each: training wall time and stability (max |energy| seen, divergence), samples judged on
validation to pick the step count (lowest Fréchet ratio with accuracy >= 0.95) and on test at it,
and OOD average AUROC of -min_y E over the generated sets (test split as in-distribution).
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from digits_variants import common_args, judged, train_variant
from igebm.data.ood_sets import GENERATED
from igebm.evaluation.ood import evaluate_ood
from igebm.training import read_metrics

VARIANTS = {
    "base": [],
    "ensemble2": ["model.ensemble=2"],
    "wide2": ["model.channels=64"],
    "gp0.1": ["train.gp_alpha=0.1"],
}
p = common_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]), "runs/lessons")
p.add_argument("--steps", type=int, default=900, help="training steps for every variant")
args = p.parse_args()

names = args.only.split(",") if args.only else list(VARIANTS)
rows = []
for name in names:
    out = Path(args.out) / name
    overrides = [f"train.max_steps={args.steps}", "train.max_minutes=0", *args.set, *VARIANTS[name]]
    t0 = time.time()
    run = train_variant(out, overrides)
    minutes = (time.time() - t0) / 60
    log = [r for r in read_metrics(out) if "e_pos" in r]
    _, head, test = judged(run)
    tables = evaluate_ood(run, list(GENERATED), "energy", baselines=False)[0]
    auroc = next(iter(tables.values()))["average"]["auroc"]
    row = {"variant": name, "overrides": VARIANTS[name], "train_steps": args.steps,
           "train_minutes": round(minutes, 2), "params": sum(p.numel() for p in run.energy.parameters()),
           "max_abs_energy": round(max(max(abs(r["e_pos"]), abs(r["e_neg"])) for r in log), 3),
           "headline_steps_val": head, "test_accuracy": round(test["accuracy"], 3),
           "test_frechet_ratio": round(test["frechet_ratio"], 2), "ood_auroc_min_y_energy": round(auroc, 3)}
    rows.append(row)
    print(json.dumps(row), flush=True)

machine = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
print(f"\nMachine: {machine}\n\n| variant | params | train minutes | max abs energy | steps (val) | "
      "test accuracy | Fréchet ratio | OOD AUROC |\n|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['variant']} | {r['params']} | {r['train_minutes']} | {r['max_abs_energy']} | {r['headline_steps_val']} "
          f"| {r['test_accuracy']} | {r['test_frechet_ratio']} | {r['ood_auroc_min_y_energy']} |")
if args.json:
    Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=1), encoding="utf-8")
