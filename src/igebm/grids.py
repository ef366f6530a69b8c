"""Image grids as PNG and GIF: the picture format every layer may write (training writes its samples).

Small images (8x8 digits) are drawn at least MIN_TILE_PX pixels wide by
nearest-neighbour upscaling, so strokes stay crisp squares; grids may carry a
text header over each column.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from igebm.io import atomic_path

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
