"""`igebm ood`: out-of-distribution detection by energy.

The paper's score, on the raw input with no Langevin steps: -E(x) for an
unconditional model, -min_y E(x, y) for a conditional one (`--score energy`,
the default). Conditional runs also offer `logsumexp` (log sum_y exp(-E(x, y)),
the marginal's unnormalised log-density) and `mean-energy` (-mean_y E(x, y)).
Baselines are scored by the same code on the same sets: a Gaussian mixture and
an autoregressive density (MADE) of the training data, and the max-softmax
probability of a standard classifier of the EBM's size (trained and cached in
RUN_DIR/baselines/ when missing). AUROC, AUPR and FPR at 95% TPR come from
scikit-learn, in-distribution labelled 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from igebm.errors import UserError
from igebm.evaluation.ood_metrics import ood_metrics
from igebm.report.figures import plot_energy_histograms
from igebm.tasks.ood_sets import GENERATED, check_set_names, make_ood_set
from igebm.training.run import TrainedRun, load_run

SCORES = ("energy", "min-energy", "logsumexp", "mean-energy")
_REDUCE = {"min-energy": lambda e: -e.min(1).values, "logsumexp": lambda e: torch.logsumexp(-e, 1),
           "mean-energy": lambda e: -e.mean(1)}


def resolve_score(run: TrainedRun, score: str) -> str:
    """`energy` (or `auto`) is the paper's score: -E(x), or -min_y E(x, y) for a conditional run."""
    if score in ("auto", "energy"):
        return "min-energy" if run.conditional else "energy"
    if score not in SCORES:
        raise UserError(f"unknown --score '{score}' (choose {', '.join(SCORES)})")
    if not run.conditional:
        raise UserError(f"--score {score} reduces over class labels and needs a conditional run; use --score energy")
    return score


@torch.no_grad()
def energy_score(run: TrainedRun, x: np.ndarray, score: str = "energy", batch: int = 500) -> np.ndarray:
    """Higher = more in-distribution; on the raw input, no Langevin steps."""
    score = resolve_score(run, score)
    out = []
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch]))
        if score == "energy":
            out.append(-run.energy(xb, None))
            continue
        e = torch.stack([run.energy(xb, torch.full((len(xb),), c)) for c in range(run.num_classes)], 1)
        out.append(_REDUCE[score](e))
    return torch.cat(out).numpy()


def baseline_scorers(run: TrainedRun, quick: bool = False, seed: int = 0) -> dict:
    """Fit the likelihood baselines (and load the standard classifier, when trained) -> {name: score_fn}."""
    from igebm.tasks.baselines import GaussianMixtureDensity, train_made
    from igebm.tasks.robustness import load_baselines, train_baseline
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


def write_histograms(scores: dict, out: Path) -> list[Path]:
    """One energy histogram per OOD set against the in-distribution inputs, and one with all sets."""
    energies = {k: -v for k, v in scores.items()}  # scores are -energy
    ref = energies.pop("in-distribution")
    paths = [plot_energy_histograms({"in-distribution": ref, **energies}, out / "ood_energy_hist.png",
                                    title="EBM energies (in-distribution vs OOD sets)")]
    for name, e in energies.items():
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name.split(":")[0])
        paths.append(plot_energy_histograms({"in-distribution": ref, name: e}, out / f"ood_energy_hist_{safe}.png",
                                            title=f"EBM energies: in-distribution vs {name}"))
    return paths


def cmd_ood(args) -> None:
    sets = args.ood or list(GENERATED)
    check_set_names(sets)
    run = load_run(args.run_dir)
    resolve_score(run, args.score)  # a bad --score fails before any work
    table, scores = evaluate_ood(run, sets, args.score, args.in_split, not args.no_baselines, seed=args.seed)
    out = Path(args.out or Path(args.run_dir) / "ood")
    out.mkdir(parents=True, exist_ok=True)
    (out / "ood.json").write_text(json.dumps(table, indent=2))
    (out / "ood_auroc.md").write_text(markdown_table(table))
    write_histograms(scores, out)
    rows = auroc_rows(table)
    cols = list(rows[0])[1:]
    print("AUROC".ljust(36) + "".join(f"{c.split(':')[0][:10]:>11}" for c in cols))
    for r in rows:
        print(f"{r['model'][:35]:<36}" + "".join(f"{r[c]:>11.3f}" for c in cols))
    print(f"wrote {out}/ood.json, ood_auroc.md and energy histograms (ood_energy_hist*.png)")


def register(sub) -> None:
    p = sub.add_parser("ood", help="out-of-distribution detection by energy (AUROC table)",
                       description="Score in-distribution test images and OOD sets by energy (no Langevin "
                                   "steps) and by likelihood / classifier baselines.")
    p.add_argument("run_dir")
    p.add_argument("--in-split", choices=["train", "test"], default="test",
                   help="split of the run's own data that counts as in-distribution (default test)")
    p.add_argument("--ood", nargs="+", metavar="SET",
                   help=f"OOD sets (default all generated: {', '.join(GENERATED)}); on disk: "
                        "svhn:PATH, cifar100:PATH, cifar10:PATH, mnist:PATH, folder:PATH")
    p.add_argument("--score", default="energy",
                   help="EBM score: energy (default, the paper's: -E(x), or -min_y E(x, y) for conditional runs); "
                        "conditional runs also: min-energy, logsumexp (log sum_y exp -E(x, y)), mean-energy")
    p.add_argument("--no-baselines", action="store_true",
                   help="score only the EBM (skip the Gaussian mixture, MADE and max-softmax baselines)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated OOD sets and baselines (default 0)")
    p.add_argument("--out", help="output folder (default RUN_DIR/ood)")
    p.set_defaults(func=cmd_ood)
