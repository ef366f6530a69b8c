"""The `igebm` command: train, sample, demo, info, and the task commands.

User mistakes raise `UserError`; `main` prints them as one line and exits 2
(3 when training diverged), never with a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from igebm.errors import UserError

# Task modules that add their own subcommands through `register(subparsers)`.
TASK_COMMANDS = [
    "igebm.tasks.complete",
    "igebm.tasks.restore",
    "igebm.tasks.morph",
    "igebm.tasks.steps_curve",
    "igebm.tasks.ood",
    "igebm.tasks.robustness",
]


def cmd_train(args) -> None:
    from igebm.config import load_config
    from igebm.recipes import find_recipe
    from igebm.training import Trainer

    cfg = load_config(find_recipe(args.config), args.set)
    out = Path(args.out or f"runs/{cfg.run.name}")
    trainer = Trainer(cfg, out, resume=args.resume)
    summary = trainer.fit()
    print(f"trained to step {summary['step']} in {summary['seconds']:.0f}s; run in {out}")


def cmd_sample(args) -> None:
    import numpy as np

    from igebm.tasks.generate import generate, make_labels
    from igebm.training import load_run

    run = load_run(args.run_dir)
    if args.label is not None and not run.conditional:
        raise UserError("--label needs a conditional run; this run is unconditional")
    if args.label is not None and not 0 <= args.label < run.num_classes:
        raise UserError(f"--label {args.label} is out of range: the run has classes 0..{run.num_classes - 1}")
    import torch
    labels = make_labels(run, args.num, args.label, args.all_labels, torch.Generator().manual_seed(args.seed))
    steps = args.steps or run.cfg.eval.headline_steps or run.sampler.steps
    x = generate(run, args.num, labels, steps, args.seed)
    out = Path(args.out or Path(args.run_dir) / "samples.npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    lab = labels.numpy() if labels is not None else np.full(args.num, -1)
    np.savez_compressed(out, images=x.numpy().astype(np.float32), labels=lab.astype(np.int64))
    print(f"wrote {args.num} samples ({steps} steps) to {out}")
    if args.grid:
        from igebm.report.figures import save_grid
        save_grid(x.numpy(), args.grid, nrow=10)
        print(f"wrote grid {args.grid}")


def cmd_demo(args) -> None:
    from igebm.tasks.demo import run_demo
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
    if last:
        print("last log:    " + ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float)))
    summary = run.run_dir / "metrics.json"
    if summary.exists():
        print("metrics:     " + json.dumps(json.loads(summary.read_text()), sort_keys=True))
    if args.config:
        print(json.dumps(run.cfg.to_dict(), indent=2))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="igebm", description=(
        "Energy-based models (Du & Mordatch 2019): train with contrastive divergence and "
        "Langevin dynamics, sample, complete and repair images, detect OOD inputs, classify robustly."))
    p.add_argument("--version", action="version", version="igebm 0.1.0")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train an EBM from a TOML recipe",
                       description="Train an EBM with contrastive divergence from a TOML recipe.")
    t.add_argument("config", help="recipe path or name in configs/ (digits, toy2d, cifar10, ...)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.lr=1e-4 (repeatable)")
    t.add_argument("--out", help="run directory (default runs/<run.name>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Sample by Langevin dynamics from noise with the run's EMA energy.")
    s.add_argument("run_dir")
    s.add_argument("--num", type=int, default=100, help="number of samples (default 100)")
    s.add_argument("--label", type=int, help="class to condition on (conditional runs)")
    s.add_argument("--all-labels", action="store_true", help="cycle through all classes")
    s.add_argument("--steps", type=int, help="Langevin steps (default: the run's eval.headline_steps, "
                                             "else its sampler.steps)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", help="npz file with images (N,C,H,W) float32 in [0,1] and labels (default RUN_DIR/samples.npz)")
    s.add_argument("--grid", help="also write a PNG grid here")
    s.set_defaults(func=cmd_sample)

    d = sub.add_parser("demo", help="train on the digits and write a full report",
                       description="Train the digits recipe, evaluate it and write report.html. "
                                   "Re-running continues or re-evaluates the same run.")
    d.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    d.add_argument("--minutes", type=float, help="cap on training wall-clock minutes")
    d.add_argument("--recipe", default="digits", help="recipe to demo (default digits; digits_uncond for the unconditional one)")
    d.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    d.set_defaults(func=cmd_demo)

    i = sub.add_parser("info", help="show a run's config, step, metrics and checkpoints")
    i.add_argument("run_dir")
    i.add_argument("--config", action="store_true", help="print the full resolved config")
    i.set_defaults(func=cmd_info)

    for name in TASK_COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # task not built yet
            raise
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        args.func(args)
    except UserError as exc:
        print(f"igebm {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"igebm {args.command}: interrupted; the last checkpoint is kept (resume with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
