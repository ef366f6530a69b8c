"""Figures of rollouts: frames at T = 0, 20, 40, 60, 80 (EBM rollouts | feed-forward | truth), and a GIF.

Particles are drawn as discs of their radius in the box, one colour per particle;
the EBM row overlays its S rollouts. The hand is drawn from above: its five
fingertips (one colour per finger) and the block centre (a square), from a
MuJoCo replay of each state (`igebm.data.hand.HandGeometry`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from igebm import io

FRAMES = (0, 20, 40, 60, 80)
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
ROWS = ("EBM ({s} rollouts)", "feed-forward", "truth")


def _particles(ax, states: np.ndarray, meta: dict, alpha: float) -> None:
    """Draw particle states (n, 4P) on one axis."""
    import matplotlib.patches as patches

    r = meta["radius"]
    for s in states:
        for i, ri in enumerate(r):
            ax.add_patch(patches.Circle((s[4 * i], s[4 * i + 1]), ri, color=COLOURS[i % len(COLOURS)], alpha=alpha,
                                        lw=0))


def _hand(ax, points: np.ndarray, alpha: float) -> None:
    """Draw hand points (n, 6, 3): fingertips and block, seen from above (x, y)."""
    for p in points:
        for i in range(5):
            ax.plot(p[i, 0], p[i, 1], "o", color=COLOURS[i], alpha=alpha, ms=5)
        ax.plot(p[5, 0], p[5, 1], "s", color="black", alpha=alpha, ms=9, mfc="none" if alpha < 0.5 else "black")


class _Painter:
    def __init__(self, kind: str, ebm, ff, truth, meta: dict, geometry=None):
        self.kind, self.meta = kind, meta
        self.ebm, self.ff, self.truth = ebm, ff, truth
        if kind == "hand":
            self.ebm, self.ff = geometry.points(ebm), geometry.points(ff)
            self.truth = None if truth is None else geometry.points(truth)
            allp = np.concatenate([self.ebm.reshape(-1, 3), self.ff.reshape(-1, 3)]
                                  + ([] if self.truth is None else [self.truth.reshape(-1, 3)]))
            allp = allp[np.isfinite(allp).all(1)]
            ref = self.truth.reshape(-1, 3) if self.truth is not None else allp
            lo, hi = ref[:, :2].min(0), ref[:, :2].max(0)
            pad = 0.5 * (hi - lo).max() + 0.02
            self.lim = (lo - pad, hi + pad)

    def panel(self, ax, row: int, t: int) -> None:
        alpha = max(0.12, min(0.6, 2.0 / len(self.ebm))) if row == 0 else 0.9
        data = (self.ebm[:, t], self.ff[t][None], None if self.truth is None else self.truth[t][None])[row]
        if self.kind == "particles":
            w, h = self.meta["box"]
            ax.set_xlim(0, w)
            ax.set_ylim(0, h)
            if data is not None:
                _particles(ax, data, self.meta, alpha)
        else:
            ax.set_xlim(self.lim[0][0], self.lim[1][0])
            ax.set_ylim(self.lim[0][1], self.lim[1][1])
            if data is not None:
                _hand(ax, data, alpha)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])


def plot_rollout_frames(path: str | Path, kind: str, ebm: np.ndarray, ff: np.ndarray, truth: np.ndarray | None,
                        meta: dict, geometry=None, frames=FRAMES) -> Path:
    """ebm (S, T+1, D), ff (T+1, D), truth (T+1, D) or None -> a PNG of rows EBM | feed-forward | truth."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = [t for t in frames if t < ebm.shape[1]] or [ebm.shape[1] - 1]
    painter = _Painter(kind, ebm, ff, truth, meta, geometry)
    rows = 3 if truth is not None else 2
    fig, axes = plt.subplots(rows, len(frames), figsize=(2.2 * len(frames), 2.3 * rows), squeeze=False)
    for r in range(rows):
        for c, t in enumerate(frames):
            painter.panel(axes[r, c], r, t)
            if r == 0:
                axes[r, c].set_title(f"T = {t}")
        axes[r, 0].set_ylabel(ROWS[r].format(s=len(ebm)))
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)


def save_rollout_gif(path: str | Path, kind: str, ebm: np.ndarray, ff: np.ndarray, truth: np.ndarray | None,
                     meta: dict, geometry=None, every: int = 2, duration_ms: int = 80) -> Path:
    """An animated GIF: one frame per `every` time steps, panels EBM | feed-forward | truth."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    painter = _Painter(kind, ebm, ff, truth, meta, geometry)
    rows = 3 if truth is not None else 2
    images = []
    for t in range(0, ebm.shape[1], every):
        fig, axes = plt.subplots(1, rows, figsize=(2.2 * rows, 2.5))
        for r in range(rows):
            painter.panel(axes[r], r, t)
            axes[r].set_title(ROWS[r].format(s=len(ebm)).replace(" rollouts", ""), fontsize=8)
        fig.suptitle(f"T = {t}", fontsize=9)
        fig.canvas.draw()
        images.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]).convert("P", palette=Image.ADAPTIVE))
        plt.close(fig)
    with io.atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return Path(path)
