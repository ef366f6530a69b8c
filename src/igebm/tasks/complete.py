"""`igebm complete`: fill in hidden pixels by Langevin dynamics on the energy.

As in the paper: the hidden region starts from noise and only it moves (the
sampler's mask); the visible pixels condition the chain through the energy.
S independent chains per input give S different, plausible completions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from igebm.errors import UserError
from igebm.report.figures import save_grid
from igebm.tasks.images import add_input_args, labels_for, parse_mask, read_inputs, refine
from igebm.training.run import TrainedRun, load_run


def complete(run: TrainedRun, x: np.ndarray, mask: np.ndarray, y: torch.Tensor | None, samples: int = 4,
             rounds: int = 3, steps: int | None = None, seed: int = 0) -> np.ndarray:
    """Return completions (N, S, C, H, W); `mask` (C, H, W) or (N, C, H, W) is True where hidden."""
    steps = steps or run.sampler.steps
    n = len(x)
    xt = torch.from_numpy(np.repeat(x, samples, axis=0))
    m = torch.from_numpy(np.broadcast_to(mask, x.shape).copy()).repeat_interleave(samples, 0)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.where(m, run.noise(len(xt), g), xt)
    ys = None if y is None else y.repeat_interleave(samples)
    out = refine(run, x0, ys, rounds, steps, mask=m, seed=seed + 1)
    return out.numpy().reshape(n, samples, *x.shape[1:])


def completion_metrics(completions: np.ndarray, truth: np.ndarray, mask: np.ndarray, judge=None,
                       truth_labels: np.ndarray | None = None) -> dict:
    """MSE on hidden pixels (mean and best of S), diversity among the S, judge agreement."""
    hidden = np.broadcast_to(mask, truth.shape)[:, None]
    err = ((completions - truth[:, None]) ** 2 * hidden).sum((2, 3, 4)) / hidden.sum((2, 3, 4))
    n, s = completions.shape[:2]
    flat = completions.reshape(n, s, -1)
    pair = [np.linalg.norm(flat[:, i] - flat[:, j], axis=1) for i in range(s) for j in range(i + 1, s)]
    out = {"mse_mean_of_s": float(err.mean()), "mse_best_of_s": float(err.min(1).mean()),
           "diversity": float(np.mean(pair)) if pair else 0.0, "num_inputs": int(n), "samples": int(s)}
    if judge is not None and truth_labels is not None:
        pred = judge.predict(completions.reshape(n * s, *completions.shape[2:])).reshape(n, s)
        out["judge_agrees"] = float((pred == truth_labels[:, None]).mean())
    return out


def completion_figure(x: np.ndarray, mask: np.ndarray, completions: np.ndarray, path: Path, rows: int = 10) -> Path:
    """Rows: input | masked (hidden = grey) | S completions | truth."""
    rows = min(rows, len(x))
    masked = np.where(np.broadcast_to(mask, x.shape), 0.5, x)
    s = completions.shape[1]
    tiles = [np.concatenate([x[i:i + 1], masked[i:i + 1], completions[i], x[i:i + 1]]) for i in range(rows)]
    return save_grid(np.concatenate(tiles), path, nrow=s + 3)


def cmd_complete(args) -> None:
    run = load_run(args.run_dir)
    inputs = read_inputs(run, args.input, args.split, args.num)
    x = inputs.images
    mask = parse_mask(args.mask, x.shape[1:], args.seed)
    if args.samples < 1 or args.rounds < 1:
        raise UserError("--samples and --rounds must be at least 1")
    mean_img = run.dataset("train").x.mean(0)
    y = labels_for(run, inputs, np.where(mask, mean_img, x), args.labels)
    comps = complete(run, x, mask, y, args.samples, args.rounds, args.steps, args.seed)
    out = Path(args.out or Path(args.run_dir) / f"complete_{Path(args.mask).stem.replace(':', '_')}")
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"inputs": x, "masks": np.broadcast_to(mask, x.shape).copy(), "completions": comps}
    if inputs.labels is not None or args.split:
        arrays["truth"] = x
    np.savez_compressed(out / "completions.npz", **arrays)
    completion_figure(x, mask, comps, out / "completions.png")
    metrics = {"mask": args.mask, "source": inputs.source, "labels": args.labels}
    if args.split:  # the input is the truth
        from igebm.tasks.demo import run_judge
        judge = run_judge(run) if run.dataset("train").num_classes else None
        metrics.update(completion_metrics(comps, x, mask, judge, inputs.labels))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(json.dumps(metrics))
    print(f"wrote {out}/completions.npz, completions.png, metrics.json")


def register(sub) -> None:
    p = sub.add_parser("complete", help="fill in hidden pixels (inpainting) with diverse completions",
                       description="Complete images: hidden pixels start from noise and follow Langevin "
                                   "dynamics on the energy while the visible ones stay fixed.")
    add_input_args(p)
    p.add_argument("--mask", required=True,
                   help="bottom-half, top-half, left-half, right-half, center-box, random:P (fraction P "
                        "hidden), or a .npy/.npz file of booleans shaped (H, W) or (C, H, W), True = hidden")
    p.add_argument("--samples", type=int, default=4, help="independent completions per input (default 4)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of --steps Langevin steps (default 3)")
    p.add_argument("--steps", type=int, help="steps per round (default: the run's sampler.steps)")
    p.add_argument("--out", help="output folder (default RUN_DIR/complete_<mask>)")
    p.set_defaults(func=cmd_complete)


def completion_baselines(train_x: np.ndarray, x: np.ndarray, mask: np.ndarray,
                         train_y: np.ndarray | None = None, y: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Non-EBM completions of the hidden pixels, for comparison.

    mean image; the nearest training image by its visible pixels; and the
    conditional Gaussian, i.e. linear-Gaussian regression of hidden on visible
    pixels (scikit-learn Ridge with a small penalty, the posterior mean). With
    labels, also the nearest neighbour within the same class, so that an EBM
    conditioned on the true class is compared with a baseline that knows it too.
    """
    from sklearn.linear_model import Ridge

    hid = np.broadcast_to(mask, x.shape[1:]).reshape(-1)
    tr, xs = train_x.reshape(len(train_x), -1), x.reshape(len(x), -1)
    fill = lambda pred: np.where(hid, pred, xs).reshape(x.shape)  # noqa: E731
    mean = np.broadcast_to(tr.mean(0), xs.shape)
    d = ((xs[:, None, ~hid] - tr[None, :, ~hid]) ** 2).sum(-1)
    nearest = tr[d.argmin(1)]
    reg = Ridge(alpha=1.0).fit(tr[:, ~hid], tr[:, hid])
    gauss = xs.copy()
    gauss[:, hid] = np.clip(reg.predict(xs[:, ~hid]), 0, 1)
    out = {"mean image": fill(mean), "nearest neighbour": fill(nearest), "conditional Gaussian": gauss.reshape(x.shape)}
    if train_y is not None and y is not None:
        same = np.where(train_y[None, :] == y[:, None], d, np.inf)
        out["nearest neighbour (same class)"] = fill(tr[same.argmin(1)])
    return out
