"""`igebm morph`: cross-class morphing with a class-conditional energy.

Start from test images of class A and run Langevin dynamics conditioned on
class B: the chain walks from an A to a B, and its frames show how. The
independent judge says how many end up as B (success) and how many are still A.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from igebm.errors import UserError
from igebm.report.figures import plot_heatmap, save_gif, save_grid
from igebm.tasks.images import Chain, add_chain_args, refine, require_images
from igebm.training.run import TrainedRun, load_run

DEFAULT_STEPS = 300


def morph(run: TrainedRun, x: np.ndarray, to_labels: np.ndarray, steps: int = DEFAULT_STEPS, frames: int = 8,
          chain: Chain = Chain(), seed: int = 0) -> np.ndarray:
    """Frames (F, N, C, H, W) at evenly spaced step counts 0..steps along one chain from x under `to_labels`."""
    marks = np.linspace(0, steps, max(frames, 2)).round().astype(int)  # at least the start and the end
    g = torch.Generator().manual_seed(seed)
    y = torch.from_numpy(np.asarray(to_labels, dtype=np.int64))
    x_t, out = torch.from_numpy(x), [x]
    for a, b in zip(marks[:-1], marks[1:]):
        if b > a:
            x_t = refine(run, x_t, y, Chain(1, int(b - a), chain.step_size, chain.noise_std, chain.temperature),
                         generator=g)
        out.append(x_t.numpy())
    return np.stack(out)


def morph_pairs(run: TrainedRun, per_pair: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first `per_pair` test images of every class A, once for each target class B != A."""
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
    return np.concatenate(xs), np.array(src), np.array(dst)


def morph_matrix(run: TrainedRun, judge, per_pair: int = 10, steps: int = DEFAULT_STEPS, chain: Chain = Chain(),
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(success, still_source): (K, K) shares judged B / still judged A per ordered pair A -> B.

    The diagonal is NaN."""
    x, src, dst = morph_pairs(run, per_pair)
    end = morph(run, x, dst, steps, 2, chain, seed)[-1]
    pred = judge.predict(end)
    k = run.num_classes
    success, still = np.full((k, k), np.nan), np.full((k, k), np.nan)
    for a in range(k):
        for b in range(k):
            sel = (src == a) & (dst == b)
            if sel.any():
                success[a, b] = (pred[sel] == b).mean()
                still[a, b] = (pred[sel] == a).mean()
    return success, still


def plot_morph_matrix(success: np.ndarray, path: Path) -> Path:
    k = len(success)
    return plot_heatmap(success, path, [f"from {a}" for a in range(k)], [f"to {b}" for b in range(k)],
                        title=f"Morph success (judged as the target), mean {np.nanmean(success):.0%}")


def save_morph_figures(frames: np.ndarray, out: Path, stem: str = "morph") -> tuple[Path, Path]:
    """A strip PNG (one row per image, frames left to right) and an animated GIF of all images."""
    strip = frames.transpose(1, 0, 2, 3, 4).reshape(-1, *frames.shape[2:])
    return (save_grid(strip, out / f"{stem}_strip.png", nrow=len(frames)),
            save_gif(frames, out / f"{stem}.gif", nrow=min(10, frames.shape[1])))


def cmd_morph(args) -> None:
    from igebm.tasks.demo import run_judge
    run = load_run(args.run_dir)
    require_images(run)
    if not run.conditional:
        raise UserError("morph needs a class-conditional run (model.conditional = true)")
    k = run.num_classes
    for name, c in (("--from-class", args.from_class), ("--to-class", args.to_class)):
        if not 0 <= c < k:
            raise UserError(f"{name} {c} is out of range: the run has classes 0..{k - 1}")
    if args.from_class == args.to_class:
        raise UserError(f"--from-class and --to-class are both {args.to_class}; pick two different classes")
    if args.frames < 2 or args.num < 1 or args.steps < 1:
        raise UserError("--frames must be at least 2, --num and --steps at least 1")
    chain = Chain.from_args(args)
    test = run.dataset("test")
    x = test.x[test.y == args.from_class][: args.num]
    if len(x) == 0:
        raise UserError(f"the test split has no images of class {args.from_class}")
    to = np.full(len(x), args.to_class)
    frames = morph(run, x, to, args.steps, args.frames, chain, args.seed)
    pred = run_judge(run).predict(frames[-1])

    out = Path(args.out or Path(args.run_dir) / f"morph_{args.from_class}_to_{args.to_class}")
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "morph.npz", frames=frames, from_labels=np.full(len(x), args.from_class),
                        to_labels=to, frame_steps=np.linspace(0, args.steps, args.frames).round().astype(int))
    save_morph_figures(frames, out)
    metrics = {"from_class": args.from_class, "to_class": args.to_class, "num": int(len(x)), "steps": args.steps,
               "frames": args.frames, **chain.describe(run),
               "share_judged_to": float((pred == args.to_class).mean()),
               "share_still_from": float((pred == args.from_class).mean())}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"after {args.steps} steps the judge labels {metrics['share_judged_to']:.0%} as {args.to_class} "
          f"(the target) and {metrics['share_still_from']:.0%} still as {args.from_class}")
    print(f"wrote {out}/morph.npz, morph_strip.png, morph.gif, metrics.json")


def register(sub) -> None:
    p = sub.add_parser("morph", help="turn test images of one class into another (conditional runs)",
                       description="Cross-class morphing: start at test images of class A and run Langevin "
                                   "dynamics conditioned on class B. Writes morph.npz (frames (F, N, C, H, W), "
                                   "from_labels, to_labels), morph_strip.png, morph.gif and metrics.json with the "
                                   "share the judge labels B at the end and the share still labelled A.")
    p.add_argument("run_dir", help="a trained class-conditional run")
    p.add_argument("--from-class", type=int, required=True, help="class A of the starting test images")
    p.add_argument("--to-class", type=int, required=True, help="class B to condition on")
    p.add_argument("--num", type=int, default=10, help="number of test images of class A (default 10)")
    p.add_argument("--frames", type=int, default=8, help="frames kept along the chain, start and end included "
                                                         "(default 8)")
    add_chain_args(p, None, DEFAULT_STEPS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default RUN_DIR/morph_A_to_B)")
    p.set_defaults(func=cmd_morph)
