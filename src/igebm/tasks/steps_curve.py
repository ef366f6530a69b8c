"""`igebm steps-curve`: sample quality against the number of Langevin steps.

The paper's "adaptive computation time": spend more sampling steps at test
time for better samples. The same chains are snapshotted after 10, 20, 40, ...
steps and judged as the demo judges generation: the independent classifier's
agreement with the conditioning label (conditional runs) and the Fréchet
distance to the test split in its feature space, over the train-vs-test floor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from igebm.errors import UserError
from igebm.evaluation.metrics import frechet_distance, mean_pairwise_distance, sample_quality, saturation
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
    """One row per step count: accuracy (conditional runs), Fréchet / floor, saturation, diversity."""
    train, test = run.dataset("train"), run.dataset("test")
    floor = frechet_distance(judge.features(train.x), judge.features(test.x))
    labels = make_labels(run, num, all_labels=True)
    rows = []
    for s, x in generate_at_steps(run, labels, num, steps, seed).items():
        x = x.numpy()
        if labels is not None:
            q = sample_quality(judge, x, labels.numpy(), test.x)
        else:
            q = {"frechet": frechet_distance(judge.features(x), judge.features(test.x)),
                 "saturation": saturation(x), "diversity": mean_pairwise_distance(x)}
        rows.append({"steps": s, **({"accuracy": q["accuracy"]} if "accuracy" in q else {}),
                     "frechet": q["frechet"], "frechet_ratio": q["frechet"] / floor,
                     "saturation": q["saturation"], "diversity": q["diversity"]})
    return rows


def best_row(rows: list[dict]) -> dict:
    """The step count with the lowest Fréchet ratio: where extra computation stops paying."""
    return min(rows, key=lambda r: r["frechet_ratio"])


def plot_steps_curve(rows: list[dict], path: Path) -> Path:
    series = {"Fréchet / floor": [r["frechet_ratio"] for r in rows]}
    if "accuracy" in rows[0]:
        series["accuracy (judge)"] = [r["accuracy"] for r in rows]
    return plot_lines([r["steps"] for r in rows], series, path, "Langevin steps (log scale)", "value",
                      "Adaptive computation: sample quality vs. steps", logx=True)


def steps_table(rows: list[dict]) -> str:
    """A markdown table, one column per step count."""
    keys = [k for k in ("accuracy", "frechet_ratio", "saturation", "diversity") if k in rows[0]]
    names = {"accuracy": "accuracy (judge)", "frechet_ratio": "Fréchet / floor"}
    lines = ["| steps | " + " | ".join(str(r["steps"]) for r in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    lines += [f"| {names.get(k, k)} | " + " | ".join(f"{r[k]:.3f}" for r in rows) + " |" for k in keys]
    return "\n".join(lines)


def cmd_steps_curve(args) -> None:
    from igebm.tasks.demo import run_judge
    steps = parse_steps(args.steps)
    if args.num < 2:
        raise UserError(f"--num must be at least 2 (got {args.num})")
    run = load_run(args.run_dir)
    rows = steps_curve(run, run_judge(run), steps, args.num, args.seed)
    out = Path(args.out or Path(args.run_dir) / "steps_curve")
    out.mkdir(parents=True, exist_ok=True)
    (out / "steps_curve.json").write_text(json.dumps(rows, indent=2))
    plot_steps_curve(rows, out / "steps_curve.png")
    print(steps_table(rows))
    best = best_row(rows)
    print(f"lowest Fréchet / floor at {best['steps']} steps ({best['frechet_ratio']:.2f})")
    print(f"wrote {out}/steps_curve.json, steps_curve.png")


def register(sub) -> None:
    p = sub.add_parser("steps-curve", help="sample quality against the number of Langevin steps",
                       description="Adaptive computation: sample from noise once and judge the same chains after "
                                   "each step count (accuracy of the judge w.r.t. the conditioning label, "
                                   "Fréchet distance / train-vs-test floor, saturation, diversity).")
    p.add_argument("run_dir", help="a trained run")
    p.add_argument("--steps", default="10,20,40,80,160,320",
                   help="comma-separated step counts (default 10,20,40,80,160,320)")
    p.add_argument("--num", type=int, default=500, help="samples, cycling through the classes (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default RUN_DIR/steps_curve)")
    p.set_defaults(func=cmd_steps_curve)
