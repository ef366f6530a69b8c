"""`igebm complete`: fill in hidden pixels by Langevin dynamics on the energy.

As in the paper: the hidden region starts from noise and only it moves (the
sampler's mask), for several rounds of K steps; the visible pixels condition
the chain through the energy. S independent chains per input give S
different, plausible completions. Baselines for comparison live here too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from igebm.errors import UserError
from igebm.report.figures import save_grid
from igebm.tasks.images import (MASK_HELP, Chain, add_chain_args, add_input_args, condition_labels, parse_mask,
                                read_inputs, refine)
from igebm.training.run import TrainedRun, load_run

DEFAULT_CHAIN = Chain(rounds=3)  # the paper uses 10 rounds of K; 3 x 20 is enough on the digits (see docs)


def complete(run: TrainedRun, x: np.ndarray, mask: np.ndarray, y: torch.Tensor | None, samples: int = 4,
             chain: Chain = DEFAULT_CHAIN, seed: int = 0) -> np.ndarray:
    """Completions (N, S, C, H, W) of images x; `mask` (broadcastable to x) is True where hidden."""
    n = len(x)
    xs = torch.from_numpy(np.repeat(x, samples, axis=0))
    m = torch.from_numpy(np.broadcast_to(mask, x.shape).copy()).repeat_interleave(samples, 0)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.where(m, run.noise(len(xs), g), xs)  # hidden pixels start from noise
    ys = None if y is None else y.repeat_interleave(samples)
    out = refine(run, x0, ys, chain, mask=m, generator=g)
    return out.numpy().reshape(n, samples, *x.shape[1:])


def hidden_mse(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-image mean squared error over the hidden pixels; pred may carry extra leading axes."""
    hidden = np.broadcast_to(mask, truth.shape)
    extra = pred.ndim - truth.ndim
    t = truth.reshape(truth.shape[:1] + (1,) * extra + truth.shape[1:])
    h = hidden.reshape(t.shape)
    axes = tuple(range(1 + extra, pred.ndim))
    return ((pred - t) ** 2 * h).sum(axes) / h.sum(axes)


def completion_metrics(completions: np.ndarray, truth: np.ndarray, mask: np.ndarray, judge=None,
                       truth_labels: np.ndarray | None = None) -> dict:
    """MSE on hidden pixels, diversity among the S completions, judge agreement.

    mse_mean_of_s: a typical completion; mse_best_of_s: the best of the S per image (an oracle
    pick); mse_of_average: the pixel average of the S, an estimate of the posterior mean, which is
    what minimises MSE (an exact posterior sample's expected MSE is twice the mean's).
    """
    err = hidden_mse(completions, truth, mask)  # (N, S)
    n, s = completions.shape[:2]
    flat = completions.reshape(n, s, -1)
    pairs = [np.linalg.norm(flat[:, i] - flat[:, j], axis=1).mean() for i in range(s) for j in range(i + 1, s)]
    out = {"mse_mean_of_s": float(err.mean()), "mse_best_of_s": float(err.min(1).mean()),
           "mse_of_average": float(hidden_mse(completions.mean(1), truth, mask).mean()),
           "diversity": float(np.mean(pairs)) if pairs else 0.0, "num_inputs": int(n), "samples": int(s)}
    if judge is not None and truth_labels is not None:
        pred = judge.predict(completions.reshape(n * s, *completions.shape[2:])).reshape(n, s)
        out["judge_agrees"] = float((pred == truth_labels[:, None]).mean())
    return out


def completion_baselines(train_x: np.ndarray, x: np.ndarray, mask: np.ndarray,
                         train_y: np.ndarray | None = None, y: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Non-EBM completions of the hidden pixels of x, for comparison; `mask` is one (C, H, W) mask.

    The mean training image; the training image nearest in the visible pixels; the conditional
    Gaussian, i.e. the linear-Gaussian regression of hidden on visible pixels (scikit-learn Ridge,
    the posterior mean). With labels, also the label-aware versions of the last two (nearest
    neighbour and regression within the true class), to compare fairly with an EBM conditioned
    on the true class.
    """
    from sklearn.linear_model import Ridge

    hid = np.broadcast_to(mask, x.shape[1:]).reshape(-1)
    tr, xs = train_x.reshape(len(train_x), -1), x.reshape(len(x), -1)

    def fill(pred: np.ndarray) -> np.ndarray:
        return np.where(hid, np.clip(pred, 0, 1), xs).reshape(x.shape)

    def regress(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        return Ridge(alpha=1.0).fit(tr[rows][:, ~hid], tr[rows][:, hid]).predict(query[:, ~hid])

    d = ((xs[:, None, ~hid] - tr[None, :, ~hid]) ** 2).sum(-1)
    gauss = np.zeros_like(xs)
    gauss[:, hid] = regress(np.arange(len(tr)), xs)
    out = {"mean image": fill(np.broadcast_to(tr.mean(0), xs.shape)), "nearest neighbour": fill(tr[d.argmin(1)]),
           "conditional Gaussian": fill(gauss)}
    if train_y is not None and y is not None:
        same = np.where(train_y[None, :] == y[:, None], d, np.inf)
        out["nearest neighbour (same class)"] = fill(tr[same.argmin(1)])
        per_class = np.zeros_like(xs)
        for c in np.unique(y):
            per_class[np.ix_(y == c, hid)] = regress(train_y == c, xs[y == c])
        out["conditional Gaussian (same class)"] = fill(per_class)
    return out


def completion_figure(x: np.ndarray, mask: np.ndarray, completions: np.ndarray, path: Path, rows: int = 10,
                      truth: np.ndarray | None = None) -> Path:
    """Rows: input | masked (hidden = grey) | S completions | truth (when known)."""
    rows = min(rows, len(x))
    masked = np.where(np.broadcast_to(mask, x.shape), 0.5, x)
    s = completions.shape[1]
    tiles = [np.concatenate([x[i:i + 1], masked[i:i + 1], completions[i]]
                            + ([truth[i:i + 1]] if truth is not None else [])) for i in range(rows)]
    return save_grid(np.concatenate(tiles), path, nrow=s + 2 + (truth is not None))


def cmd_complete(args) -> None:
    run = load_run(args.run_dir)
    if args.samples < 1:
        raise UserError(f"--samples must be at least 1 (got {args.samples})")
    chain = Chain.from_args(args)
    inputs = read_inputs(run, args.input, args.split, args.num)
    x = inputs.images
    mask = parse_mask(args.mask, x.shape, args.seed)
    seen = np.where(mask, run.dataset("train").x.mean(0), x)  # what label inference may look at
    y, label_source = condition_labels(run, inputs, seen, args.labels)
    comps = complete(run, x, mask, y, args.samples, chain, args.seed)

    truth = None if args.no_truth else x
    out = Path(args.out or Path(args.run_dir) / f"complete_{Path(args.mask).stem.replace(':', '_')}")
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"inputs": x, "masks": mask, "completions": comps}
    if truth is not None:
        arrays["truth"] = truth
    if y is not None:
        arrays["labels"] = y.numpy()
    np.savez_compressed(out / "completions.npz", **arrays)
    completion_figure(x, mask, comps, out / "completions.png", truth=truth)
    metrics = {"mask": args.mask, "source": inputs.source, "num": len(x), "samples": args.samples,
               "conditioned_on": label_source,
               **chain.describe(run)}
    if truth is not None:
        judge = None
        if inputs.labels is not None:
            from igebm.tasks.demo import run_judge
            judge = run_judge(run)
        metrics.update(completion_metrics(comps, truth, mask, judge, inputs.labels))
        print(f"hidden-pixel MSE: mean of {args.samples} {metrics['mse_mean_of_s']:.4f}, "
              f"best of {args.samples} {metrics['mse_best_of_s']:.4f}; diversity {metrics['diversity']:.3f}"
              + (f"; judge agrees with the label {metrics['judge_agrees']:.0%}" if judge else ""))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"wrote {out}/completions.npz, completions.png (input | masked | completions"
          f"{' | truth' if truth is not None else ''}), metrics.json")


def register(sub) -> None:
    p = sub.add_parser("complete", help="fill in hidden pixels (inpainting) with diverse completions",
                       description="Complete images: the hidden pixels start from noise and follow Langevin "
                                   "dynamics on the energy while the visible ones stay fixed; --samples "
                                   "independent chains per image. Writes completions.npz, completions.png "
                                   "and metrics.json (hidden-pixel MSE when the truth is known).")
    add_input_args(p)
    p.add_argument("--mask", required=True, help=MASK_HELP)
    p.add_argument("--samples", type=int, default=4, help="independent completions per input (default 4)")
    add_chain_args(p, DEFAULT_CHAIN.rounds, DEFAULT_CHAIN.steps, "from noise in the hidden region")
    p.add_argument("--no-truth", action="store_true",
                   help="the input's hidden pixels are missing or garbage, so there is no truth to score "
                        "against (by default the input images are the truth)")
    p.add_argument("--out", help="output folder (default RUN_DIR/complete_<mask>)")
    p.set_defaults(func=cmd_complete)

