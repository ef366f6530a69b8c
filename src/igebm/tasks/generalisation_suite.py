"""OOD detection and robust classification in one pass, sized for the demo report."""

from __future__ import annotations

from igebm.report import Section, add_section
from igebm.report.figures import plot_lines
from igebm.tasks.ood import auroc_rows, evaluate_ood
from igebm.tasks.ood_sets import GENERATED
from igebm.tasks.robustness import evaluate_robustness, load_baselines, train_baseline
from igebm.training.run import TrainedRun


def ensure_baselines(run: TrainedRun, epochs: int = 15) -> dict:
    have = load_baselines(run.run_dir)
    for kind in ("standard", "pgd-adversarial"):
        if f"{kind} classifier" not in have:
            train_baseline(run, kind, epochs, seed=run.cfg.run.seed)
    return load_baselines(run.run_dir)


def add_to_demo(run: TrainedRun, judge) -> dict:
    fig = run.run_dir / "figures"
    baselines = ensure_baselines(run)
    table, _ = evaluate_ood(run, list(GENERATED), quick=True, seed=run.cfg.run.seed)
    rows = auroc_rows(table)
    add_section(run.run_dir, Section(
        title="Out-of-distribution detection", order=40,
        text=("AUROC of telling the digits test split (positive) from generated OOD sets. EBM score: "
              "-min_y E(x, y) on the raw input, no Langevin steps. Baselines on the same sets: a Gaussian "
              "mixture and an autoregressive density (MADE) of the training digits, and the max-softmax of "
              "a standard classifier of the EBM's size. Demo size: quick baselines."),
        table=rows))
    eps = [0.0, 0.05, 0.1, 0.2]
    res = evaluate_robustness(run, "linf", eps, pgd_steps=5, refine_steps=10, num=60, seed=run.cfg.run.seed,
                              baselines=baselines, eot=1)
    series = {name: [a[f"{e:g}"] for e in eps] for name, a in res["accuracy"].items()}
    plot_lines(eps, series, fig / "robustness_linf.png", "epsilon (L-inf)", "accuracy", "Accuracy under PGD")
    add_section(run.run_dir, Section(
        title="Robust classification", order=41,
        text=("Classification by lowest energy after 10 Langevin refinement steps inside the epsilon ball, "
              "under PGD with a random start (demo size: 60 test images, 5 PGD steps). 'paper' attacks the "
              "classifier without refinement, as the released code did; 'adaptive' differentiates through the "
              "refinement (BPDA, straight-through). Baselines: a standard and a PGD-trained classifier."),
        images=[("figures/robustness_linf.png", "accuracy vs. epsilon (L-inf)")],
        table=[{"model": k, **{f"eps {e:g}": v for e, v in zip(eps, s)}} for k, s in series.items()]))
    ebm = next(v for k, v in table.items() if k.startswith("EBM"))
    return {"ood_auroc_average": {k: v["average"]["auroc"] for k, v in table.items()},
            "ebm_ood_auroc_average": ebm["average"]["auroc"],
            "robust_accuracy_linf": res["accuracy"]}
