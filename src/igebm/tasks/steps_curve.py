"""`igebm steps-curve`: sample quality against the number of Langevin steps.

The paper's "adaptive computation": the same chains, snapshotted after
10, 20, 40, ... steps, judged by the independent classifier (conditional
accuracy) and the Fréchet distance to the test split over the train-vs-test floor.
"""

from __future__ import annotations

import json
from pathlib import Path

from igebm.errors import UserError
from igebm.evaluation.metrics import frechet_distance, sample_quality
from igebm.report.figures import plot_lines
from igebm.tasks.generate import generate_at_steps, make_labels
from igebm.training.run import TrainedRun, load_run


def parse_steps(text: str) -> list[int]:
    try:
        steps = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise UserError(f"--steps '{text}' is not a comma-separated list of integers, e.g. 10,20,40,80") from None
    if not steps or steps[0] < 1:
        raise UserError(f"--steps '{text}' needs positive step counts")
    return steps


def steps_curve(run: TrainedRun, judge, steps: list[int], num: int = 500, seed: int = 0) -> list[dict]:
    if not run.conditional:
        raise UserError("steps-curve judges conditional accuracy: it needs a class-conditional run")
    train, test = run.dataset("train"), run.dataset("test")
    floor = frechet_distance(judge.features(train.x), judge.features(test.x))
    labels = make_labels(run, num, all_labels=True)
    rows = []
    for s, x in generate_at_steps(run, labels, num, steps, seed).items():
        q = sample_quality(judge, x.numpy(), labels.numpy(), test.x)
        rows.append({"steps": s, "accuracy": q["accuracy"], "frechet_ratio": q["frechet"] / floor,
                     "saturation": q["saturation"], "diversity": q["diversity"]})
    return rows


def plot_steps_curve(rows: list[dict], path: Path) -> Path:
    return plot_lines([r["steps"] for r in rows], {"accuracy": [r["accuracy"] for r in rows],
                                                   "Fréchet / floor": [r["frechet_ratio"] for r in rows]},
                      path, "Langevin steps", "value", "Adaptive computation: quality vs. steps", logx=True)


def cmd_steps_curve(args) -> None:
    from igebm.tasks.demo import run_judge
    steps = parse_steps(args.steps)
    run = load_run(args.run_dir)
    rows = steps_curve(run, run_judge(run), steps, args.num, args.seed)
    out = Path(args.out or Path(args.run_dir) / "steps_curve")
    out.mkdir(parents=True, exist_ok=True)
    (out / "steps_curve.json").write_text(json.dumps(rows, indent=2))
    plot_steps_curve(rows, out / "steps_curve.png")
    print(f"{'steps':>6} {'accuracy':>9} {'FD/floor':>9} {'saturation':>11} {'diversity':>10}")
    for r in rows:
        print(f"{r['steps']:>6} {r['accuracy']:>9.3f} {r['frechet_ratio']:>9.2f} {r['saturation']:>11.3f} {r['diversity']:>10.3f}")
    print(f"wrote {out}/steps_curve.json, steps_curve.png")


def register(sub) -> None:
    p = sub.add_parser("steps-curve", help="sample quality against the number of Langevin steps",
                       description="Adaptive computation: judge the same chains after each step count.")
    p.add_argument("run_dir")
    p.add_argument("--steps", default="10,20,40,80,160,320", help="comma-separated step counts (default 10,20,40,80,160,320)")
    p.add_argument("--num", type=int, default=500, help="samples, cycling through the classes (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default RUN_DIR/steps_curve)")
    p.set_defaults(func=cmd_steps_curve)
