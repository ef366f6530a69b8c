"""Figures of composition: energy contours with Langevin trajectories side by side, and their GIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from igebm.io import atomic_path
from igebm.report.figures import _savefig, plt


def _contour(ax, xs, ys, e, title: str, box: float) -> None:
    lo, hi = np.percentile(e, [0.5, 60])
    ax.contourf(xs, ys, np.clip(e, lo, hi), levels=20, cmap="viridis_r")
    ax.set_xlim(-box, box)
    ax.set_ylim(-box, box)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_flow(panels: list[dict], path, box: float) -> Path:
    """One panel per energy: {'title', 'grid': (xs, ys, E), 'traj': (frames, M, 2)}; white lines are the paths."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, p in zip(np.atleast_1d(axes), panels):
        _contour(ax, *p["grid"], p["title"], box)
        traj = p["traj"]
        for m in range(traj.shape[1]):
            ax.plot(traj[:, m, 0], traj[:, m, 1], color="white", lw=0.5, alpha=0.6)
        ax.scatter(traj[0, :, 0], traj[0, :, 1], s=4, color="#ffb0b0", zorder=3)
        ax.scatter(traj[-1, :, 0], traj[-1, :, 1], s=8, color="red", zorder=4)
    fig.tight_layout()
    return _savefig(fig, path)


def flow_gif(panels: list[dict], path, box: float, duration_ms: int = 80) -> Path:
    """The particles of every panel flowing over its contours, one frame per recorded step."""
    from PIL import Image

    frames = []
    n = min(p["traj"].shape[0] for p in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, panels):
        _contour(ax, *p["grid"], p["title"], box)
    dots = [ax.scatter(p["traj"][0, :, 0], p["traj"][0, :, 1], s=8, color="red", zorder=4)
            for ax, p in zip(axes, panels)]
    fig.tight_layout()
    for t in range(n):
        for d, p in zip(dots, panels):
            d.set_offsets(p["traj"][t])
        fig.canvas.draw()
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]).convert("P", palette=Image.ADAPTIVE))
    plt.close(fig)
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return Path(path)
