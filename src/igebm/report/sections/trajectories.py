"""The Trajectories section of a run's report: the benchmark's table and a rollout figure.

`add_trajectories(run_dir, result, figure)` takes the dict `benchmarks/trajectories.py`
writes (its "report" part: one split, EBM vs feed-forward) and a rollouts.png from
`igebm rollout`, saves them as a report section, and returns the flat table.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from igebm.report.html import Section, add_section, render_run_report


def trajectory_rows(report: dict) -> list[dict]:
    rows = []
    for h, v in report["by_horizon"].items():
        rows.append({"horizon": int(h),
                     "EBM error, mean of S": v["ebm_error_mean_of_samples"],
                     "EBM error, best of S (ORACLE)": v["ebm_error_best_of_samples_ORACLE"],
                     "feed-forward error": v["feedforward_error"],
                     "EBM diversity": v["ebm_diversity"],
                     "EBM coverage": v["ebm_coverage"], "feed-forward coverage": v["feedforward_coverage"],
                     "EBM energy score": v.get("ebm_energy_score", float("nan")),
                     "feed-forward energy score": v.get("feedforward_energy_score", float("nan")),
                     "training mean's error": v.get("training_mean_error", float("nan"))})
        if "simulator_energy_score" in v:  # S true futures from the simulator: a perfect model's scores
            rows[-1].update({"simulator error, mean of S": v["simulator_error_mean_of_samples"],
                             "simulator diversity": v["simulator_diversity"],
                             "simulator energy score": v["simulator_energy_score"]})
    return rows


def add_trajectories(run_dir, result: dict, figure: str | Path | None = None, render: bool = True) -> list[dict]:
    rep = result["report"]
    run_dir = Path(run_dir)
    images = []
    if figure is not None and Path(figure).is_file():
        dest = run_dir / "figures" / "trajectory_rollouts.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if Path(figure).resolve() != dest.resolve():
            shutil.copyfile(figure, dest)
        images.append(("figures/trajectory_rollouts.png", "EBM rollouts | feed-forward | truth at T = 0, 20, 40, 60, 80"))
    feas = {k: v for k, v in rep.items() if k.endswith("_feasible")}
    text = (f"{rep['starts']} {rep['split']} starts of '{rep['dataset']}', {rep['samples']} EBM rollouts each "
            f"({rep['steps']} Langevin steps per time step, temperature {rep['temperature']}, init '{rep['init']}'"
            + (f", the known box-and-overlap energy added with weight {rep['constraint']:g}" if rep.get("constraint") else "")
            + "), "
            f"against a feed-forward net of matched size trained with MSE. Errors and diversity are RMSEs over all "
            f"state dimensions in units of each dimension's standard deviation; best of S is an ORACLE (it picks "
            f"with the truth); coverage is the share of true states within {rep['coverage_radius']} of at least one "
            f"rollout; the energy score (mean-of-S error minus half the diversity) is a proper scoring rule, lowest "
            f"for the true distribution of futures; the training mean's error is that of predicting the mean "
            f"training state at every step; simulator columns, where present, score S true futures of each start. "
            f"Stable rollouts: EBM {rep['ebm_stable']:.3f}, feed-forward {rep['feedforward_stable']:.3f}. "
            f"Feasible states: " + "; ".join(f"{k[:-9]} {v.get('valid', 0):.3f}" for k, v in feas.items()) + ".")
    rows = trajectory_rows(rep)
    add_section(run_dir, Section(title="Trajectories", order=40, text=text, images=images, table=rows))
    if render:
        render_run_report(run_dir)
    return rows
