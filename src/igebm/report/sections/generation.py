"""The Generation and Training sections of a run's report: samples, quality against steps, curves."""

from __future__ import annotations

import numpy as np
import torch

from igebm.evaluation.generation import evaluate_generation
from igebm.report.figures import plot_energy_histograms, plot_training_curves, save_grid
from igebm.report.html import Section, add_section
from igebm.report.task_figures import plot_steps_curve
from igebm.training import TrainedRun, read_metrics


def _per_class(x: np.ndarray, labels, per_class: int) -> np.ndarray:
    """Rows of `per_class` samples for each class (the first that came), for the grid."""
    if labels is None:
        return x[: per_class * 10]
    lab = labels.numpy()
    return np.concatenate([x[lab == c][:per_class] for c in np.unique(lab)])


def add_generation(run: TrainedRun, judge, seed: int = 0, split: str = "test") -> dict:
    """Judge samples at each of eval.steps against `split`, draw the figures, add the sections."""
    cfg, out = run.cfg, run.run_dir
    fig = out / "figures"
    fig.mkdir(parents=True, exist_ok=True)
    per_step, snapshots, labels = evaluate_generation(run, judge, cfg.eval.steps, cfg.eval.num_samples, split, seed)
    for steps, x in snapshots.items():
        save_grid(_per_class(x.numpy(), labels, 10), fig / f"samples_{steps:04d}_steps.png", nrow=10)
    headline = cfg.eval.headline_steps or cfg.sampler.steps
    headline = headline if headline in per_step else max(per_step)
    data = run.dataset(split)
    metrics = {"step": run.step, "split": split, "judge_test_accuracy": judge.test_accuracy,
               "engine": run.engine_line(),
               "frechet_floor": per_step[headline]["frechet_floor"], "headline_steps": headline,
               **{f"samples_{k}": v for k, v in per_step[headline].items() if k != "frechet_floor"},
               "by_steps": {str(k): {kk: vv for kk, vv in v.items() if kk != "frechet_floor"}
                            for k, v in per_step.items()},
               "data_saturation": float((data.x > 0.9).mean())}

    with torch.no_grad():
        c = torch.from_numpy(data.y) if run.labelled else None
        e_data = run.energy(torch.from_numpy(data.x), c).numpy()
        e_samp = run.energy(snapshots[max(snapshots)], labels).numpy()
        e_noise = run.energy(run.noise(len(data), torch.Generator().manual_seed(seed)), c).numpy()
    plot_energy_histograms({f"{split} data": e_data, f"samples ({max(snapshots)} steps)": e_samp,
                            "uniform noise": e_noise}, fig / "energy_hist.png", title="Energies")
    plot_training_curves([r for r in read_metrics(out) if "loss" in r], fig / "training_curves.png")
    rows = [{"steps": s, **{k: v for k, v in per_step[s].items() if not isinstance(v, list) and k != "frechet_floor"}}
            for s in sorted(per_step)]
    plot_steps_curve(rows, fig / "quality_vs_steps.png")

    add_section(out, Section(
        title="Generation", order=10,
        text=(f"Samples by Langevin dynamics from uniform noise with the EMA energy at training step "
              f"{run.step}, one row per class. Judged by an independent CNN (test accuracy "
              f"{judge.test_accuracy:.3f}); Fréchet distance in its feature space against the {split} split, "
              f"divided by the train-vs-{split} floor ({metrics['frechet_floor']:.3f}). Headline: {headline} steps."),
        images=[(f"figures/samples_{s:04d}_steps.png", f"after {s} steps") for s in sorted(per_step)],
        table=rows))
    add_section(out, Section(
        title="Training", order=20,
        text=("Contrastive divergence with a replay buffer; E+ is the data energy, E- the samples'. "
              f"Engine: {run.engine_line()}."),
        images=[("figures/training_curves.png", "training curves"),
                ("figures/energy_hist.png", f"energies of {split} data, samples and noise"),
                ("figures/quality_vs_steps.png", "adaptive computation: quality vs. steps")]))
    return metrics
