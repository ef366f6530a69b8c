"""Choose a composition expert's training length on validation: read back every kept checkpoint.

Usage:
    python benchmarks/composition_checkpoints.py RUN --size-expert runs/composition/size --regressor runs/composition
        [--role position|union] [--steps 100] [--num 16] [--json OUT.json]
    python benchmarks/composition_checkpoints.py RUN --role size --position-expert runs/composition/position
        --regressor runs/composition [--steps 300] [--warm-steps 100] [--and-weights 32,1]

RUN was trained with `--set train.keep_checkpoints=N`. For each checkpoint, a position expert (`--role
position`) is sampled at its own setting (size 0.35, centres requested of the position split's train set)
and in AND with the size expert on the validation pairs; a union EBM (`--role union`) is sampled on the
validation pairs given (size, x, y); a size expert (`--role size`) is sampled warm-started by the position
expert, at the centre for every size requested of the size split's train set (its whole range, 0.25-0.6)
and on the validation pairs. It prints the regressor's read-back errors and the checkpoint chosen: the
lowest own-setting centre error, the union's lowest sum, or the size expert's lowest size error over its
range. The test pairs are never touched. Threads: OMP_NUM_THREADS (default 1).
"""

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from igebm.errors import UserError
from igebm.evaluation.composition import (binder, compose_and_sample, load_regressor, own_error_on_validation,
                                          readback_table, score_size_on_validation, validation_requests)
from igebm.tasks.composition import expert_from_run
from igebm.training import load_run
from igebm.training.checkpoint import list_checkpoints, step_of

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("run")
p.add_argument("--size-expert", help="the size expert (roles position and union)")
p.add_argument("--position-expert", help="the position expert that warm-starts the chains (role size)")
p.add_argument("--warm-steps", type=int, default=100, help="role size: steps of the position expert alone first")
p.add_argument("--and-weights", default="32,1", help="role size: weights of the size and position experts")
p.add_argument("--regressor", required=True, help="folder holding regressor.safetensors (benchmarks/composition.py)")
p.add_argument("--role", choices=["position", "union", "size"], default="position")
p.add_argument("--steps", type=int, default=100)
p.add_argument("--num", type=int, default=16)
p.add_argument("--json")
args = p.parse_args()


def fail(msg: str) -> None:
    print(f"composition_checkpoints.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


if not list_checkpoints(Path(args.run) / "checkpoints"):
    fail(f"'{args.run}' holds no checkpoints; train it with "
         "`igebm train shapes_position --out RUN --set train.keep_checkpoints=20`")

try:
    reg = load_regressor(args.regressor)
except UserError as exc:
    fail(str(exc))
helper = args.position_expert if args.role == "size" else args.size_expert
if not helper:
    fail("--role size needs --position-expert RUN" if args.role == "size" else f"--role {args.role} needs --size-expert RUN")
try:
    helper_run = load_run(helper)
except UserError as exc:
    fail(str(exc))
size_run = helper_run  # its sampler settings are the recipes' shared ones
size_e = expert_from_run(helper_run, "size")
pairs = validation_requests(args.num)["pairs"]
bind_size, bind_pos, bind_all = binder("size"), binder("x", "y"), binder("size", "x", "y")
bind_two = lambda i, r: bind_size(i, r) if i == 0 else bind_pos(i, r)

run = Path(args.run)
rows = {}
if args.role == "size":
    pos_e = expert_from_run(helper_run, "position")
    w = [float(v) for v in args.and_weights.split(",")]
    print("| checkpoint | range at the centre: size error | AND: size error | AND: centre error | AND: sum |")
    print("|---|---|---|---|---|")
    for ckpt in list_checkpoints(run / "checkpoints"):
        step = step_of(ckpt)
        e = expert_from_run(load_run(run, checkpoint=ckpt), "size")
        rows[step] = r = score_size_on_validation(e, pos_e, size_run.sampler, size_run.noise, reg, w, args.steps,
                                                  args.warm_steps, args.num)
        print(f"| {step} | {r['range_size_err']:.4f} | {r['and_size_err']:.4f} | {r['and_pos_err']:.4f} | "
              f"{r['and_size_err'] + r['and_pos_err']:.4f} |", flush=True)
elif args.role == "position":
    print("| checkpoint | own setting: centre error | AND: size error | AND: centre error | AND: sum |")
else:
    print("| checkpoint | union EBM: size error | centre error | sum |")
if args.role != "size":
    print("|---|---|---|---|---|" if args.role == "position" else "|---|---|---|---|")
for ckpt in list_checkpoints(run / "checkpoints") if args.role != "size" else []:
    step = step_of(ckpt)
    e = expert_from_run(load_run(run, checkpoint=ckpt), args.role)
    if args.role == "union":
        x = compose_and_sample([e], bind_all, pairs, size_run.sampler, args.steps, 1, "sum", size_run.noise)
        u = readback_table(x, pairs, reg)
        rows[step] = {"size_err": u["size_err"], "pos_err": u["pos_err"], "score": u["size_err"] + u["pos_err"]}
        print(f"| {step} | {u['size_err']:.4f} | {u['pos_err']:.4f} | {rows[step]['score']:.4f} |", flush=True)
        continue
    own_err = own_error_on_validation(e, "position", size_run.sampler, size_run.noise, reg, args.steps, args.num)
    x_and = compose_and_sample([size_e, e], bind_two, pairs, size_run.sampler, args.steps, 1, "sum", size_run.noise)
    a = readback_table(x_and, pairs, reg)
    rows[step] = {"own_pos_err": own_err, "and_size_err": a["size_err"], "and_pos_err": a["pos_err"],
                  "score": own_err}
    print(f"| {step} | {own_err:.4f} | {a['size_err']:.4f} | {a['pos_err']:.4f} | "
          f"{a['size_err'] + a['pos_err']:.4f} |", flush=True)
best = min(rows, key=lambda s: rows[s]["score"])
criterion = {"position": "own-setting centre error", "union": "union sum", "size": "size error over its range"}
print(f"\nchosen on val ({criterion[args.role]}): step {best}")
if args.json:
    Path(args.json).write_text(json.dumps({"role": args.role, "steps": args.steps, "rows": rows, "best": best,
                                           **({"warm_steps": args.warm_steps, "and_weights": args.and_weights}
                                              if args.role == "size" else {})}, indent=1))
