"""The image tasks in one pass, for the demo report and the benchmark.

`evaluate_image_tasks` measures completion (two masks against the baselines),
salt-and-pepper restoration (against a 3x3 median filter), the morph success
matrix over all ordered class pairs and the steps curve; `add_to_demo` runs it
at a size that fits the demo's budget and adds figures and tables to the report.
The full-size measurement is benchmarks/image_tasks.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from igebm.report import Section, add_section
from igebm.tasks import complete as completion
from igebm.tasks import morph as morphing
from igebm.tasks import restore as restoration
from igebm.tasks.images import Chain, ImageInputs, condition_labels, corrupt, parse_mask
from igebm.tasks.steps_curve import best_row, plot_steps_curve, steps_curve
from igebm.training.run import TrainedRun

MASKS = ("bottom-half", "center-box")
BASELINES = ("mean image", "nearest neighbour", "conditional Gaussian")  # the three the targets name


@dataclass
class SuiteSettings:
    """Sizes and chain knobs; the defaults are the full benchmark on the digits."""

    num: int = 360  # test images for completion and restoration
    samples: int = 4  # completions per image
    complete_chain: Chain = field(default_factory=lambda: completion.DEFAULT_CHAIN)
    restore_chain: Chain = field(default_factory=lambda: restoration.DEFAULT_CHAIN)
    morph_per_pair: int = 10
    morph_steps: int = morphing.DEFAULT_STEPS
    morph_chain: Chain = field(default_factory=Chain)
    curve_num: int = 500
    curve_steps: tuple[int, ...] = (10, 20, 40, 80, 160, 320)
    labels: str = "given"  # or "infer": how completion and restoration pick the class


DEMO_SETTINGS = SuiteSettings(num=100, morph_per_pair=3, curve_num=200, curve_steps=(10, 20, 40, 80, 160))


def evaluate_completion(run: TrainedRun, judge, mask_name: str, s: SuiteSettings, seed: int = 0):
    """One row of the completion table (EBM and baselines), the completions and the mask."""
    test, train = run.dataset("test"), run.dataset("train")
    x, y_true = test.x[: s.num], test.y[: s.num]
    mask = parse_mask(mask_name, x.shape, seed)
    y, label_source = condition_labels(run, ImageInputs(x, y_true, "test split"), np.where(mask, train.x.mean(0), x),
                                       s.labels)
    comps = completion.complete(run, x, mask, y, s.samples, s.complete_chain, seed)
    row = {"mask": mask_name, "conditioned_on": label_source,
           **completion.completion_metrics(comps, x, mask, judge, y_true)}
    for name, pred in completion.completion_baselines(train.x, x, mask[0], train.y, y_true).items():
        row[f"mse {name}"] = float(completion.hidden_mse(pred, x, mask).mean())
    row["best_of_s_beats_the_3_baselines"] = bool(row["mse_best_of_s"] < min(row[f"mse {b}"] for b in BASELINES))
    row["mean_of_s_beats_mean_image"] = bool(row["mse_mean_of_s"] < row["mse mean image"])
    return row, comps, mask


def evaluate_restoration(run: TrainedRun, s: SuiteSettings, corruption: str = "salt-pepper:0.1", seed: int = 0):
    test = run.dataset("test")
    clean = test.x[: s.num]
    bad = corrupt(corruption, clean, seed)
    y, label_source = condition_labels(run, ImageInputs(clean, test.y[: s.num], "test split"), bad, s.labels)
    fixed = restoration.restore(run, bad, y, s.restore_chain, seed)
    m = {"corruption": corruption, "conditioned_on": label_source,
         **restoration.restoration_metrics(clean, bad, fixed)}
    m["beats_median3"] = bool(m["psnr_restored"] > m["psnr_median3"])
    return m, clean, bad, fixed


def evaluate_image_tasks(run: TrainedRun, judge, s: SuiteSettings = SuiteSettings(), fig_dir: Path | None = None,
                         seed: int = 0, parts: tuple[str, ...] = ("complete", "restore", "morph", "curve")) -> dict:
    """All four tasks (or `parts` of them); figures go to fig_dir when given."""
    out: dict = {}
    test = run.dataset("test")
    if "complete" in parts:
        out["completion"] = []
        for mask_name in MASKS:
            row, comps, mask = evaluate_completion(run, judge, mask_name, s, seed)
            out["completion"].append(row)
            if fig_dir is not None:
                x = test.x[: s.num]
                completion.completion_figure(x, mask, comps, fig_dir / f"complete_{mask_name}.png", truth=x)
    if "restore" in parts:
        out["restoration"], clean, bad, fixed = evaluate_restoration(run, s, seed=seed)
        if fig_dir is not None:
            restoration.restoration_figure(clean, bad, fixed, fig_dir / "restore_salt_pepper.png")
    if "morph" in parts and run.conditional:
        success, still = morphing.morph_matrix(run, judge, s.morph_per_pair, s.morph_steps, s.morph_chain, seed)
        out["morph_success_mean"] = float(np.nanmean(success))
        out["morph_still_source_mean"] = float(np.nanmean(still))
        out["morph_success_matrix"] = np.nan_to_num(success, nan=-1).round(3).tolist()  # -1 on the diagonal
        if fig_dir is not None:
            morphing.plot_morph_matrix(success, fig_dir / "morph_matrix.png")
            k = run.num_classes
            starts = np.stack([test.x[test.y == a][0] for a in range(k)])
            frames = morphing.morph(run, starts, (np.arange(k) + 1) % k, s.morph_steps, 8, s.morph_chain, seed)
            morphing.save_morph_figures(frames, fig_dir, "morph")
    if "curve" in parts:
        out["steps_curve"] = steps_curve(run, judge, list(s.curve_steps), s.curve_num, seed)
        if fig_dir is not None:
            plot_steps_curve(out["steps_curve"], fig_dir / "steps_curve.png")
    return out


def add_to_demo(run: TrainedRun, judge) -> dict:
    """Run the four image tasks at demo size, add report sections, return metrics for metrics.json."""
    if not run.conditional:  # the demo sizes and judgements assume a label to condition on
        return {}
    fig = run.run_dir / "figures"
    fig.mkdir(parents=True, exist_ok=True)
    s = DEMO_SETTINGS
    r = evaluate_image_tasks(run, judge, s, fig_dir=fig, seed=run.cfg.run.seed)
    c = s.complete_chain.describe(run)
    add_section(run.run_dir, Section(
        title="Completion", order=30,
        text=(f"The hidden pixels of {s.num} test images start from noise and only they move ({c['rounds']} rounds "
              f"of {c['steps_per_round']} Langevin steps); {s.samples} independent completions per image. Rows: "
              f"input | masked | {s.samples} completions | truth. The chains are conditioned on the test image's "
              "class, as in the paper; the mean-image, nearest-neighbour and conditional-Gaussian baselines do not "
              "use it, their '(same class)' versions do. MSE is over the hidden pixels; diversity is the mean "
              "pairwise L2 distance among the completions of an image; 'judge agrees' is the share of completions "
              "the independent classifier labels as the true class."),
        images=[(f"figures/complete_{m}.png", m) for m in MASKS],
        table=[_rounded(row) for row in r["completion"]]))
    rc = s.restore_chain.describe(run)
    add_section(run.run_dir, Section(
        title="Restoration", order=31,
        text=(f"Salt-and-pepper noise (5% of the pixels set to 0.1, 5% to 0.9), repaired by "
              f"{rc['rounds'] * rc['steps_per_round']} Langevin steps starting at the corrupted image. Columns: "
              "clean | corrupted | 3x3 median filter | EBM. PSNR in dB over the test images."),
        images=[("figures/restore_salt_pepper.png", "restoration")], table=[_rounded(r["restoration"])]))
    if "morph_success_mean" in r:
        add_section(run.run_dir, Section(
            title="Cross-class morphing", order=32,
            text=(f"{s.morph_per_pair} test images of each class A, sampled for {s.morph_steps} steps conditioned "
                  f"on each other class B; success = the judge labels the end state B. Mean success over the "
                  f"ordered pairs: {r['morph_success_mean']:.1%} (still labelled A: {r['morph_still_source_mean']:.1%})."
                  " Strip and animation: one test image per row morphing into the next class."),
            images=[("figures/morph_matrix.png", "success per ordered class pair"),
                    ("figures/morph_strip.png", "frames along the chain"), ("figures/morph.gif", "animation")]))
    curve = r["steps_curve"]
    best = best_row(curve)
    add_section(run.run_dir, Section(
        title="Adaptive computation (steps curve)", order=33,
        text=(f"{s.curve_num} chains from noise, judged after each step count (the paper's adaptive computation "
              f"time). {_curve_summary(curve, best)}"),
        images=[("figures/steps_curve.png", "quality vs. Langevin steps")],
        table=[_rounded(row) for row in curve]))
    metrics = {f"completion_{row['mask']}": {k: v for k, v in row.items() if k.startswith(("mse", "diversity", "judge"))}
               for row in r["completion"]}
    metrics["restoration"] = r["restoration"]
    metrics.update({k: r[k] for k in ("morph_success_mean", "morph_still_source_mean") if k in r})
    metrics["steps_curve"] = {str(row["steps"]): row for row in curve}
    return metrics


def _curve_summary(curve: list[dict], best: dict) -> str:
    """What the curve shows, in words, from the numbers themselves."""
    first, last = curve[0], curve[-1]
    text = (f"The Fréchet ratio goes from {first['frechet_ratio']:.1f} at {first['steps']} steps to its lowest, "
            f"{best['frechet_ratio']:.2f}, at {best['steps']} steps")
    if last is not best:
        text += f", and is {last['frechet_ratio']:.2f} at {last['steps']} steps"
    if "accuracy" in first:
        text += f"; the judge's accuracy goes from {first['accuracy']:.0%} to {last['accuracy']:.0%}"
    return text + f"; saturation from {first['saturation']:.3f} to {last['saturation']:.3f}."


def _rounded(row: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
