"""The demo: train a recipe (or resume it), judge it, and write report.html with every section.

Re-running on the same folder continues an unfinished run (exact resume) or
re-evaluates a finished one, so an interrupted demo never loses its training.
"""

from __future__ import annotations

import json
from pathlib import Path

from igebm import io
from igebm.config import load_config
from igebm.evaluation.judge import run_judge
from igebm.recipes import find_recipe
from igebm.report.html import render_run_report
from igebm.report.sections import generalisation, images
from igebm.report.sections.capabilities import add_capabilities
from igebm.report.sections.generation import add_generation
from igebm.training import Trainer, TrainedRun, load_run
from igebm.training import checkpoint as ckpt

# Sections each capability adds to the report: `add_to_demo(run, judge) -> metrics`.
# Each skips what the run cannot do (e.g. classification for an unconditional run).
DEMO_SUITES = {"image tasks": images.add_to_demo, "generalisation": generalisation.add_to_demo}


def train_or_resume(cfg, out: Path) -> None:
    last = ckpt.latest_checkpoint(out / "checkpoints")
    if last is not None:
        step = ckpt.step_of(last)
        if step >= cfg.train.max_steps:
            print(f"{out} is trained ({step} steps); re-evaluating")
            return
        print(f"resuming {out} from step {step}")
    Trainer(cfg, out, resume=last is not None).fit()


def run_suites(run: TrainedRun, judge) -> dict:
    metrics = {}
    for name, add in DEMO_SUITES.items():
        print(f"evaluating {name} ...", flush=True)
        metrics.update(add(run, judge))
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
    metrics = add_generation(run, judge, seed=cfg.run.seed)
    if suites:
        metrics.update(run_suites(run, judge))
        metrics["capabilities"] = {row["task"]: row["can do"] for row in add_capabilities(out, metrics)}
    io.write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    report = render_run_report(out)
    print(f"samples: accuracy {metrics.get('samples_accuracy', float('nan')):.3f}, "
          f"Fréchet {metrics['samples_frechet_ratio']:.2f}x the floor ({metrics['headline_steps']} steps)")
    print(f"engine: {run.engine_line()}")
    print(f"report: {report}")
    return metrics
