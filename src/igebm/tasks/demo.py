"""The digits demo: train the recipe, judge its samples, write report.html.

Re-running on the same folder continues an unfinished run (exact resume) or
re-evaluates a finished one, so an interrupted demo never loses its training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from igebm.config import load_config
from igebm.evaluation.judge import get_judge
from igebm.evaluation.metrics import class_histogram, frechet_distance, sample_quality
from igebm.recipes import find_recipe
from igebm.report import Section, add_section, render_run_report
from igebm.report.figures import plot_energy_histograms, plot_lines, plot_training_curves, save_grid
from igebm.tasks.generate import generate_at_steps, make_labels
from igebm.training import Trainer, TrainedRun, load_run, read_metrics
from igebm.training import checkpoint as ckpt
from igebm.training.checkpoint import atomic_write_text


def train_or_resume(cfg, out: Path) -> None:
    last = ckpt.latest_checkpoint(out / "checkpoints")
    if last is not None:
        step = json.loads((last / "state.json").read_text())["step"]
        if step >= cfg.train.max_steps:
            print(f"{out} is trained ({step} steps); re-evaluating")
            return
        print(f"resuming {out} from step {step}")
    Trainer(cfg, out, resume=last is not None).fit()


def run_judge(run: TrainedRun):
    cfg = run.cfg
    return get_judge(run.dataset("train"), run.dataset("test"), run.run_dir / "judge" / "judge.safetensors",
                     cfg.eval.judge_epochs, cfg.run.seed)


def evaluate_generation(run: TrainedRun, judge, seed: int = 0) -> dict:
    """Sample from noise at each of eval.steps; accuracy, Fréchet ratio, diversity; figures."""
    cfg, out = run.cfg, run.run_dir
    train, test = run.dataset("train"), run.dataset("test")
    fig = out / "figures"
    fig.mkdir(parents=True, exist_ok=True)
    n = cfg.eval.num_samples
    labels = make_labels(run, n, all_labels=True)
    snapshots = generate_at_steps(run, labels, n, cfg.eval.steps, seed=seed)
    floor = frechet_distance(judge.features(train.x), judge.features(test.x))
    per_step = {}
    for steps, x in snapshots.items():
        x_np = x.numpy()
        if labels is not None:
            q = sample_quality(judge, x_np, labels.numpy(), test.x)
        else:
            q = {"frechet": frechet_distance(judge.features(x_np), judge.features(test.x))}
            q["class_shares"] = class_histogram(judge, x_np, train.num_classes).round(4).tolist()
        q["frechet_ratio"] = q["frechet"] / floor
        per_step[steps] = q
        save_grid(_per_class(x_np, labels, 10), fig / f"samples_{steps:04d}_steps.png", nrow=10)
    headline = cfg.eval.headline_steps or cfg.sampler.steps
    headline = headline if headline in per_step else max(per_step)
    metrics = {"step": run.step, "judge_test_accuracy": judge.test_accuracy, "frechet_floor": floor,
               "headline_steps": headline, **{f"samples_{k}": v for k, v in per_step[headline].items()},
               "by_steps": {str(k): v for k, v in per_step.items()},
               "data_saturation": float((test.x > 0.9).mean())}

    with torch.no_grad():
        y_test = torch.from_numpy(test.y) if run.conditional else None
        e_data = run.energy(torch.from_numpy(test.x), y_test).numpy()
        x_last = snapshots[max(snapshots)]
        e_samp = run.energy(x_last, labels).numpy()
        noise = run.noise(len(test), torch.Generator().manual_seed(seed))
        e_noise = run.energy(noise, y_test).numpy()
    plot_energy_histograms({"test data": e_data, f"samples ({max(snapshots)} steps)": e_samp,
                            "uniform noise": e_noise}, fig / "energy_hist.png", title="Energies")
    plot_training_curves([r for r in read_metrics(out) if "loss" in r], fig / "training_curves.png")
    steps_sorted = sorted(per_step)
    series = {"Fréchet / floor": [per_step[s]["frechet_ratio"] for s in steps_sorted]}
    if labels is not None:
        series["accuracy"] = [per_step[s]["accuracy"] for s in steps_sorted]
    plot_lines(steps_sorted, series, fig / "quality_vs_steps.png", "Langevin steps", "value",
               "Sample quality vs. steps", logx=True)
    return metrics


def _per_class(x: np.ndarray, labels, per_class: int) -> np.ndarray:
    """Rows of `per_class` samples for each class (the first that came), for the grid."""
    if labels is None:
        return x[: per_class * 10]
    lab = labels.numpy()
    rows = [x[lab == c][:per_class] for c in np.unique(lab)]
    return np.concatenate(rows)


def write_generation_section(run: TrainedRun, m: dict) -> None:
    steps = sorted(int(s) for s in m["by_steps"])
    rows = [{"steps": s, **{k: v for k, v in m["by_steps"][str(s)].items() if not isinstance(v, list)}}
            for s in steps]
    add_section(run.run_dir, Section(
        title="Generation", order=10,
        text=(f"Samples by Langevin dynamics from uniform noise with the EMA energy at training step "
              f"{m['step']}, one row per class. Judged by an independent CNN (test accuracy "
              f"{m['judge_test_accuracy']:.3f}); Fréchet distance in its feature space against the test "
              f"split, divided by the train-vs-test floor ({m['frechet_floor']:.3f}). Headline: "
              f"{m['headline_steps']} steps."),
        images=[(f"figures/samples_{s:04d}_steps.png", f"after {s} steps") for s in steps],
        table=rows))
    add_section(run.run_dir, Section(
        title="Training", order=20,
        text="Contrastive divergence with a replay buffer; E+ is the data energy, E- the samples'.",
        images=[("figures/training_curves.png", "training curves"),
                ("figures/energy_hist.png", "energies of test data, samples and noise"),
                ("figures/quality_vs_steps.png", "adaptive computation: quality vs. steps")]))


# Task suites that add their sections to the demo report: `add_to_demo(run, judge) -> metrics`.
# Each suite skips what the run cannot do (e.g. classification for an unconditional run).
DEMO_SUITES = ("igebm.tasks.image_suite", "igebm.tasks.generalisation_suite")


def run_suites(run: TrainedRun, judge) -> dict:
    import importlib
    metrics = {}
    for name in DEMO_SUITES:
        suite = importlib.import_module(name)
        print(f"evaluating {name.rsplit('.', 1)[-1].replace('_', ' ')} ...", flush=True)
        metrics.update(suite.add_to_demo(run, judge))
    return metrics


def run_demo(out: Path, minutes: float | None = None, overrides: list[str] | None = None,
             recipe: str = "digits", suites: bool = True) -> dict:
    cfg = load_config(find_recipe(recipe), overrides)
    if minutes is not None:
        cfg.train.max_minutes = minutes
    out.mkdir(parents=True, exist_ok=True)
    train_or_resume(cfg, out)
    run = load_run(out)
    judge = run_judge(run)
    metrics = evaluate_generation(run, judge, seed=cfg.run.seed)
    write_generation_section(run, metrics)
    if suites:
        metrics.update(run_suites(run, judge))
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    report = render_run_report(out)
    print(f"samples: accuracy {metrics.get('samples_accuracy', float('nan')):.3f}, "
          f"Fréchet {metrics['samples_frechet_ratio']:.2f}x the floor ({metrics['headline_steps']} steps)")
    print(f"report: {report}")
    return metrics
