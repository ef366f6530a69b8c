"""The image tasks measured: completion, restoration and morphing against their baselines.

`evaluate_image_tasks` runs completion (two masks), salt-and-pepper restoration
and the morph success matrix on a split (validation for tuning, test for
reporting), and returns the numbers and the arrays the report draws.
Completion is reported three ways: mean of S (a typical answer), the average of
the S answers (an estimate of the posterior mean, what minimises MSE), and
best of S, an ORACLE that picks with the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from igebm.evaluation.baselines.completion import completion_baselines, conditional_gaussian_samples, median3
from igebm.evaluation.metrics import psnr
from igebm.tasks.images import complete as completion
from igebm.tasks.images import morph as morphing
from igebm.tasks.images import restore as restoration
from igebm.tasks.images.chain import Chain, condition_labels
from igebm.tasks.images.inputs import ImageInputs
from igebm.tasks.images.masks import corrupt, parse_mask
from igebm.training.run import TrainedRun

MASKS = ("bottom-half", "center-box")


BASELINES = ("mean image", "nearest neighbour", "conditional Gaussian")  # the three the targets name


@dataclass
class SuiteSettings:
    """Sizes, split and chain knobs; the defaults are the full benchmark on the digits."""

    split: str = "test"  # "val" when tuning, "test" when reporting
    num: int = 360  # images for completion and restoration (the whole digits test split)
    samples: int = 4  # completions per image
    complete_chain: Chain = field(default_factory=lambda: completion.DEFAULT_CHAIN)
    restore_chain: Chain = field(default_factory=lambda: restoration.DEFAULT_CHAIN)
    morph_per_pair: int = 10
    morph_steps: int = morphing.DEFAULT_STEPS
    morph_chain: Chain = field(default_factory=Chain)
    labels: str = "given"  # or "infer": how completion and restoration pick the class


DEMO_SETTINGS = SuiteSettings(num=100, morph_per_pair=3)


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


def restoration_metrics(clean: np.ndarray, corrupted: np.ndarray, restored: np.ndarray) -> dict:
    m = {"psnr_corrupted": psnr(corrupted, clean), "psnr_restored": psnr(restored, clean),
         "psnr_median3": psnr(median3(corrupted), clean)}
    m["psnr_gain"] = m["psnr_restored"] - m["psnr_corrupted"]
    m["psnr_gain_over_median3"] = m["psnr_restored"] - m["psnr_median3"]
    return m


def morph_pairs(run: TrainedRun, per_pair: int, split: str = "test") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first `per_pair` images of every class A of `split`, once for each target class B != A."""
    data = run.dataset(split)
    k = run.num_classes
    xs, src, dst = [], [], []
    for a in range(k):
        xa = data.x[data.y == a][:per_pair]
        for b in range(k):
            if a != b:
                xs.append(xa)
                src += [a] * len(xa)
                dst += [b] * len(xa)
    return np.concatenate(xs), np.array(src), np.array(dst)


def morph_matrix(run: TrainedRun, judge, per_pair: int = 10, steps: int = morphing.DEFAULT_STEPS,
                 chain: Chain = Chain(), seed: int = 0, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(success, still_source): (K, K) shares judged B / still judged A per ordered pair A -> B.

    The diagonal is NaN."""
    x, src, dst = morph_pairs(run, per_pair, split)
    end = morphing.morph(run, x, dst, steps, 2, chain, seed)[-1]
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


def evaluate_completion(run: TrainedRun, judge, mask_name: str, s: SuiteSettings, seed: int = 0):
    """One row of the completion table (EBM and baselines), the completions and the mask."""
    data, train = run.dataset(s.split), run.dataset("train")
    x, y_true = data.x[: s.num], data.y[: s.num]
    mask = parse_mask(mask_name, x.shape, seed)
    seen = np.where(mask, train.x.mean(0), x)
    y, label_source = condition_labels(run, ImageInputs(x, y_true, f"{s.split} split"), seen, s.labels)
    comps = completion.complete(run, x, mask, y, s.samples, s.complete_chain, seed)
    row = {"mask": mask_name, "split": s.split, "conditioned_on": label_source,
           **completion_metrics(comps, x, mask, judge, y_true)}
    for name, pred in completion_baselines(train.x, x, mask[0], train.y, y_true).items():
        row[f"mse {name}"] = float(hidden_mse(pred, x, mask).mean())
    if train.num_classes:  # a generative baseline given the label: S samples, scored like the EBM's
        g = completion_metrics(conditional_gaussian_samples(train.x, train.y, x, y_true, mask[0], s.samples, seed),
                               x, mask, judge, y_true)
        row.update({f"same-class Gaussian samples {k}": v for k, v in g.items()
                    if k in ("mse_mean_of_s", "mse_of_average", "mse_best_of_s", "diversity", "judge_agrees")})
    return row, comps, mask


def evaluate_restoration(run: TrainedRun, s: SuiteSettings, corruption: str = "salt-pepper:0.1", seed: int = 0):
    data = run.dataset(s.split)
    clean = data.x[: s.num]
    bad = corrupt(corruption, clean, seed)
    y, label_source = condition_labels(run, ImageInputs(clean, data.y[: s.num], f"{s.split} split"), bad, s.labels)
    fixed = restoration.restore(run, bad, y, s.restore_chain, seed)
    m = {"corruption": corruption, "split": s.split, "conditioned_on": label_source,
         **restoration_metrics(clean, bad, fixed)}
    m["beats_median3"] = bool(m["psnr_restored"] > m["psnr_median3"])
    return m, clean, bad, fixed


def evaluate_image_tasks(run: TrainedRun, judge, s: SuiteSettings = SuiteSettings(), seed: int = 0,
                         parts: tuple[str, ...] = ("complete", "restore", "morph")) -> tuple[dict, dict]:
    """The tasks in `parts` -> (numbers, arrays for the figures)."""
    out: dict = {}
    arrays: dict = {}
    data = run.dataset(s.split)
    if "complete" in parts:
        out["completion"] = []
        for mask_name in MASKS:
            row, comps, mask = evaluate_completion(run, judge, mask_name, s, seed)
            out["completion"].append(row)
            arrays[f"complete_{mask_name}"] = (data.x[: s.num], mask, comps)
    if "restore" in parts:
        out["restoration"], clean, bad, fixed = evaluate_restoration(run, s, seed=seed)
        arrays["restore"] = (clean, bad, fixed)
    if "morph" in parts and run.labelled:
        success, still = morph_matrix(run, judge, s.morph_per_pair, s.morph_steps, s.morph_chain, seed, s.split)
        out["morph_success_mean"] = float(np.nanmean(success))
        out["morph_still_source_mean"] = float(np.nanmean(still))
        out["morph_success_matrix"] = np.nan_to_num(success, nan=-1).round(3).tolist()  # -1 on the diagonal
        k = run.num_classes
        starts = np.stack([data.x[data.y == a][0] for a in range(k)])
        arrays["morph_success"] = success
        arrays["morph_frames"] = morphing.morph(run, starts, (np.arange(k) + 1) % k, s.morph_steps, 8,
                                                s.morph_chain, seed)
    return out, arrays
