"""Procedural shapes with continuous attributes: the composition experiment's data.

One white (1.0), anti-aliased shape on a black background, (N, 1, R, R) in [0, 1].
Attributes, as fractions of the image: `size` (the side of a square, the
diameter of an ellipse (a circle), the side of an upright equilateral triangle),
`x` and `y` (the shape's centre, x to the right, y downward; the triangle's
centre is the centre of its bounding box).

Anti-aliasing: a square's pixel values are its exact area coverage (so the pixel
sum is (size * R)^2, and the centroid of pixel centres is the centre to within
1e-3 of the width); ellipses and triangles are supersampled 8x8 per pixel.

Splits, as in Du & Mordatch's composition experiment:
- `shapes_size`: sizes in [SIZE_MIN, SIZE_MAX], centre fixed at (0.5, 0.5);
- `shapes_position`: centres in [POS_MIN, POS_MAX]^2, size fixed at FIXED_SIZE;
- `shapes_full`: every combination (evaluation and baselines only);
- `shapes_union`: the union of the first two, conditioned on (size, x, y) (the union baselines).
Attributes are drawn uniformly from a seeded stream per split, so train and test never share a draw.
"""

from __future__ import annotations

import numpy as np

from igebm.data.base import ArrayDataset
from igebm.data.registry import DatasetSpec, register_dataset
from igebm.errors import UserError

SHAPE_KINDS = ("square", "ellipse", "triangle")
DEFAULT_RESOLUTION = 16
SIZE_MIN, SIZE_MAX = 0.25, 0.6
POS_MIN, POS_MAX = 0.25, 0.75
FIXED_SIZE = 0.35  # the position split's size
FIXED_POS = (0.5, 0.5)  # the size split's centre
TRAIN_COUNT, TEST_COUNT = 6000, 1000
ATTRIBUTES = ("size", "x", "y")
_STREAM = {"train": 0, "test": 1}
_SPLIT_ID = {"shapes_size": 0, "shapes_position": 1, "shapes_full": 2, "shapes_union": 3}


def _coverage_1d(lo: np.ndarray, hi: np.ndarray, res: int) -> np.ndarray:
    """(N, res): the length of [lo, hi] (in pixels) inside each pixel interval [i, i+1]."""
    edges = np.arange(res, dtype=np.float64)
    return np.clip(np.minimum(hi[:, None], edges + 1) - np.maximum(lo[:, None], edges), 0.0, 1.0)


def render(kind: str, size, x, y, resolution: int = DEFAULT_RESOLUTION, supersample: int = 8) -> np.ndarray:
    """Images (N, 1, R, R) float32 of one shape each, from attribute arrays (fractions of the image)."""
    if kind not in SHAPE_KINDS:
        raise UserError(f"unknown shape {kind!r}: use one of {', '.join(SHAPE_KINDS)}")
    size, x, y = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (size, x, y))
    r = int(resolution)
    s, cx, cy = size * r, x * r, y * r  # in pixels; pixel i spans [i, i+1]
    if kind == "square":
        cols = _coverage_1d(cx - s / 2, cx + s / 2, r)
        rows = _coverage_1d(cy - s / 2, cy + s / 2, r)
        img = rows[:, :, None] * cols[:, None, :]
    else:
        k = supersample
        sub = (np.arange(r * k) + 0.5) / k  # sub-pixel centres in pixel units
        px = sub[None, None, :] - cx[:, None, None]
        py = sub[None, :, None] - cy[:, None, None]
        half = s[:, None, None] / 2
        if kind == "ellipse":
            inside = px ** 2 + py ** 2 <= half ** 2
        else:  # upright equilateral triangle of side s, centred in its bounding box (height h)
            h = s[:, None, None] * np.sqrt(3) / 2
            top = -h / 2
            depth = py - top  # 0 at the apex, h at the base
            inside = (depth >= 0) & (depth <= h) & (np.abs(px) <= depth / np.sqrt(3))
        img = inside.reshape(len(s), r, k, r, k).mean(axis=(2, 4))
    return img[:, None].astype(np.float32)


def draw_attributes(split_name: str, n: int, rng: np.random.Generator, jitter: float = 0.0) -> np.ndarray:
    """(n, 3) (size, x, y) for one of the splits; `jitter` > 0 draws the size split's centre (the position
    split's size) uniformly within ± jitter of its fixed value, so the model sees it at every sub-pixel phase."""
    size = rng.uniform(SIZE_MIN, SIZE_MAX, n)
    pos = rng.uniform(POS_MIN, POS_MAX, (n, 2))
    if split_name == "shapes_size":
        pos[:] = FIXED_POS
        if jitter:
            pos += rng.uniform(-jitter, jitter, (n, 2))
    elif split_name == "shapes_position":
        size[:] = FIXED_SIZE
        if jitter:
            size += rng.uniform(-jitter, jitter, n)
    elif split_name == "shapes_union":
        half = n // 2
        pos[:half] = FIXED_POS
        size[half:] = FIXED_SIZE
    return np.column_stack([size, pos]).astype(np.float32)


CONDITIONED_ON = {"shapes_size": ("size",), "shapes_position": ("x", "y"),
                  "shapes_full": ATTRIBUTES, "shapes_union": ATTRIBUTES}


def load_shapes(split_name: str, split: str, kind: str = "square", resolution: int = DEFAULT_RESOLUTION,
                n: int | None = None, seed: int = 0, jitter: float = 0.0) -> ArrayDataset:
    """One split of a shapes dataset; its attributes are those the split varies (CONDITIONED_ON)."""
    if split not in _STREAM:
        raise UserError(f"unknown split {split!r}: use 'train' or 'test'")
    n = n if n is not None else (TRAIN_COUNT if split == "train" else TEST_COUNT)
    rng = np.random.default_rng([seed, _SPLIT_ID[split_name], _STREAM[split], 7])
    attrs = draw_attributes(split_name, n, rng, jitter)
    x = render(kind, attrs[:, 0], attrs[:, 1], attrs[:, 2], resolution)
    names = CONDITIONED_ON[split_name]
    cols = [ATTRIBUTES.index(a) for a in names]
    return ArrayDataset(x, None, num_classes=0, name=split_name, levels=0, data_range=(0.0, 1.0),
                        attributes=attrs[:, cols], attribute_names=names)


def _loader(split_name: str):
    def load(cfg, split: str, seed: int) -> ArrayDataset:
        return load_shapes(split_name, split, getattr(cfg, "shape", "square"), cfg.image_size or DEFAULT_RESOLUTION,
                           jitter=getattr(cfg, "shape_jitter", 0.0))  # data independent of run.seed
    return load


_HELP = {"shapes_size": "procedural shapes, sizes vary at a fixed centre (attribute: size)",
         "shapes_position": "procedural shapes, centres vary at a fixed size (attributes: x, y)",
         "shapes_full": "procedural shapes, every (size, x, y) (evaluation and baselines only)",
         "shapes_union": "the union of shapes_size and shapes_position, conditioned on (size, x, y)"}

for _name in _SPLIT_ID:
    _keys = ("shape", "image_size") + (("shape_jitter",) if _name in ("shapes_size", "shapes_position") else ())
    register_dataset(DatasetSpec(_name, "data", _HELP[_name], load=_loader(_name), keys=_keys))
