"""Figures of the tasks: completion, restoration and morph grids with column headers, the
steps curve in two panels, OOD energy histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from igebm.evaluation.baselines.completion import median3
from igebm.report.figures import plot_energy_histograms, plot_heatmap, plot_twin_panels, save_gif, save_grid


def completion_figure(x: np.ndarray, mask: np.ndarray, completions: np.ndarray, path: Path, rows: int = 10,
                      truth: np.ndarray | None = None) -> Path:
    """Rows: input | masked (hidden = grey) | S completions | truth (when known)."""
    rows = min(rows, len(x))
    masked = np.where(np.broadcast_to(mask, x.shape), 0.5, x)
    s = completions.shape[1]
    tiles = [np.concatenate([x[i:i + 1], masked[i:i + 1], completions[i]]
                            + ([truth[i:i + 1]] if truth is not None else [])) for i in range(rows)]
    headers = ["input", "masked"] + [f"EBM {k + 1}" for k in range(s)] + (["truth"] if truth is not None else [])
    return save_grid(np.concatenate(tiles), path, nrow=len(headers), headers=headers)


def restoration_figure(clean: np.ndarray | None, corrupted: np.ndarray, restored: np.ndarray, path: Path,
                       rows: int = 10) -> Path:
    """Rows: clean | corrupted | 3x3 median | EBM (no clean column when unknown)."""
    rows = min(rows, len(corrupted))
    cols = [corrupted[:rows], median3(corrupted[:rows]), restored[:rows]]
    headers = ["corrupted", "median 3x3", "EBM"]
    if clean is not None:
        cols, headers = [clean[:rows]] + cols, ["clean"] + headers
    return save_grid(np.stack(cols, 1).reshape(-1, *corrupted.shape[1:]), path, nrow=len(cols), headers=headers)


def plot_morph_matrix(success: np.ndarray, path: Path) -> Path:
    k = len(success)
    return plot_heatmap(success, path, [f"from {a}" for a in range(k)], [f"to {b}" for b in range(k)],
                        title=f"Morph success (judged as the target), mean {np.nanmean(success):.0%}")


def save_morph_figures(frames: np.ndarray, out: Path, stem: str = "morph", steps: int | None = None) -> tuple[Path, Path]:
    """A strip PNG (one row per image, frames left to right, headed by step) and an animated GIF."""
    strip = frames.transpose(1, 0, 2, 3, 4).reshape(-1, *frames.shape[2:])
    f = len(frames)
    headers = ([f"step {round(steps * i / (f - 1))}" for i in range(f)] if steps and f > 1
               else [f"frame {i}" for i in range(f)])
    return (save_grid(strip, out / f"{stem}_strip.png", nrow=f, headers=headers),
            save_gif(frames, out / f"{stem}.gif", nrow=min(10, frames.shape[1])))


def plot_steps_curve(rows: list[dict], path: Path) -> Path:
    """Accuracy on the left, Fréchet / floor on the right: each on its own scale."""
    steps = [r["steps"] for r in rows]
    left = {"accuracy (judge)": [r["accuracy"] for r in rows]} if "accuracy" in rows[0] else \
        {"diversity": [r["diversity"] for r in rows]}
    return plot_twin_panels(steps, left, {"Fréchet / floor": [r["frechet_ratio"] for r in rows]}, path,
                            "Langevin steps", next(iter(left)) + " (higher is better)",
                            "Fréchet / floor (lower is better)", "Adaptive computation: quality vs. steps", logx=True)


def write_ood_histograms(scores: dict, out: Path) -> list[Path]:
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
