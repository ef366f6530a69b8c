"""`igebm train | sample | demo | info | recipes`: training a run, sampling it, inspecting it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from igebm import io
from igebm.cli.common import count, non_negative_int, positive_float
from igebm.errors import TrainingFault, UserError

def cmd_train(args) -> None:
    from igebm.config import load_config
    from igebm.recipes import find_recipe
    from igebm.training import Trainer

    cfg = load_config(find_recipe(args.config), args.set)
    out = Path(args.out or f"runs/{cfg.run.name}")
    if args.resume and (out / "config.json").is_file():
        # a resume continues the run's own config; --set may change only what a resume can honour
        from igebm.training.run import read_run_config
        cfg = read_run_config(out, args.set)
    from igebm.training import distributed, launch

    world = distributed.env_world()
    if args.nproc and launch.in_worker():
        raise UserError("--nproc starts the processes itself: under torchrun leave it out")
    if args.nproc and args.nproc > 1:  # the launcher: check, then start the workers (docs/distributed.md)
        launch.preflight(cfg, out, args.resume, args.nproc, args.reshard)
        argv = ["train", args.config, "--out", str(out)] + [a for s in args.set for a in ("--set", s)]
        launch.run_workers(args.nproc, argv + ["--resume"] * args.resume + ["--reshard"] * args.reshard)
        return
    device = distributed.init(cfg, world)  # joins the process group under torchrun
    try:
        trainer = distributed.collective(lambda: Trainer(
            cfg, out, resume=args.resume, rank=world.rank, world_size=world.size, reshard=args.reshard,
            device=device))
        summary = trainer.fit()
        del trainer  # DDP's reducer goes before its process group, not at interpreter exit
        distributed.synchronize()  # no rank leaves first: the rendezvous store's host must outlive its clients
    except TrainingFault as exc:  # decided together (a divergence): rank 0 prints it
        exc.already_reported = not world.is_main
        raise
    finally:
        distributed.teardown()
    if world.is_main:
        print(f"trained to step {summary['step']} in {summary['seconds']:.0f}s; run in {out}")
    if world.size > 1:  # every file is written and the group is gone: skip interpreter teardown, where
        sys.stdout.flush()  # gloo's threads can still abort the process (exit -6) after a finished run
        sys.stderr.flush()
        os._exit(0)


def cmd_sample(args) -> None:
    import numpy as np

    import time

    from igebm.tasks.generation import generate, make_labels, pick_batch_size
    from igebm.training import load_run
    from igebm.training.resume import run_threads
    from igebm.training.threads import apply_threads

    run = load_run(args.run_dir, overrides=args.set)
    threads = run_threads(run.cfg.run)
    apply_threads(threads)
    if args.label is not None and not run.labelled:
        raise UserError("--label needs a conditional run; this run is unconditional")
    if args.label is not None and not 0 <= args.label < run.num_classes:
        raise UserError(f"--label {args.label} is out of range: the run has classes 0..{run.num_classes - 1}")
    import torch
    labels = make_labels(run, args.num, args.label, args.all_labels, torch.Generator().manual_seed(args.seed))
    steps = args.steps or run.cfg.eval.headline_steps or run.sampler.steps
    out = Path(args.out or Path(args.run_dir) / "samples.npz")
    for path, flag in ((out, "--out"), (Path(args.grid) if args.grid else None, "--grid")):
        if path is not None and path.is_dir():
            raise UserError(f"{flag} '{path}' is a folder; give a file name")
    batch = args.batch or pick_batch_size(run, args.num)
    t0 = time.perf_counter()
    x = generate(run, args.num, labels, steps, args.seed, batch_size=batch)
    seconds = time.perf_counter() - t0
    if not bool(torch.isfinite(x).all()):
        raise UserError(f"the samples of '{args.run_dir}' are not finite (NaN or inf): the energy is broken; "
                        "nothing was written")
    out.parent.mkdir(parents=True, exist_ok=True)
    lab = labels.numpy() if labels is not None else np.full(args.num, -1)
    io.write_npz(out, images=x.numpy().astype(np.float32), labels=lab.astype(np.int64))
    print(f"wrote {args.num} samples ({steps} steps) to {out}: {args.num / seconds:.1f} images/s, "
          f"{args.num * steps / seconds:,.0f} sample-steps/s (batch {batch}{'' if args.batch else ', picked'}; "
          f"{run.sampler.options.describe(threads)})")
    if args.grid:
        from igebm.grids import save_grid
        save_grid(x.numpy(), args.grid, nrow=10)
        print(f"wrote grid {args.grid}")


def cmd_demo(args) -> None:
    from igebm.report.demo import run_demo
    run_demo(Path(args.out), minutes=args.minutes, overrides=args.set, recipe=args.recipe)


def cmd_info(args) -> None:
    from igebm.training import checkpoint as ckpt
    from igebm.training import load_run, read_metrics

    run = load_run(args.run_dir)
    metrics = read_metrics(run.run_dir)
    last = next((m for m in reversed(metrics) if "loss" in m), {})
    print(f"run:         {run.run_dir}")
    print(f"step:        {run.step} of {run.cfg.train.max_steps}")
    print(f"data/model:  {run.cfg.data.name} / {run.cfg.model.arch} "
          f"({'conditional' if run.conditional else 'unconditional'})")
    print("checkpoints: " + ", ".join(p.name for p in ckpt.list_checkpoints(run.run_dir / "checkpoints")))
    print(f"condition:   {run.cond_spec.kind}" + (f" ({run.cond_spec.num_classes} classes)" if run.labelled else ""))
    if last:
        print("last log:    " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float)))
    summary = run.run_dir / "metrics.json"
    if summary.exists():
        print("metrics:     " + json.dumps(json.loads(summary.read_text()), sort_keys=True))
    if args.config:
        print(json.dumps(run.cfg.to_dict(), indent=2))


def cmd_recipes(args) -> None:
    from igebm.recipes import recipe_names, recipe_summary

    for name in recipe_names():
        print(f"{name:<16} {recipe_summary(name)}")


def register(sub) -> None:
    t = sub.add_parser("train", help="train an EBM from a TOML recipe",
                       description="Train an EBM with contrastive divergence from a TOML recipe.")
    t.add_argument("config", help="recipe name (`igebm recipes` lists them: digits, toy2d, cifar10, ...) or a TOML path")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.lr=1e-4 (repeatable)")
    t.add_argument("--out", help="run directory (default runs/<run.name>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--nproc", type=count, help="data-parallel processes on this machine (through torch's elastic "
                   "launcher, as torchrun --nproc_per_node N -m igebm train ... does); see docs/distributed.md")
    t.add_argument("--reshard", action="store_true", help="allow --resume with another number of processes: "
                   "re-deal the replay buffers over the new ranks (not bit-exact)")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Sample by Langevin dynamics from noise with the run's EMA energy.")
    s.add_argument("run_dir")
    s.add_argument("--num", type=count, default=100, help="number of samples (default 100)")
    s.add_argument("--label", type=non_negative_int, help="class to condition on (conditional runs)")
    s.add_argument("--all-labels", action="store_true", help="cycle through all classes")
    s.add_argument("--steps", type=non_negative_int, help="Langevin steps (default: the run's eval.headline_steps, "
                                             "else its sampler.steps)")
    s.add_argument("--seed", type=non_negative_int, default=0)
    s.add_argument("--batch", type=count, help="chains run at once (default: the smallest batch that fills "
                                                "the machine, measured by a short probe)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a run.* option for sampling, e.g. --set run.precision=bf16 (repeatable)")
    s.add_argument("--out", help="npz file with images (N,C,H,W) float32 in [0,1] and labels (default RUN_DIR/samples.npz)")
    s.add_argument("--grid", help="also write a PNG grid here")
    s.set_defaults(func=cmd_sample)

    d = sub.add_parser("demo", help="train on the digits and write a full report",
                       description="Train the digits recipe, evaluate it and write report.html. "
                                   "Re-running continues or re-evaluates the same run.")
    d.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    d.add_argument("--minutes", type=positive_float, help="cap on training wall-clock minutes")
    d.add_argument("--recipe", default="digits", help="recipe to demo (default digits; digits_uncond for the unconditional one)")
    d.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    d.set_defaults(func=cmd_demo)

    i = sub.add_parser("info", help="show a run's config, step, metrics and checkpoints")
    i.add_argument("run_dir")
    i.add_argument("--config", action="store_true", help="print the full resolved config")
    i.set_defaults(func=cmd_info)


    r = sub.add_parser("recipes", help="list the recipes shipped with igebm",
                       description="The TOML recipes inside the package: `igebm train NAME` runs one.")
    r.set_defaults(func=cmd_recipes)
