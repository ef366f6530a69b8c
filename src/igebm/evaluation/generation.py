"""Generation measured: samples from noise, judged at several step counts (adaptive computation).

Quality is judged against a reference split: `val` when choosing settings (the
recipe, the headline step count), `test` when reporting. The Fréchet distance
is divided by the train-vs-reference floor, so 1.0 means "as close as held-out
real data".
"""

from __future__ import annotations

import numpy as np
import torch

from igebm.evaluation.metrics import (class_histogram, frechet_distance, mean_pairwise_distance, sample_quality,
                                      saturation)
from igebm.tasks.generation.sample import generate_at_steps, make_labels
from igebm.training.run import TrainedRun


def frechet_floor(run: TrainedRun, judge, split: str = "test") -> float:
    return frechet_distance(judge.features(run.dataset("train").x), judge.features(run.dataset(split).x))


def judge_samples(run: TrainedRun, judge, x: np.ndarray, labels: torch.Tensor | None, split: str,
                  floor: float) -> dict:
    """Accuracy (labelled runs) or class shares, Fréchet and its ratio to the floor, saturation, diversity."""
    ref = run.dataset(split).x
    if labels is not None:
        q = sample_quality(judge, x, labels.numpy(), ref)
    else:
        q = {"frechet": frechet_distance(judge.features(x), judge.features(ref)),
             "saturation": saturation(x), "diversity": mean_pairwise_distance(x),
             "class_shares": class_histogram(judge, x, run.num_classes).round(4).tolist()}
    q["frechet_ratio"] = q["frechet"] / floor
    return q


def evaluate_generation(run: TrainedRun, judge, steps: list[int], num: int, split: str = "test",
                        seed: int = 0) -> tuple[dict[int, dict], dict[int, torch.Tensor], torch.Tensor | None]:
    """({steps: quality}, {steps: samples}, labels): the same chains judged after each step count."""
    floor = frechet_floor(run, judge, split)
    labels = make_labels(run, num, all_labels=True)
    snapshots = generate_at_steps(run, labels, num, steps, seed=seed)
    quality = {s: {**judge_samples(run, judge, x.numpy(), labels, split, floor), "frechet_floor": floor}
               for s, x in snapshots.items()}
    return quality, snapshots, labels


def steps_curve(run: TrainedRun, judge, steps: list[int], num: int = 500, seed: int = 0,
                split: str = "test") -> list[dict]:
    """One row per step count: accuracy (labelled runs), Fréchet / floor, saturation, diversity."""
    quality, _, _ = evaluate_generation(run, judge, steps, num, split, seed)
    keys = ("accuracy", "frechet", "frechet_ratio", "saturation", "diversity")
    return [{"steps": s, **{k: q[k] for k in keys if k in q}} for s, q in sorted(quality.items())]


def best_row(rows: list[dict]) -> dict:
    """The step count with the lowest Fréchet ratio: where extra computation stops paying."""
    return min(rows, key=lambda r: r["frechet_ratio"])


def steps_table(rows: list[dict]) -> str:
    """A markdown table, one column per step count."""
    keys = [k for k in ("accuracy", "frechet_ratio", "saturation", "diversity") if k in rows[0]]
    names = {"accuracy": "accuracy (judge)", "frechet_ratio": "Fréchet / floor"}
    lines = ["| steps | " + " | ".join(str(r["steps"]) for r in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    lines += [f"| {names.get(k, k)} | " + " | ".join(f"{r[k]:.3f}" for r in rows) + " |" for k in keys]
    return "\n".join(lines)


def pick_headline(rows: list[dict], min_accuracy: float = 0.95, min_share: float = 0.05) -> dict:
    """The headline step count of a validation curve: the lowest Fréchet ratio among the counts
    whose accuracy is at least `min_accuracy` (labelled runs) or whose smallest class share is at
    least `min_share` (unconditional ones); the lowest Fréchet ratio overall if none qualifies."""
    ok = [r for r in rows if r.get("accuracy", 1.0) >= min_accuracy and min(r.get("class_shares", [1.0])) >= min_share]
    return min(ok or rows, key=lambda r: r["frechet_ratio"])
