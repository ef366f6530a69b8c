"""Composition benchmark: zero-shot (size, position) pairs, baselines, OR/NOT on shapes, MMD on 2-D energies.

Usage:
    python benchmarks/composition.py [--out runs/composition] [--parts train,shapes,ornot,mmd,figures] [--split val|test]
        [--steps 100] [--mode sum] [--num 32] [--not-weight 0.5] [--json OUT.json]
        [--size-set KEY=VALUE ...] [--position-set KEY=VALUE ...] [--baselines DIR] [--rows all|tune] [--own-steps S]
        [--and-weights A,B] [--warm-steps W] [--or-sampling langevin|ancestral] [--or-steps S] [--or-part-steps S]
        [--size-runs RUN[+RUN...]] [--position-runs RUN[+RUN...]]

- train: trains (once; skipped when the run exists) the size expert (recipe shapes_size), the position
  expert (shapes_position) and the union EBM (shapes_position's settings with data.name=shapes_union,
  conditioned on size, x, y, 1,000 steps), one after the other, each under the recipes' time cap (the position
  expert's and the union's training lengths were chosen on val with benchmarks/composition_checkpoints.py);
  then the evaluation-only read-back regressor on shapes_full and the feed-forward decoder baseline (MSE on
  shapes_union).
- shapes: read-back errors on the zero-shot pairs (val pairs to tune, test pairs to report) for AND of
  the two experts (with --warm-steps W, the chains first sample the position expert alone for W steps), each expert alone, the union EBM and the decoder; each expert at its own training
  settings; OR of two positions (shares; --or-sampling ancestral samples each part first and shares the
  chains by estimated mass) and NOT of one of them (removal).
- mmd: AND, OR and NOT of analytic 2-D energies sampled by ULA (summed and alternating) against exact
  grid samples, next to the MMD between two exact sets of the same size.
Run at one thread: OMP_NUM_THREADS=1 MKL_NUM_THREADS=1. Prints tables, writes one JSON.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from igebm.config import load_config
from igebm.data.shapes import FIXED_POS, FIXED_SIZE, load_shapes
from igebm.errors import UserError
from igebm.evaluation.baselines.decoder import ConditionalDecoder, train_decoder
from igebm.evaluation.composition import (AttributeRegressor, binder, compose_and_sample, load_regressor, mmd,
                                          moment_readback, position_shares, readback_table, train_regressor,
                                          zero_shot_pairs)
from igebm.models.algebra import NOT, OR
from igebm.recipes import find_recipe
from igebm.sampling import LangevinSampler
from igebm.sampling.hmc import MALASampler
from igebm.tasks.composition import (analytic_energy, calibrate_offsets, exact_samples, expert_from_run,
                                     expert_from_runs, sample_composite, sample_mixture)
from igebm.training import Trainer, load_run

torch.set_num_threads(1)
p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--out", default="runs/composition")
p.add_argument("--parts", default="train,shapes,ornot,mmd,figures")
p.add_argument("--split", choices=["val", "test"], default="test")
p.add_argument("--steps", type=int, default=100)
p.add_argument("--mode", default="sum", choices=["sum", "alternate", "alternate-full-noise"])
p.add_argument("--num", type=int, default=32, help="samples per pair")
p.add_argument("--not-weight", type=float, default=0.5)
p.add_argument("--or-temperature", type=float, default=1.0)
p.add_argument("--or-calibrate", action="store_true", help="shift each OR term by its own samples' mean energy")
p.add_argument("--and-weights", default="1,1", help="weights of the size and position experts in AND")
p.add_argument("--warm-steps", type=int, default=0,
               help="AND: the chains first sample the position expert alone for this many steps (the union EBM: "
                    "itself at the position split's size), then the composite for --steps")
p.add_argument("--or-sampling", choices=["langevin", "ancestral"], default="langevin",
               help="OR: Langevin on the mixture from noise, or each part alone first, chains shared by mass")
p.add_argument("--or-steps", type=int, help="OR and NOT of positions: Langevin steps (default --steps)")
p.add_argument("--or-part-steps", type=int, help="ancestral OR: steps of each part alone (default --or-steps)")
p.add_argument("--ula-step", type=float, default=0.03, help="ULA step of the 2-D MMD (0.03: tuned on val)")
p.add_argument("--size-set", action="append", default=[], metavar="KEY=VALUE",
               help="config override for training the size expert (repeatable), e.g. model.invariance=none")
p.add_argument("--position-set", action="append", default=[], metavar="KEY=VALUE",
               help="config override for training the position expert (repeatable)")
p.add_argument("--rows", choices=["all", "tune"], default="all",
               help="tune: only AND (summed) and the union EBM, the rows whose step count is chosen on val")
p.add_argument("--own-steps", type=int, help="steps for each expert at its own training setting (default --steps; "
               "chosen on val apart, since the 1.5x target compares against each expert at its best)")
p.add_argument("--size-runs", help="the size expert: a run, or seeds of its recipe joined by '+' (a seed ensemble, "
               "their mean energy; default OUT/size)")
p.add_argument("--position-runs", help="the position expert, likewise (default OUT/position)")
p.add_argument("--baselines", help="folder holding the union EBM, regressor and decoder (default: --out)")
p.add_argument("--json")
args = p.parse_args()
out = Path(args.out)
base = Path(args.baselines or args.out)  # union EBM, read-back regressor, decoder: shared by expert variants
parts = args.parts.split(",")
results: dict = {"split": args.split, "steps": args.steps, "mode": args.mode}

RUNS = {"size": ("shapes_size", args.size_set), "position": ("shapes_position", args.position_set),
        "union": ("shapes_position", ["data.name=shapes_union", "run.name=shapes_union", "model.invariance=none",
                              "train.max_steps=1000"])}  # its length chosen on val (composition_checkpoints.py)


def train_all() -> None:
    for name, (recipe, sets) in RUNS.items():
        run_dir = (base if name == "union" else out) / name
        if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
            continue
        t = time.time()
        cfg = load_config(find_recipe(recipe), sets + ["train.progress=false"])
        summary = Trainer(cfg, run_dir).fit()
        print(f"trained {name}: step {summary['step']} in {time.time() - t:.0f}s")
        results.setdefault("train_seconds", {})[name] = round(time.time() - t)
    reg_path = base / "regressor.safetensors"
    if not reg_path.exists():
        t = time.time()
        reg, info = train_regressor()
        save_file(reg.state_dict(), str(reg_path))
        (base / "regressor.json").write_text(json.dumps({**info, "seconds": round(time.time() - t)}))
        print("regressor", info, f"{time.time() - t:.0f}s")
    dec_path = base / "decoder.safetensors"
    if not dec_path.exists():
        t = time.time()
        union = load_shapes("shapes_union", "train")
        ebm_params = sum(p.numel() for p in load_run(base / "union").energy.parameters())
        width = 8  # the widest decoder with no more parameters than the EBM
        while sum(p.numel() for p in ConditionalDecoder(3, 16, width + 2).parameters()) <= ebm_params:
            width += 2
        dec = train_decoder(torch.from_numpy(union.x), torch.from_numpy(union.attributes), 16, width)
        save_file(dec.state_dict(), str(dec_path))
        n_dec = sum(p.numel() for p in dec.parameters())
        (base / "decoder.json").write_text(json.dumps({"width": width, "params": n_dec, "ebm_params": ebm_params,
                                                      "seconds": round(time.time() - t)}))
        print(f"decoder width {width}: {n_dec} parameters (EBM {ebm_params}), {time.time() - t:.0f}s")


def fail(msg: str) -> None:
    print(f"composition.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def regressor() -> AttributeRegressor:
    try:
        return load_regressor(base)
    except UserError as exc:
        fail(str(exc))


def decoder() -> ConditionalDecoder:
    info = json.loads((base / "decoder.json").read_text())
    dec = ConditionalDecoder(3, 16, info["width"])
    dec.load_state_dict(load_file(str(base / "decoder.safetensors")))
    return dec.eval()


def expert(kind: str) -> tuple[list, object]:
    """The size or position expert's runs (one, or the seeds of a seed ensemble: --size-runs A+B) and the expert."""
    given = args.size_runs if kind == "size" else args.position_runs
    try:
        runs = [load_run(d) for d in (given or str(out / kind)).split("+")]
        return runs, expert_from_runs(runs, kind)
    except UserError as exc:
        fail(str(exc))


def fmt(row: dict) -> str:
    keys = ["size_err", "pos_err", "moment_size_err", "moment_pos_err"]
    return " | ".join(f"{row[k]:.4f}" if k in row else "-" for k in keys)


def shapes_part() -> None:
    from igebm.grids import save_grid

    reg = regressor()
    (size_runs, size_e), (pos_runs, pos_e) = expert("size"), expert("position")
    size_run, union_run = size_runs[0], load_run(base / "union")
    union_e = expert_from_run(union_run, "union")
    results["size_runs"], results["position_runs"] = ([str(r.run_dir) for r in rs] for rs in (size_runs, pos_runs))
    sampler = size_run.sampler
    pairs = zero_shot_pairs(args.split)
    req = np.repeat(pairs, args.num, axis=0)
    seed = 0 if args.split == "test" else 1
    noise = size_run.noise
    rows = {}
    fig = out / "figures"
    fig.mkdir(parents=True, exist_ok=True)

    and_w = [float(w) for w in args.and_weights.split(",")]
    results["and_weights"] = and_w

    results["warm_steps"] = args.warm_steps
    warm_union = req.copy()
    warm_union[:, 0] = FIXED_SIZE  # the union EBM's warm start: itself at the position split's setting

    def run(name, experts, bind, requested, mode=args.mode, weights=None, warm=True):
        t = time.time()
        w = weights or (and_w if len(experts) == 2 else None)
        k = None if not (warm and args.warm_steps) else (1 if len(experts) == 2 else 0)
        x = compose_and_sample(experts, bind, requested, sampler, args.steps, seed, mode, noise, w, k,
                               args.warm_steps, warm_union if len(experts) == 1 else None)
        rows[name] = {**readback_table(x, requested, reg), "seconds": round(time.time() - t, 1)}
        return x

    bind_size, bind_pos, bind_all = binder("size"), binder("x", "y"), binder("size", "x", "y")
    bind_two = lambda i, r: bind_size(i, r) if i == 0 else bind_pos(i, r)
    x_and = run("AND (size expert + position expert)", [size_e, pos_e], bind_two, req)
    if args.rows == "tune":
        run("union EBM (size, x, y)", [union_e], bind_all, req, warm=False)
        if args.warm_steps:
            run("union EBM, warm start at size 0.35", [union_e], bind_all, req)
            run("AND, warm start, then the size expert alone (ablation)", [size_e, pos_e], bind_two, req,
                weights=[and_w[0], 0.0])
        print(json.dumps({k: {m: round(v, 4) for m, v in r.items()} for k, r in rows.items()}))
        results["zero_shot"] = rows
        return
    for mode in ("sum", "alternate", "alternate-full-noise"):
        if mode != args.mode:
            run(f"AND, {mode}", [size_e, pos_e], bind_two, req, mode)
    if args.warm_steps:
        run("AND, warm start, then the size expert alone (ablation)", [size_e, pos_e], bind_two, req,
            weights=[and_w[0], 0.0])
        run("AND from noise (no warm start)", [size_e, pos_e], bind_two, req, warm=False)
    run("size expert alone", [size_e], bind_size, req, warm=False)
    run("position expert alone", [pos_e], bind_pos, req, warm=False)
    x_union = run("union EBM (size, x, y)", [union_e], bind_all, req, warm=False)  # its best on val (RESULTS.md)
    if args.warm_steps:
        run("union EBM, warm start at size 0.35", [union_e], bind_all, req)
    with torch.no_grad():
        x_dec = decoder()(torch.from_numpy(req)).numpy()
    rows["feed-forward decoder (MSE, union)"] = readback_table(x_dec, req, reg)
    # each expert at its own training settings (the attributes requested of its own test split; of its train split when tuning)
    own_steps = args.own_steps or args.steps
    results["own_steps"] = own_steps
    own_split = "test" if args.split == "test" else "train"  # the shapes splits have no val: requested values only
    own_size = load_shapes("shapes_size", own_split).attributes[: len(req), 0]
    r_size = np.column_stack([own_size, np.full((len(own_size), 2), FIXED_POS)]).astype(np.float32)
    req_size = r_size.copy()
    req_size[:, 1:] = np.nan
    x_own = compose_and_sample([size_e], bind_size, r_size, sampler, own_steps, seed, "sum", noise)
    rows["size expert, own setting (centre)"] = readback_table(x_own, req_size, reg)
    own_pos = load_shapes("shapes_position", own_split).attributes[: len(req)]
    r_pos = np.column_stack([np.full(len(own_pos), FIXED_SIZE), own_pos]).astype(np.float32)
    req_pos = r_pos.copy()
    req_pos[:, 0] = np.nan
    x_own_p = compose_and_sample([pos_e], bind_pos, r_pos, sampler, own_steps, seed, "sum", noise)
    rows["position expert, own setting (size 0.35)"] = readback_table(x_own_p, req_pos, reg)
    for kind, runs_k, bind_k, r_k, req_k in (("size", size_runs, bind_size, r_size, req_size),
                                             ("position", pos_runs, bind_pos, r_pos, req_pos)):
        for i, r in enumerate(runs_k if len(runs_k) > 1 else []):  # a seed ensemble's spread: each member alone
            x_m = compose_and_sample([expert_from_run(r, kind)], bind_k, r_k, sampler, own_steps, seed, "sum", noise)
            rows[f"{kind} member {i + 1} ({r.run_dir}) alone, own setting"] = readback_table(x_m, req_k, reg)
    print(f"\n### Zero-shot pairs ({args.split}: {len(pairs)} pairs x {args.num}; {args.steps} steps, {args.mode})\n")
    print("| model | size err (regressor) | pos err (regressor) | size err (moments) | pos err (moments) |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {fmt(row)} |")
    results["zero_shot"] = rows
    comp = rows["AND (size expert + position expert)"]
    own_s, own_p = rows["size expert, own setting (centre)"], rows["position expert, own setting (size 0.35)"]
    results["targets"] = {
        "size_within_1.5x": comp["size_err"] <= 1.5 * own_s["size_err"],
        "size_ratio": comp["size_err"] / own_s["size_err"],
        "pos_within_1.5x": comp["pos_err"] <= 1.5 * own_p["pos_err"],
        "pos_ratio": comp["pos_err"] / own_p["pos_err"],
        "beats_union_ebm": comp["size_err"] + comp["pos_err"] < sum(rows["union EBM (size, x, y)"][k]
                                                                     for k in ("size_err", "pos_err")),
        "beats_decoder": comp["size_err"] + comp["pos_err"] < sum(rows["feed-forward decoder (MSE, union)"][k]
                                                                   for k in ("size_err", "pos_err"))}
    print("\ntargets:", json.dumps(results["targets"]))
    for name, x in (("and", x_and), ("union", x_union), ("decoder", x_dec)):
        save_grid(x.reshape(len(pairs), args.num, *x.shape[1:])[:, :8].transpose(1, 0, 2, 3, 4).reshape(-1, *x.shape[1:]),
                  fig / f"zero_shot_{name}.png", nrow=len(pairs))



def or_not_part() -> None:
    """OR of two positions (shares) and NOT of one of them (removal), read back by the regressor."""
    from igebm.grids import save_grid

    reg = regressor()
    size_run, pos_e = expert("size")[0][0], expert("position")[1]
    sampler, noise = size_run.sampler, size_run.noise
    seed = 0 if args.split == "test" else 1
    fig = out / "figures"
    fig.mkdir(parents=True, exist_ok=True)
    centres = [(0.3, 0.5), (0.7, 0.5)] if args.split == "test" else [(0.5, 0.3), (0.5, 0.7)]
    n = 200
    or_steps = args.or_steps or args.steps
    a, b = (pos_e.given(x=cx, y=cy) for cx, cy in centres)
    either = OR(a, b, temperature=args.or_temperature)
    if args.or_calibrate:
        g = torch.Generator().manual_seed(seed)
        calibrate_offsets(either, sampler, noise(n, g), or_steps, g)
    g = torch.Generator().manual_seed(seed)
    x_or = sample_composite(either, sampler, noise(n, g), or_steps, g, "sum").x.numpy()
    langevin_shares = position_shares(reg.predict(x_or), centres)
    if args.or_sampling == "ancestral":
        g = torch.Generator().manual_seed(seed)
        res, chain_parts = sample_mixture(either, sampler, noise(n, g), or_steps, g, args.or_part_steps)
        x_or = res.x.numpy()
        results["or_ancestral_started"] = [float((chain_parts == k).float().mean()) for k in range(2)]
    shares = position_shares(reg.predict(x_or), centres)
    shares_m = position_shares(moment_readback(x_or), centres)
    g = torch.Generator().manual_seed(seed)
    x_not = sample_composite(NOT(either, a, args.not_weight), sampler, noise(n, g), or_steps, g, "sum").x.numpy()
    removed = position_shares(reg.predict(x_not), centres)
    removed_m = position_shares(moment_readback(x_not), centres)
    results["or_not"] = {"centres": centres, "or_shares": shares, "or_shares_moments": shares_m, "or_shares_langevin_from_noise": langevin_shares,
                         "or_temperature": args.or_temperature, "or_sampling": args.or_sampling, "or_steps": or_steps,
                         "or_part_steps": args.or_part_steps, "or_calibrated": args.or_calibrate, "or_offsets": either.offsets, "not_weight": args.not_weight, "not_shares": removed, "not_shares_moments": removed_m,
                         "or_within_40_60": 0.4 <= shares[0] <= 0.6}
    print(f"\nOR of positions {centres} ({args.or_sampling}): shares {shares} (moments {shares_m}); "
          f"Langevin from noise: {langevin_shares}")
    print(f"(OR) NOT {centres[0]} (w {args.not_weight}): shares {removed} (moments {removed_m})")
    save_grid(x_or[:40], fig / "or_positions.png", nrow=10)
    save_grid(x_not[:40], fig / "not_position.png", nrow=10)


def mmd_part() -> None:
    ops = {
        "AND: ring & halfplane": analytic_energy("ring:2,0.25") & analytic_energy("halfplane:1,0,0"),
        "OR: gaussian | gaussian": OR(analytic_energy("gaussian:-1.5,0,0.5"), analytic_energy("gaussian:1.5,0,0.5")),
        "NOT: ring - 0.5 gaussian": NOT(analytic_energy("ring:2,0.25"), analytic_energy("gaussian:2,0,1"), 0.5),
    }
    n, seeds = 1000, (0, 1, 2) if args.split == "test" else (10,)
    rows = {}
    for name, e in ops.items():
        row = {"exact_vs_exact": []}
        for s in seeds:
            rng = np.random.default_rng(s)
            ref = exact_samples(e, n, rng)
            row["exact_vs_exact"].append(mmd(ref, exact_samples(e, n, rng)))
            g = torch.Generator().manual_seed(s)
            x0 = (torch.rand((n, 2), generator=g) * 2 - 1) * 3.5
            for mode in ("sum", "alternate", "alternate-full-noise") if "AND" in name or "NOT" in name else ("sum",):
                ula = LangevinSampler(steps=2000, step_size=args.ula_step, noise_std=0, grad_clip=0,
                                      parameterization="ula", clamp=None)
                x = sample_composite(e, ula, x0, 2000, torch.Generator().manual_seed(s), mode).x.numpy()
                row.setdefault(f"ula_{mode}", []).append(mmd(ref, x))
            mala = MALASampler(steps=2000, step_size=args.ula_step, clamp=None)  # Metropolis-corrected, summed
            x = sample_composite(e, mala, x0, 2000, torch.Generator().manual_seed(s), "sum").x.numpy()
            row.setdefault("mala_sum", []).append(mmd(ref, x))
        rows[name] = {k: float(np.mean(v)) for k, v in row.items()}
        rows[name]["ratios"] = {k: rows[name][k] / rows[name]["exact_vs_exact"] for k in rows[name]
                                if k != "exact_vs_exact"}
    print(f"\n### MMD against exact samples (n {n}, seeds {seeds}, ULA step {args.ula_step}, 2000 steps)\n")
    for name, row in rows.items():
        print(name, json.dumps({k: (round(v, 4) if isinstance(v, float) else {a: round(b, 2) for a, b in v.items()})
                                for k, v in row.items()}))
    results["mmd"] = rows


if "train" in parts:
    train_all()
if "shapes" in parts:
    shapes_part()
if "ornot" in parts:
    or_not_part()
if "mmd" in parts:
    mmd_part()
if "figures" in parts:  # the 2-D flow pictures and the report section (after the shapes part)
    from igebm.cli import main as igebm
    from igebm.report.sections.composition import add_composition

    f = out / "figures"
    igebm(["flow2d", "--energy", "ring:2,0.25", "--energy", "halfplane:1,0,0", "--out", str(f / "flow_and.png"), "--gif"])
    igebm(["flow2d", "--energy", "gaussian:-1.5,0,0.5", "--energy", "gaussian:1.5,0,0.5", "--op", "or",
           "--out", str(f / "flow_or.png")])
    igebm(["flow2d", "--energy", "ring:2,0.25", "--energy", "gaussian:2,0,1", "--op", "not",
           "--out", str(f / "flow_not.png")])
    prior = out / f"composition_{args.split}.json"
    if "zero_shot" not in results and prior.exists():
        results = {**json.loads(prior.read_text()), **{k: v for k, v in results.items() if k == "mmd"}}
    figs = [(f"figures/{n}.png", c) for n, c in (
        ("zero_shot_and", "AND of the size and position experts: one column per zero-shot pair"),
        ("zero_shot_union", "the union EBM on the same pairs"), ("zero_shot_decoder", "the MSE decoder"),
        ("or_positions", "OR of two positions"), ("not_position", "OR of two positions NOT the first"),
        ("flow_and", "ring AND half-plane: contours and Langevin trajectories"),
        ("flow_or", "OR of two Gaussians"), ("flow_not", "ring NOT a Gaussian"))]
    print("wrote", add_composition(out, results, [x for x in figs if (out / x[0]).exists()]))
path = Path(args.json or out / f"composition_{args.split}.json")
if "zero_shot" in results or "mmd" in results:
    path.write_text(json.dumps(results, indent=1, default=float))
    print(f"\nwrote {path}")
