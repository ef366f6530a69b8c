"""Figures for run reports: sample grids, GIFs and small diagnostic plots.

Matplotlib is forced onto the Agg backend before pyplot loads, so figures
render on headless machines and in tests. Every writer creates parent
folders and writes through a temporary file, so a killed run never leaves a
half-written PNG behind.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from igebm.grids import auto_upscale, image_grid, save_gif, save_grid  # noqa: E402, F401
from igebm.io import atomic_path  # noqa: E402


def _savefig(fig, path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def plot_training_curves(rows: list[dict], path, x_key: str = "step") -> Path:
    """One small panel per numeric key found in the JSONL metric rows, against `x_key`."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k, v in row.items() if k != x_key and _is_number(v) and k not in keys]
    ncols = min(3, max(1, len(keys)))
    nrows = max(1, math.ceil(len(keys) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.6 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = [(row.get(x_key, i), row[key]) for i, row in enumerate(rows)
               if _is_number(row.get(key))]
        xs, ys = zip(*pts)
        ax.plot(xs, ys, lw=1.0)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel(x_key, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if not keys:
        axes.flat[0].text(0.5, 0.5, "no numeric metrics", ha="center", va="center")
    fig.tight_layout()
    return _savefig(fig, path)


def plot_energy_histograms(named: dict[str, np.ndarray], path, title: str = "",
                           bins: int = 50) -> Path:
    """Overlaid energy histograms on shared bins (e.g. data vs samples vs OOD)."""
    arrays = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in named.items()}
    arrays = {k: v[np.isfinite(v)] for k, v in arrays.items()}
    values = [v for v in arrays.values() if v.size]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    if values:
        edges = np.histogram_bin_edges(np.concatenate(values), bins=bins)
        for name, v in arrays.items():
            if v.size:
                ax.hist(v, bins=edges, alpha=0.5, density=True, label=f"{name} (n={v.size})")
        ax.legend(fontsize=8)
    ax.set_xlabel("energy")
    ax.set_ylabel("density")
    ax.set_title(title)
    fig.tight_layout()
    return _savefig(fig, path)


def plot_lines(x, named_series: dict[str, list], path, xlabel: str = "", ylabel: str = "",
               title: str = "", logx: bool = False) -> Path:
    """Several series over a shared x axis, with markers since points are often few."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, ys in named_series.items():
        ax.plot(list(x), list(ys), marker="o", ms=3, lw=1.2, label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if named_series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _savefig(fig, path)


def plot_heatmap(matrix, path, row_labels, col_labels, title: str = "",
                 fmt: str = "{:.0%}") -> Path:
    """Annotated heatmap, e.g. a confusion matrix of judged samples."""
    m = np.asarray(matrix, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(0.5 * m.shape[1] + 2.5, 0.45 * m.shape[0] + 1.8))
    im = ax.imshow(m, cmap="viridis", aspect="auto")
    ax.set_xticks(range(m.shape[1]), [str(c) for c in col_labels], fontsize=8)
    ax.set_yticks(range(m.shape[0]), [str(r) for r in row_labels], fontsize=8)
    finite = m[np.isfinite(m)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if np.isfinite(m[i, j]):
                ax.text(j, i, fmt.format(m[i, j]), ha="center", va="center", fontsize=7,
                        color="black" if m[i, j] > mid else "white")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return _savefig(fig, path)


def plot_twin_panels(x, left: dict[str, list], right: dict[str, list], path, xlabel: str, left_title: str,
                     right_title: str, title: str = "", logx: bool = False) -> Path:
    """Two panels over the same x, so series on different scales are not flattened against each other."""
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
    for ax, series, sub in ((axes[0], left, left_title), (axes[1], right, right_title)):
        for name, ys in series.items():
            ax.plot(list(x), list(ys), marker="o", ms=4, lw=1.4, label=name)
        if logx:
            ax.set_xscale("log")
            ax.set_xticks(list(x), [str(v) for v in x])
            ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_title(sub)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _savefig(fig, path)
