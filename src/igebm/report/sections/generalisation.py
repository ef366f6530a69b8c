"""The generalisation sections of a run's report: OOD detection and robust classification.

`add_to_demo` must stay within about 90 s on 2 CPU cores for the digits run, so
it uses quick baselines (6 epochs, 3-step adversarial training), three
epsilons, 5 PGD steps and 40 test images, and runs single-threaded on small
images (as the judge does): these convs are too small to gain from two threads.
The full measurement is benchmarks/generalisation.py.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from igebm.data.ood_sets import GENERATED
from igebm.evaluation.attacks import evaluate_robustness
from igebm.evaluation.baselines.classifiers import ensure_baselines
from igebm.evaluation.ood import auroc_rows, evaluate_ood
from igebm.report.figures import plot_energy_histograms, plot_lines
from igebm.report.html import Section, add_section
from igebm.training.run import TrainedRun

WEAK_CLASSIFIER = 0.5  # clean accuracy below which the report says the EBM is not a classifier


@contextmanager
def _single_thread_for_small_images(shape: tuple[int, ...]):
    old = torch.get_num_threads()
    if len(shape) == 3 and shape[1] * shape[2] <= 16 * 16:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def add_to_demo(run: TrainedRun, judge, num_attacked: int = 40) -> dict:
    """OOD table and accuracy-vs-epsilon plot in the report; about 80 s for the digits on 2 busy cores."""
    if not run.dataset("train").is_image:  # the OOD sets and attacks are defined on images
        return {}
    with _single_thread_for_small_images(run.dataset("train").shape):
        return _add_to_demo(run, num_attacked)


def _add_to_demo(run: TrainedRun, num_attacked: int) -> dict:
    fig = run.run_dir / "figures"
    fig.mkdir(parents=True, exist_ok=True)
    table, scores = evaluate_ood(run, list(GENERATED), quick=True, seed=run.cfg.run.seed)
    energies = {k: -v for k, v in scores.items()}
    plot_energy_histograms(energies, fig / "ood_energy_hist.png", title="Energies: test digits vs OOD sets")
    add_section(run.run_dir, Section(
        title="Out-of-distribution detection", order=40,
        text=("AUROC of telling the test split (positive) from generated OOD sets (seed fixed). EBM score: "
              "the paper's, -min_y E(x, y) (or -E(x)) on the raw input, no Langevin steps. Baselines on the "
              "same sets: a Gaussian mixture and an autoregressive density (MADE) of the training data, and "
              "the max-softmax of a standard classifier of the EBM's size. Demo size: quick baselines; "
              "benchmarks/generalisation.py has the full measurement."),
        images=[("figures/ood_energy_hist.png", "EBM energies of the test split and of each OOD set")],
        table=auroc_rows(table)))
    ebm = next(v for k, v in table.items() if k.startswith("EBM"))
    metrics = {"ood_auroc_average": {k: v["average"]["auroc"] for k, v in table.items()},
               "ebm_ood_auroc_average": ebm["average"]["auroc"]}
    if not run.labelled:  # classification needs E(x, y)
        return metrics
    baselines = ensure_baselines(run, epochs=6, adv_steps=3)
    eps = [0.0, 0.1, 0.2]
    res = evaluate_robustness(run, "linf", eps, pgd_steps=5, refine_steps=10, num=num_attacked,
                              seed=run.cfg.run.seed, baselines=baselines, eot=1)
    series = {name: [a[f"{e:g}"] for e in eps] for name, a in res["accuracy"].items()}
    plot_lines(eps, series, fig / "robustness_linf.png", "epsilon (L-inf)", "accuracy", "Accuracy under PGD")
    clean = min(a["0"] for name, a in res["accuracy"].items() if name.startswith("ebm"))
    caveat = ""
    if clean < WEAK_CLASSIFIER:
        caveat = (f" Note: this model classifies only {clean:.2f} of clean images correctly. Pure contrastive "
                  "divergence trains E(x, y) for sampling, not for ranking labels, so argmin_y E(x, y) is weak; "
                  "train with a classification term (train.ce_alpha, recipe digits_hybrid) to use the EBM "
                  "as a classifier.")
    add_section(run.run_dir, Section(
        title="Robust classification", order=41,
        text=(f"Classification by lowest energy after 10 Langevin refinement steps inside the attack's L-inf "
              f"ball, under PGD with a random start (demo size: {num_attacked} test images, 5 PGD steps). "
              "'paper' attacks the classifier without refinement, as the released code did; 'adaptive' "
              "differentiates through the refinement (BPDA, straight-through, with its noise sampled). "
              "Baselines of the EBM's size: a standard and a PGD-trained classifier (quick: 6 epochs, 3-step PGD)."
              + caveat),
        images=[("figures/robustness_linf.png", "accuracy vs. epsilon (L-inf)")],
        table=[{"model": k, **{f"eps {e:g}": v for e, v in zip(eps, s)}} for k, s in series.items()]))
    return {**metrics, "robust_accuracy_linf": res["accuracy"]}
