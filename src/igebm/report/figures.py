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
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from igebm.io import atomic_path  # noqa: E402


MIN_TILE_PX = 40  # small images (8x8 digits) are drawn at least this large, nearest-neighbour


def auto_upscale(height: int) -> int:
    return max(1, math.ceil(MIN_TILE_PX / max(height, 1)))


def _as_images(images) -> np.ndarray:
    x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    x = np.nan_to_num(x.astype(np.float32), nan=0.0)
    if x.ndim == 3:  # (N, H, W) -> one channel
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {x.shape}")
    return np.clip(x, 0.0, 1.0)


def image_grid(images, nrow: int = 10, gap: int = 1, gap_value: float = 0.5) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one (H', W', C) uint8 array, `nrow` per row.

    Images are separated (not surrounded) by `gap` pixels of grey, so the grid
    is rows*H + (rows-1)*gap tall.
    """
    x = _as_images(images)
    n, c, h, w = x.shape
    cols = max(1, min(nrow, n))
    rows = max(1, math.ceil(n / cols))
    grid = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, c),
                   gap_value, dtype=np.float32)
    for i in range(n):
        r, k = divmod(i, cols)
        top, left = r * (h + gap), k * (w + gap)
        grid[top:top + h, left:left + w] = x[i].transpose(1, 2, 0)
    return np.round(grid * 255.0).astype(np.uint8)


def _to_pil(grid: np.ndarray) -> Image.Image:
    if grid.shape[2] == 1:
        return Image.fromarray(grid[:, :, 0], mode="L")
    if grid.shape[2] == 3:
        return Image.fromarray(grid, mode="RGB")
    return Image.fromarray(grid[:, :, 0], mode="L")  # unusual channel counts: first channel


def _upscaled_grid(images, nrow: int, upscale: int | None) -> np.ndarray:
    x = _as_images(images)
    upscale = upscale or auto_upscale(x.shape[2])
    if upscale > 1:  # nearest neighbour, so 8x8 pixels stay crisp squares
        x = x.repeat(upscale, axis=2).repeat(upscale, axis=3)
    return image_grid(x, nrow=nrow, gap=1)


def _with_headers(pic: Image.Image, headers: list[str], tile_w: int, gap: int = 1) -> Image.Image:
    """Put one centred text label above each column."""
    font = ImageFont.load_default(size=12)
    band = 18
    out = Image.new(pic.mode, (pic.width, pic.height + band), color=255)
    out.paste(pic, (0, band))
    draw = ImageDraw.Draw(out)
    for k, text in enumerate(headers):
        left = k * (tile_w + gap)
        box = draw.textbbox((0, 0), text, font=font)
        width = box[2] - box[0]
        if width > tile_w + gap:  # too long for the column: shorten
            while text and draw.textbbox((0, 0), text + ".", font=font)[2] > tile_w:
                text = text[:-1]
            text += "."
            width = draw.textbbox((0, 0), text, font=font)[2]
        draw.text((left + (tile_w - width) / 2, 2), text, fill=0, font=font)
    return out


def save_grid(images, path, nrow: int = 10, upscale: int | None = None, headers: list[str] | None = None) -> Path:
    """Save a PNG grid of images, small ones upscaled (at least MIN_TILE_PX), 1-px gaps, optional column headers."""
    grid = _upscaled_grid(images, nrow, upscale)
    pic = _to_pil(grid)
    if headers:
        x = _as_images(images)
        tile_w = x.shape[3] * (upscale or auto_upscale(x.shape[2]))
        pic = _with_headers(pic, headers, tile_w)
    with atomic_path(path) as tmp:
        pic.save(tmp, format="PNG")
    return Path(path)


def save_gif(frames, path, nrow: int = 10, upscale: int | None = None, duration_ms: int = 120) -> Path:
    """Animate (F, N, C, H, W) frames, e.g. the sampler's chain, as a looping GIF."""
    frames = np.asarray(frames.detach().cpu().numpy() if hasattr(frames, "detach") else frames)
    if frames.ndim != 5 or len(frames) == 0:
        raise ValueError(f"expected frames (F, N, C, H, W), got shape {frames.shape}")
    pics = [_to_pil(_upscaled_grid(f, nrow, upscale)) for f in frames]
    with atomic_path(path) as tmp:
        pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:],
                     duration=duration_ms, loop=0)
    return Path(path)


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
