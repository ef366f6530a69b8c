"""`igebm morph`: start at images of class A, run Langevin conditioned on class B.

The paper's cross-class demonstration (start at a truck, condition on frog):
one energy, steered by its label, walks an image from one class to another.
Success is judged by the independent classifier: the share labelled B at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from igebm.errors import UserError
from igebm.report.figures import plot_heatmap, save_gif, save_grid
from igebm.tasks.images import refine
from igebm.training.run import TrainedRun, load_run


def morph(run: TrainedRun, x: np.ndarray, to_labels: np.ndarray, steps: int, frames: int, seed: int = 0) -> np.ndarray:
    """Frames (F, N, C, H, W) along the chain from x under labels `to_labels`."""
    every = max(1, steps // max(frames - 1, 1))
    _, trace = refine(run, torch.from_numpy(x), torch.from_numpy(to_labels), 1, steps, seed=seed,
                      record_every=every)
    idx = np.linspace(0, len(trace) - 1, frames).round().astype(int)
    first = torch.from_numpy(x)[None]
    return torch.cat([first, trace[idx[1:]]]).numpy() if frames > 1 else trace[-1:].numpy()


def morph_matrix(run: TrainedRun, judge, per_pair: int = 10, steps: int = 100, seed: int = 0) -> np.ndarray:
    """Success rate for every ordered class pair (A -> B, A != B): share judged B at the end."""
    test = run.dataset("test")
    k = run.num_classes
    xs, src, dst = [], [], []
    for a in range(k):
        xa = test.x[test.y == a][:per_pair]
        for b in range(k):
            if a != b:
                xs.append(xa)
                src += [a] * len(xa)
                dst += [b] * len(xa)
    x, src, dst = np.concatenate(xs), np.array(src), np.array(dst)
    end = refine(run, torch.from_numpy(x), torch.from_numpy(dst), 1, steps, seed=seed).numpy()
    pred = judge.predict(end)
    rate = np.full((k, k), np.nan)
    for a in range(k):
        for b in range(k):
            if a != b:
                sel = (src == a) & (dst == b)
                rate[a, b] = (pred[sel] == b).mean()
    return rate


def cmd_morph(args) -> None:
    from igebm.tasks.demo import run_judge
    run = load_run(args.run_dir)
    if not run.conditional:
        raise UserError("morph needs a class-conditional run (model.conditional = true)")
    k = run.num_classes
    for name, c in (("--from-class", args.from_class), ("--to-class", args.to_class)):
        if not 0 <= c < k:
            raise UserError(f"{name} {c} is out of range: the run has classes 0..{k - 1}")
    if args.frames < 2 or args.num < 1:
        raise UserError("--frames must be at least 2 and --num at least 1")
    test = run.dataset("test")
    x = test.x[test.y == args.from_class][: args.num]
    to = np.full(len(x), args.to_class)
    frames = morph(run, x, to, args.steps, args.frames, args.seed)
    judge = run_judge(run)
    pred = judge.predict(frames[-1])
    out = Path(args.out or Path(args.run_dir) / f"morph_{args.from_class}_to_{args.to_class}")
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "morph.npz", frames=frames, from_labels=np.full(len(x), args.from_class),
                        to_labels=to)
    strip = frames.transpose(1, 0, 2, 3, 4).reshape(-1, *frames.shape[2:])  # one row per image
    save_grid(strip, out / "morph_strip.png", nrow=args.frames)
    save_gif(frames, out / "morph.gif", nrow=min(10, len(x)))
    metrics = {"from_class": args.from_class, "to_class": args.to_class, "num": int(len(x)), "steps": args.steps,
               "share_judged_to": float((pred == args.to_class).mean()),
               "share_still_from": float((pred == args.from_class).mean())}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"{metrics['share_judged_to']:.0%} judged {args.to_class} at the end, "
          f"{metrics['share_still_from']:.0%} still {args.from_class}")
    print(f"wrote {out}/morph.npz, morph_strip.png, morph.gif, metrics.json")


def register(sub) -> None:
    p = sub.add_parser("morph", help="turn test images of one class into another",
                       description="Cross-class morphing: start at test images of class A and run "
                                   "Langevin dynamics conditioned on class B.")
    p.add_argument("run_dir")
    p.add_argument("--from-class", type=int, required=True, help="class A of the starting test images")
    p.add_argument("--to-class", type=int, required=True, help="class B to condition on")
    p.add_argument("--num", type=int, default=10, help="number of images (default 10)")
    p.add_argument("--steps", type=int, default=100, help="Langevin steps (default 100)")
    p.add_argument("--frames", type=int, default=8, help="frames kept along the chain (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default RUN_DIR/morph_A_to_B)")
    p.set_defaults(func=cmd_morph)


def plot_morph_matrix(rate: np.ndarray, path: Path) -> Path:
    k = len(rate)
    return plot_heatmap(np.nan_to_num(rate, nan=0.0), path, [f"from {a}" for a in range(k)],
                        [f"to {b}" for b in range(k)], title="Morph success (judged as target class)")
