"""Seed ensembles of the composition experts, on validation: how far one training's seed moves the result,
and what the mean energy of several seeds gives.

Usage:
    python benchmarks/composition_seeds.py --size-runs S0+S1+S2 --position-runs P0+P1+P2[+P3...]
        --regressor runs/eval [--members K] [--and-weights 32,1 --and-weights 64,1] [--steps 300]
        [--warm-steps 100] [--own-steps 100] [--num 16] [--json OUT.json]

The runs are one recipe trained at several seeds (`igebm train shapes_size --set run.seed=N`). It prints:
- each expert at its own training setting, from noise (`--own-steps`), for every run and every ensemble
  of two or more of them (their mean energy): the size error over the size split's range at the
  centre, or the centre error at size 0.35;
- AND warm-started by the position expert (the criterion of `composition_checkpoints.py --role size`):
  for each size expert (every single run, and the ensemble of the first K) with each position expert
  (likewise), at the first `--and-weights`; the two ensembles also at every other `--and-weights`.
Only validation: the val pairs, and values requested of the splits' train sets. Threads: OMP_NUM_THREADS
(default 1).
"""

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import torch

from igebm.errors import UserError
from igebm.evaluation.composition import load_regressor, own_error_on_validation, score_size_on_validation
from igebm.tasks.composition import expert_from_runs
from igebm.training import load_run

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--size-runs", required=True, help="size expert runs (seeds of shapes_size) joined by '+'")
p.add_argument("--position-runs", required=True, help="position expert runs (seeds of shapes_position) joined by '+'")
p.add_argument("--regressor", required=True, help="folder holding regressor.safetensors (benchmarks/composition.py)")
p.add_argument("--members", type=int, help="the AND rows' ensembles: the first K runs of each list (default all)")
p.add_argument("--and-weights", action="append", help="weights of the size and position experts (default 32,1)")
p.add_argument("--steps", type=int, default=300)
p.add_argument("--warm-steps", type=int, default=100)
p.add_argument("--own-steps", type=int, default=100)
p.add_argument("--num", type=int, default=16)
p.add_argument("--json")
args = p.parse_args()


def fail(msg: str) -> None:
    print(f"composition_seeds.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    runs = {kind: [load_run(d) for d in given.split("+")]
            for kind, given in (("size", args.size_runs), ("position", args.position_runs))}
    weights = [[float(v) for v in w.split(",")] for w in (args.and_weights or ["32,1"])]
except (UserError, ValueError) as exc:
    fail(str(exc))
shortest = min(len(r) for r in runs.values())
if shortest < 2:
    fail("--size-runs and --position-runs each need two or more runs joined by '+' (seeds of one recipe)")
k = args.members or shortest
if not 2 <= k <= shortest:
    fail(f"--members {k}: give 2 to {shortest} (the shorter list's length)")
try:
    reg = load_regressor(args.regressor)
except UserError as exc:
    fail(str(exc))
sampler, noise = runs["size"][0].sampler, runs["size"][0].noise
name = lambda kind, idx: f"{kind[0]}{''.join(map(str, idx))}"  # s0: the first size run, p012: three position runs
out: dict = {"runs": {kind: [str(r.run_dir) for r in rs] for kind, rs in runs.items()}, "own": {}, "and": {},
             "steps": args.steps, "warm_steps": args.warm_steps, "own_steps": args.own_steps, "num": args.num}

print("### Each expert at its own setting, from noise (size error over the range | centre error at size 0.35)\n")
print("| expert | runs | own error |\n|---|---|---|")
for kind, rs in runs.items():
    for n in range(1, len(rs) + 1):
        for idx in itertools.combinations(range(len(rs)), n):
            e = expert_from_runs([rs[i] for i in idx], kind)
            err = own_error_on_validation(e, kind, sampler, noise, reg, args.own_steps, args.num)
            out["own"][name(kind, idx)] = err
            print(f"| {kind} | {name(kind, idx)} | {err:.4f} |", flush=True)

print(f"\n### AND, warm-started by the position expert ({args.warm_steps} steps), then {args.steps} steps\n")
print("| size | position | weights | range at the centre: size error | AND: size error | AND: centre error | sum |")
print("|---|---|---|---|---|---|---|")
choices = {kind: [(i,) for i in range(len(rs))] + [tuple(range(k))] for kind, rs in runs.items()}
cells = [(s, q, weights[0]) for s in choices["size"] for q in choices["position"]]
cells += [(tuple(range(k)), tuple(range(k)), w) for w in weights[1:]]
for s_idx, p_idx, w in cells:
    size_e = expert_from_runs([runs["size"][i] for i in s_idx], "size")
    pos_e = expert_from_runs([runs["position"][i] for i in p_idx], "position")
    r = score_size_on_validation(size_e, pos_e, sampler, noise, reg, w, args.steps, args.warm_steps, args.num)
    key = f"{name('size', s_idx)}+{name('position', p_idx)}@{w[0]:g}:{w[1]:g}"
    out["and"][key] = r
    print(f"| {name('size', s_idx)} | {name('position', p_idx)} | {w[0]:g}:{w[1]:g} | {r['range_size_err']:.4f} | "
          f"{r['and_size_err']:.4f} | {r['and_pos_err']:.4f} | {r['and_size_err'] + r['and_pos_err']:.4f} |", flush=True)
if args.json:
    Path(args.json).write_text(json.dumps(out, indent=1))
