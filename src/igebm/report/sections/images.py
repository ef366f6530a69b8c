"""The image-task sections of a run's report: completion, restoration, morphing, steps curve.

Sized for the demo's budget (DEMO_SETTINGS); the full measurement is
benchmarks/image_tasks.py.
"""

from __future__ import annotations

from pathlib import Path

from igebm.evaluation.generation import best_row, steps_curve
from igebm.evaluation.images import DEMO_SETTINGS, MASKS, evaluate_image_tasks
from igebm.report.html import Section, add_section
from igebm.report.task_figures import (completion_figure, plot_morph_matrix, plot_steps_curve, restoration_figure,
                                       save_morph_figures)
from igebm.training.run import TrainedRun

CURVE_STEPS = (10, 20, 40, 80, 160)
CURVE_NUM = 200


def draw_image_figures(arrays: dict, fig_dir: Path, morph_steps: int) -> None:
    """The figures of `evaluate_image_tasks`' arrays."""
    for key, value in arrays.items():
        if key.startswith("complete_"):
            x, mask, comps = value
            completion_figure(x, mask, comps, fig_dir / f"{key}.png", truth=x)
    if "restore" in arrays:
        restoration_figure(*arrays["restore"], fig_dir / "restore_salt_pepper.png")
    if "morph_success" in arrays:
        plot_morph_matrix(arrays["morph_success"], fig_dir / "morph_matrix.png")
        save_morph_figures(arrays["morph_frames"], fig_dir, "morph", morph_steps)


def add_to_demo(run: TrainedRun, judge) -> dict:
    """Run the four image tasks at demo size, add report sections, return metrics for metrics.json."""
    if not run.labelled:  # the demo sizes and judgements assume a label to condition on
        return {}
    fig = run.run_dir / "figures"
    fig.mkdir(parents=True, exist_ok=True)
    s = DEMO_SETTINGS
    r, arrays = evaluate_image_tasks(run, judge, s, seed=run.cfg.run.seed)
    draw_image_figures(arrays, fig, s.morph_steps)
    r["steps_curve"] = steps_curve(run, judge, list(CURVE_STEPS), CURVE_NUM, run.cfg.run.seed)
    plot_steps_curve(r["steps_curve"], fig / "steps_curve.png")
    c = s.complete_chain.describe(run)
    add_section(run.run_dir, Section(
        title="Completion", order=30,
        text=(f"The hidden pixels of {s.num} test images start from noise and only they move ({c['rounds']} rounds "
              f"of {c['steps_per_round']} Langevin steps); {s.samples} independent completions per image. Rows: "
              f"input | masked | {s.samples} completions | truth. The chains are conditioned on the test image's "
              "class, as in the paper; the mean-image, nearest-neighbour and conditional-Gaussian baselines do not "
              "use it, their '(same class)' versions and the same-class Gaussian samples do. MSE is over the hidden "
              "pixels: mean of S is a typical answer, the average of the S answers estimates the posterior mean, and "
              "best of S is an ORACLE (it picks with the truth). Diversity is the mean pairwise L2 distance among "
              "the completions of an image; 'judge agrees' is the share of completions the independent classifier "
              "labels as the true class."),
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
        text=(f"{CURVE_NUM} chains from noise, judged after each step count (the paper's adaptive computation "
              f"time). {_curve_summary(curve, best)}"),
        images=[("figures/steps_curve.png", "quality vs. Langevin steps")],
        table=[_rounded(row) for row in curve]))
    metrics = {f"completion_{row['mask']}": {k: v for k, v in row.items() if k.startswith(("mse", "diversity", "judge", "same-class"))}
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
