"""`igebm compose | flow2d`: combine trained energies (AND, OR, NOT) and picture 2-D energy flows."""

from __future__ import annotations

import math
from pathlib import Path

from igebm.cli.common import positive_int
from igebm.errors import UserError

DEFAULT_STEPS = 100  # tuned on the validation pairs (docs/composition.md)
EXPERT_HELP = ("a trained run and the attribute values to condition it on, RUN_DIR:KEY=VALUE[,KEY=VALUE...], "
               "e.g. runs/shapes_size:size=0.3 or runs/shapes_position:x=0.25,y=0.7 (repeat per expert); "
               "RUN1+RUN2+...:KEY=VALUE averages the energies of seeds of one recipe (a seed ensemble)")


def member_paths(path: str) -> list[str]:
    """'RUN1+RUN2' -> ['RUN1', 'RUN2'], the runs of a seed ensemble; a folder whose own name has a '+' stays whole."""
    if "+" not in path or Path(path).is_dir():
        return [path]
    members = path.split("+")
    if not all(members):
        raise UserError(f"malformed run list '{path}' in --expert: expected RUN1+RUN2 (run folders joined by '+')")
    return members


def parse_expert(text: str) -> tuple[str, dict[str, float]]:
    """'RUN:size=0.3,x=0.2' -> ('RUN', {'size': 0.3, 'x': 0.2}); malformed pairs are one-line errors."""
    path, sep, pairs = text.rpartition(":")
    if not sep:
        return text, {}
    if not path:
        raise UserError(f"malformed --expert '{text}': expected RUN_DIR:KEY=VALUE[,KEY=VALUE...]")
    attrs: dict[str, float] = {}
    for pair in pairs.split(","):
        key, eq, value = (s.strip() for s in pair.partition("="))
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not eq or not key or not math.isfinite(number):
            raise UserError(f"malformed KEY=VALUE '{pair}' in --expert '{text}': expected e.g. size=0.3 "
                            "(a name, '=', a finite number; pairs separated by commas)")
        if key in attrs:
            raise UserError(f"attribute '{key}' is given twice in --expert '{text}'")
        attrs[key] = number
    return path, attrs


def _check_op(op: str, n: int) -> None:
    if op == "not" and n != 2:
        raise UserError(f"--op not needs two experts (keep the first, negate the second); got {n}")
    if op == "or" and n < 2:
        raise UserError("--op or needs at least two experts")


def cmd_compose(args) -> None:
    import numpy as np
    import torch

    from igebm import io
    from igebm.grids import save_grid
    from igebm.tasks.composition import (build_composite, calibrate_offsets, expert_from_runs, requested_attributes,
                                         sample_composite, sample_mixture)
    from igebm.tasks.composition.compose import check_same_shape
    from igebm.training import load_run

    specs = [parse_expert(e) for e in args.expert]
    _check_op(args.op, len(specs))
    if args.weight is not None and len(args.weight) != len(specs):
        raise UserError(f"{len(args.weight)} --weight values for {len(specs)} experts: give one per expert")
    if args.temperature <= 0 or not math.isfinite(args.temperature):
        raise UserError("--temperature must be a positive number")
    if args.calibrate and args.op != "or":
        raise UserError("--calibrate applies to --op or only (it gives each OR term equal mass)")
    if args.ancestral and args.op != "or":
        raise UserError("--ancestral applies to --op or only (for and/not, start the chains with --warm-start K)")
    if args.ancestral and args.mode != "sum":
        raise UserError(f"--ancestral samples with the summed gradient; drop --mode {args.mode}")
    if args.warm_steps is not None and args.warm_start is None and not args.ancestral:
        raise UserError("--warm-steps sets the first stage of --warm-start K or --ancestral; give one of them")
    if args.warm_start is not None:
        if args.op == "or":
            raise UserError("--warm-start applies to --op and/not; for or, use --ancestral (each part first)")
        if not 1 <= args.warm_start <= len(specs):
            raise UserError(f"--warm-start {args.warm_start}: give the number of an expert, 1 to {len(specs)}")
        if args.op == "not" and args.warm_start != 1:
            raise UserError(f"--warm-start {args.warm_start} with --op not would start the chains where the negated "
                            "expert is low; use --warm-start 1")
    members = [[load_run(m) for m in member_paths(path)] for path, _ in specs]
    runs = [ms[0] for ms in members]
    check_same_shape(runs)  # across experts; expert_from_runs checks within a seed ensemble
    experts = [expert_from_runs(ms, f"expert '{p}'") for ms, (p, _) in zip(members, specs)]
    g = torch.Generator().manual_seed(args.seed)
    x0 = runs[0].noise(args.num, g)
    steps = args.steps or DEFAULT_STEPS
    energy = build_composite(experts, [a for _, a in specs], args.op, args.weight, args.temperature)
    if args.calibrate:
        calibrate_offsets(energy, runs[0].sampler, x0, steps, g)
        print("OR offsets (each term's mean energy over its own samples): "
              + ", ".join(f"{c:.4g}" for c in energy.offsets))
    warm_steps = args.warm_steps or DEFAULT_STEPS
    if args.ancestral:
        res, parts = sample_mixture(energy, runs[0].sampler, x0, steps, g, warm_steps)
        print("chains started per OR part (by estimated mass): "
              + ", ".join(str(int((parts == k).sum())) for k in range(len(specs))))
    else:
        warm = None
        if args.warm_start is not None:
            k = args.warm_start - 1
            warm = experts[k].given(**specs[k][1])
        res = sample_composite(energy, runs[0].sampler, x0, steps, g, args.mode, warm_start=warm,
                               warm_steps=warm_steps)
    x = res.x.numpy().astype(np.float32)
    attrs, names = requested_attributes([a for _, a in specs], args.op, args.num)
    out = Path(args.out)
    io.write_npz(out / "samples.npz", images=x, attributes=attrs, attribute_names=np.array(names, dtype=str))
    save_grid(x, out / "grid.png", nrow=min(10, args.num))
    first = (f"{warm_steps} steps of expert {args.warm_start} alone, then " if args.warm_start is not None else
             f"{warm_steps} steps of each part alone, then " if args.ancestral else "")
    print(f"wrote {args.num} samples of {args.op.upper()} of {len(specs)} experts ({first}{steps} steps, {args.mode}) "
          f"to {out / 'samples.npz'} and {out / 'grid.png'}")


def _load_energy2d(spec: str):
    from igebm.models.algebra import Wrapped
    from igebm.tasks.composition import analytic_energy
    from igebm.training import load_run

    if Path(spec).is_dir():
        run = load_run(spec)
        if run.dataset("train").shape != (2,):
            raise UserError(f"run '{spec}' is not a 2-D run (its inputs have shape {run.dataset('train').shape})")
        if run.conditional:
            raise UserError(f"run '{spec}' is conditional; flow2d takes unconditional 2-D runs")
        w = Wrapped(run.energy)
        w.label = Path(spec).name
        return w
    return analytic_energy(spec)


def cmd_flow2d(args) -> None:
    from igebm.models.algebra import AND, NOT, OR
    from igebm.report.composition_figures import flow_gif, plot_flow
    from igebm.tasks.composition.energies2d import grid_energy
    from igebm.tasks.composition.flow import flow_sampler, flow_trajectories, grid_starts

    _check_op(args.op, len(args.energy))
    if args.weight is not None and len(args.weight) != len(args.energy):
        raise UserError(f"{len(args.weight)} --weight values for {len(args.energy)} energies: give one per energy")
    if not (args.step_size > 0 and math.isfinite(args.step_size)):
        raise UserError("--step-size must be a positive number")
    energies = [_load_energy2d(s) for s in args.energy]
    if args.op == "and":
        combo, name = AND(*energies, weights=args.weight), "sum (AND)"
    elif args.op == "or":
        combo, name = OR(*energies, weights=args.weight, temperature=args.temperature), "mixture (OR)"
    else:
        w = args.weight or [1.0, 0.5]
        combo, name = NOT(energies[0], energies[1], w[1], w[0]), f"NOT: E1 - {w[1]:g} E2"
    starts = grid_starts(args.grid, args.box * 0.9)
    sampler = flow_sampler(args.step_size, not args.no_noise, args.steps)
    panels = []
    for i, e in enumerate([*energies, combo]):
        title = getattr(e, "label", f"E{i + 1}") if i < len(energies) else name
        traj = flow_trajectories(e, starts.clone(), args.steps, args.step_size, args.seed,
                                 max(1, args.steps // 60), sampler)
        panels.append({"title": title, "grid": grid_energy(e, args.box, 200), "traj": traj})
    out = Path(args.out)
    plot_flow(panels, out, args.box)
    print(f"wrote {out}")
    if args.gif:
        gif = flow_gif(panels, out.with_suffix(".gif"), args.box)
        print(f"wrote {gif}")


def _weights(p) -> None:
    p.add_argument("--weight", type=float, nargs="+", action="extend", metavar="W",
                   help="one weight per expert (default 1; for --op not, 1 and 0.5: E1 - 0.5 E2)")


def register(sub) -> None:
    c = sub.add_parser("compose", help="sample a composition (AND, OR, NOT) of trained conditional runs",
                       description="Combine trained energies with bound attributes, e.g. a size model AND a "
                                   "position model, and sample the result by Langevin dynamics. Writes "
                                   "DIR/samples.npz (images, attributes with NaN where none was asked, "
                                   "attribute_names) and DIR/grid.png.")
    c.add_argument("--expert", action="append", required=True, metavar="RUN_DIR:KEY=VALUE,...", help=EXPERT_HELP)
    c.add_argument("--op", choices=["and", "or", "not"], default="and",
                   help="and: sum of energies (product of experts); or: -T logsumexp(-E_i/T) (mixture); "
                        "not: E1 - w E2 (two experts)")
    _weights(c)
    c.add_argument("--temperature", type=float, default=1.0, help="the OR temperature T (default 1)")
    c.add_argument("--calibrate", action="store_true",
                   help="OR: shift each term by the mean energy of its own samples, so each mode gets equal mass "
                        "(a conditional energy is not normalised per condition)")
    c.add_argument("--warm-start", type=positive_int, metavar="K",
                   help="and/not: the chains first sample expert K (1 = the first --expert) alone, unweighted, then "
                        "the composite; place first what only one expert knows how to place (docs/composition.md)")
    c.add_argument("--ancestral", action="store_true",
                   help="or: sample each part alone first, share the chains among the parts by their estimated "
                        "mass, then run the mixture; Langevin from noise rarely crosses between its modes")
    c.add_argument("--warm-steps", type=positive_int,
                   help=f"steps of that first stage, per expert (default {DEFAULT_STEPS})")
    c.add_argument("--num", type=positive_int, default=64, help="number of samples (default 64)")
    c.add_argument("--steps", type=positive_int, help=f"Langevin steps (default {DEFAULT_STEPS})")
    c.add_argument("--mode", choices=["sum", "alternate", "alternate-full-noise"], default="sum",
                   help="sum: one step on the summed energy (default); alternate: one step per expert in turn "
                        "(noise split among them); alternate-full-noise: full noise at each, as in the released code")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", default="runs/compose", help="output folder (default runs/compose)")
    c.set_defaults(func=cmd_compose)

    f = sub.add_parser("flow2d", help="contours and Langevin trajectories of 2-D energies and their combination",
                       description="Draw each 2-D energy and their combination as contour maps side by side, with "
                                   "Langevin trajectories from a grid of starts. An energy is a trained 2-D run "
                                   "directory or an analytic one: gaussian[:MX,MY[,STD]], ring[:R[,WIDTH]], "
                                   "halfplane[:NX,NY[,OFFSET[,SHARPNESS]]].")
    f.add_argument("--energy", action="append", required=True, metavar="RUN_DIR|NAME[:PARAMS]",
                   help="an energy (repeat; two or more for or/not)")
    f.add_argument("--op", choices=["and", "or", "not"], default="and")
    _weights(f)
    f.add_argument("--temperature", type=float, default=1.0, help="the OR temperature (default 1)")
    f.add_argument("--steps", type=positive_int, default=300, help="Langevin steps (default 300)")
    f.add_argument("--step-size", type=float, default=0.01, help="ULA step size (default 0.01)")
    f.add_argument("--no-noise", action="store_true", help="plain gradient descent (the flow lines only)")
    f.add_argument("--grid", type=positive_int, default=8, help="starts on a GRID x GRID lattice (default 8)")
    f.add_argument("--box", type=float, default=4.0, help="draw [-BOX, BOX]^2 (default 4)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", default="flow2d.png", help="PNG to write (default flow2d.png)")
    f.add_argument("--gif", action="store_true", help="also write an animated GIF next to it (same name, .gif)")
    f.set_defaults(func=cmd_flow2d)
