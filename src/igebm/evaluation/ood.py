"""OOD detection measured: the EBM's energy score against density and classifier baselines.

Baselines are scored by the same code on the same sets: a Gaussian mixture and
an autoregressive density (MADE) of the training data, and the max-softmax
probability of a standard classifier of the EBM's size (trained and cached in
RUN_DIR/baselines/ when missing). AUROC, AUPR and FPR at 95% TPR come from
scikit-learn, in-distribution labelled 1.
"""

from __future__ import annotations

import numpy as np
import torch

from igebm.data.ood_sets import check_set_names, make_ood_set
from igebm.errors import UserError
from igebm.evaluation.ood_metrics import ood_metrics
from igebm.tasks.generalisation.ood import energy_score, resolve_score
from igebm.training.run import TrainedRun

def baseline_scorers(run: TrainedRun, quick: bool = False, seed: int = 0) -> dict:
    """Fit the likelihood baselines (and load the standard classifier, when trained) -> {name: score_fn}."""
    from igebm.evaluation.baselines.classifiers import load_baselines, train_baseline
    from igebm.evaluation.baselines.density import GaussianMixtureDensity, train_made
    train = run.dataset("train")
    gmm = GaussianMixtureDensity(5 if quick else 10, seed).fit(train.x)
    made = train_made(train.x, train.levels, epochs=20 if quick else 60, seed=seed)
    scorers = {"Gaussian mixture": gmm.log_prob,
               "MADE (autoregressive)": lambda x: made.log_prob(torch.from_numpy(x)).detach().numpy()}
    clf = load_baselines(run.run_dir).get("standard classifier")
    if clf is None and train.num_classes >= 2:
        print("training the standard classifier for the max-softmax baseline (cached in RUN_DIR/baselines/)")
        train_baseline(run, "standard", 5 if quick else 15, seed=seed)
        clf = load_baselines(run.run_dir)["standard classifier"]
    if clf is not None:
        scorers["max-softmax (standard classifier)"] = (
            lambda x: torch.softmax(clf(torch.from_numpy(x)), 1).max(1).values.detach().numpy())
    return scorers


def evaluate_ood(run: TrainedRun, sets: list[str], score: str = "energy", in_split: str = "test",
                 baselines: bool = True, quick: bool = False, seed: int = 0) -> tuple[dict, dict]:
    """Returns ({model: {set: metrics}}, {set: EBM scores}) for the histograms."""
    check_set_names(sets)
    if not run.dataset("train").is_image:
        raise UserError(f"OOD sets are images; '{run.cfg.data.name}' is not an image dataset")
    x_in = run.dataset(in_split).x
    data = {name: make_ood_set(name, x_in, seed=seed) for name in sets}
    models = {f"EBM ({resolve_score(run, score)})": lambda x: energy_score(run, x, score)}
    if baselines:
        models.update(baseline_scorers(run, quick, seed))
    table, ebm_scores = {}, {}
    for model_name, fn in models.items():
        s_in = fn(x_in)
        row = {}
        for set_name, x_out in data.items():
            s_out = fn(x_out)
            row[set_name] = ood_metrics(s_in, s_out)
            if model_name.startswith("EBM"):
                ebm_scores[set_name] = s_out
        row["average"] = {k: float(np.mean([m[k] for m in row.values()])) for k in ("auroc", "aupr", "fpr_at_95_tpr")}
        table[model_name] = row
        if model_name.startswith("EBM"):
            ebm_scores["in-distribution"] = s_in
    return table, ebm_scores


def auroc_rows(table: dict) -> list[dict]:
    """The paper-style table: rows are models, columns are OOD sets and the average."""
    return [{"model": model, **{s: round(m["auroc"], 3) for s, m in row.items()}} for model, row in table.items()]


def markdown_table(table: dict, metric: str = "auroc") -> str:
    """Rows are models, columns are OOD sets and the average, as in the paper's table."""
    cols = list(next(iter(table.values())))
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    lines += [f"| {model} | " + " | ".join(f"{row[c][metric]:.3f}" for c in cols) + " |"
              for model, row in table.items()]
    return "\n".join(lines) + "\n"
