"""`igebm fidelity RUN_DIR`: the paper's Inception score and FID (optional extra), and the project's Fréchet."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from igebm import io
from igebm.cli.common import count, non_negative_int
from igebm.errors import UserError


def cmd_fidelity(args) -> None:
    from igebm.evaluation.fidelity import evaluate_fidelity, find_weights
    from igebm.evaluation.judge import run_judge
    from igebm.tasks.generation import generate, make_labels
    from igebm.training import load_run

    find_weights(args.inception_weights)  # a wrong path fails before any sampling
    run = load_run(args.run_dir)
    if not run.dataset("train").is_image:
        raise UserError("igebm fidelity needs an image run")
    steps = args.steps or run.cfg.eval.headline_steps or run.sampler.steps
    labels = make_labels(run, args.num, None, True, torch.Generator().manual_seed(args.seed))
    samples = generate(run, args.num, labels, steps, args.seed)
    ref = torch.from_numpy(run.dataset(args.split).x[: args.num]).float()
    metrics, note = evaluate_fidelity(samples, ref, judge=run_judge(run), weights=args.inception_weights,
                                      device=run.cfg.run.device)
    if note:
        warnings.warn(note, stacklevel=1)
    row = {"steps": steps, "num": args.num, "split": args.split, **{k: round(v, 4) for k, v in metrics.items()}}
    io.write_json(Path(args.run_dir) / "fidelity.json", row)
    print(json.dumps(row))


def register(sub) -> None:
    f = sub.add_parser("fidelity", help="Inception score and FID of a run's samples (optional extra)",
                       description="Sample from noise and report Inception score and FID through torch-fidelity "
                                   "(pip install 'igebm[fidelity]'; weights from --inception-weights or torch's "
                                   "hub cache, never downloaded), and always the project's own Fréchet distance.")
    f.add_argument("run_dir")
    f.add_argument("--num", type=count, default=1000, help="samples (default 1000; the paper used 50,000)")
    f.add_argument("--steps", type=non_negative_int, help="Langevin steps (default: the run's eval.headline_steps)")
    f.add_argument("--split", choices=["train", "val", "test"], default="test", help="reference split (default test)")
    f.add_argument("--inception-weights", metavar="PATH", help="torch-fidelity's Inception weights file")
    f.add_argument("--seed", type=non_negative_int, default=0)
    f.set_defaults(func=cmd_fidelity)
