"""The image tasks in one pass, for the demo report and the benchmark.

`evaluate_image_tasks` measures completion (two masks, three baselines),
salt-and-pepper restoration (against a 3x3 median filter) and the morph
success matrix over all ordered class pairs; `add_to_demo` runs it at a size
that fits the demo's budget and adds the figures and tables to the report.
"""

from __future__ import annotations

import numpy as np

from igebm.report import Section, add_section
from igebm.report.figures import save_gif, save_grid
from igebm.tasks.complete import complete, completion_baselines, completion_figure, completion_metrics
from igebm.tasks.images import ImageInputs, corrupt, labels_for, parse_mask
from igebm.tasks.morph import morph, morph_matrix, plot_morph_matrix
from igebm.tasks.restore import median3, restoration_metrics, restore
from igebm.training.run import TrainedRun

MASKS = ("bottom-half", "center-box")


def evaluate_completion(run: TrainedRun, judge, mask_name: str, num: int, samples: int, rounds: int,
                        steps: int, labels: str = "given", seed: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    test, train = run.dataset("test"), run.dataset("train")
    x, y_true = test.x[:num], test.y[:num]
    mask = parse_mask(mask_name, x.shape[1:], seed)
    inputs = ImageInputs(x, y_true, "test split")
    y = labels_for(run, inputs, np.where(mask, train.x.mean(0), x), labels)
    comps = complete(run, x, mask, y, samples, rounds, steps, seed)
    row = {"mask": mask_name, "labels": labels, **completion_metrics(comps, x, mask, judge, y_true)}
    hidden = np.broadcast_to(mask, x.shape)
    for name, pred in completion_baselines(train.x, x, mask, train.y, y_true).items():
        row[f"mse {name}"] = float((((pred - x) ** 2) * hidden).sum((1, 2, 3)).mean() / hidden[0].sum())
    base = min(row[f"mse {k}"] for k in ("mean image", "nearest neighbour", "conditional Gaussian"))
    row["best_of_s_beats_all_baselines"] = row["mse_best_of_s"] < base
    row["mean_of_s_beats_mean_image"] = row["mse_mean_of_s"] < row["mse mean image"]
    return row, comps, mask


def evaluate_restoration(run: TrainedRun, num: int, steps: int, labels: str = "given", seed: int = 0):
    test = run.dataset("test")
    clean = test.x[:num]
    bad = corrupt("salt-pepper:0.1", clean, seed)
    y = labels_for(run, ImageInputs(clean, test.y[:num], "test split"), bad, labels)
    fixed = restore(run, bad, y, 1, steps, seed)
    m = restoration_metrics(clean, bad, fixed)
    m["beats_median3"] = m["psnr_restored"] > m["psnr_median3"]
    return m, clean, bad, fixed


def evaluate_image_tasks(run: TrainedRun, judge, num: int = 360, samples: int = 4, rounds: int = 3,
                         steps: int | None = None, morph_per_pair: int = 10, morph_steps: int = 300,
                         fig_dir=None, seed: int = 0) -> dict:
    steps = steps or run.sampler.steps
    out: dict = {"completion": []}
    for mask_name in MASKS:
        row, comps, mask = evaluate_completion(run, judge, mask_name, num, samples, rounds, steps, seed=seed)
        out["completion"].append(row)
        if fig_dir is not None:
            completion_figure(run.dataset("test").x[:num], mask, comps, fig_dir / f"complete_{mask_name}.png")
    m, clean, bad, fixed = evaluate_restoration(run, num, steps, seed=seed)
    out["restoration"] = m
    rate = morph_matrix(run, judge, morph_per_pair, morph_steps, seed)
    out["morph_success_mean"] = float(np.nanmean(rate))
    out["morph_matrix"] = np.nan_to_num(rate, nan=-1).round(3).tolist()
    if fig_dir is not None:
        rows = min(10, len(clean))
        tiles = np.stack([clean[:rows], bad[:rows], median3(bad[:rows]), fixed[:rows]], 1)
        save_grid(tiles.reshape(-1, *clean.shape[1:]), fig_dir / "restore_salt_pepper.png", nrow=4)
        plot_morph_matrix(rate, fig_dir / "morph_matrix.png")
        test = run.dataset("test")
        starts = np.stack([test.x[test.y == a][0] for a in range(run.num_classes)])
        targets = (np.arange(run.num_classes) + 1) % run.num_classes
        frames = morph(run, starts, targets, morph_steps, 8, seed)
        save_grid(frames.transpose(1, 0, 2, 3, 4).reshape(-1, *starts.shape[1:]), fig_dir / "morph_strip.png", nrow=8)
        save_gif(frames, fig_dir / "morph.gif", nrow=run.num_classes)
    return out


def add_to_demo(run: TrainedRun, judge) -> dict:
    fig = run.run_dir / "figures"
    fig.mkdir(exist_ok=True)
    r = evaluate_image_tasks(run, judge, num=100, samples=4, morph_per_pair=4, fig_dir=fig, seed=run.cfg.run.seed)
    add_section(run.run_dir, Section(
        title="Completion", order=30,
        text=("Hidden pixels start from noise and only they move; 4 independent completions per test image "
              "(rows: input | masked | 4 completions | truth). The chains are conditioned on the test image's "
              "class, as in the paper; the mean-image, nearest-neighbour and conditional-Gaussian baselines do "
              "not use it, the same-class nearest neighbour does. MSE is over hidden pixels."),
        images=[(f"figures/complete_{m}.png", m) for m in MASKS],
        table=[{k: v for k, v in row.items()} for row in r["completion"]]))
    add_section(run.run_dir, Section(
        title="Restoration", order=31,
        text="Salt-and-pepper (5% of pixels to 0.1, 5% to 0.9), repaired by Langevin dynamics from the "
             "corrupted image. Columns: clean | corrupted | 3x3 median filter | EBM.",
        images=[("figures/restore_salt_pepper.png", "restoration")], table=[r["restoration"]]))
    add_section(run.run_dir, Section(
        title="Cross-class morphing", order=32,
        text=(f"Test images of class A, sampled conditioned on class B; success = judged B at the end. "
              f"Mean success over the 90 ordered pairs: {r['morph_success_mean']:.1%}. Strip: one digit per row "
              "morphing into the next class."),
        images=[("figures/morph_matrix.png", "success per class pair"), ("figures/morph_strip.png", "frames"),
                ("figures/morph.gif", "animation")]))
    comp = {row["mask"]: row for row in r["completion"]}
    return {"completion_best_of_s_mse": {k: v["mse_best_of_s"] for k, v in comp.items()},
            "restoration_psnr": r["restoration"]["psnr_restored"],
            "restoration_psnr_median3": r["restoration"]["psnr_median3"],
            "morph_success_mean": r["morph_success_mean"]}
