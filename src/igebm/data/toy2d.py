"""2-D toy distributions with exact samplers (the usual FFJORD-style set).

Each sampler draws i.i.d. points from a known density, so a model's samples
can be compared against fresh ground truth. All kinds fit roughly in [-4, 4]^2.
"""

from __future__ import annotations

import numpy as np

from igebm.data.base import ArrayDataset
from igebm.data.registry import DatasetSpec, register_dataset
from igebm.errors import UserError

TOY_KINDS = ("8gaussians", "rings", "moons", "checkerboard", "swissroll", "pinwheel")

_SPLIT_STREAM = {"train": 0, "test": 1}  # separate RNG streams so train and test never share points


def _8gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    """Eight isotropic Gaussians (std 0.5/sqrt 2) on a circle of radius 4/sqrt 2."""
    angles = np.arange(8) * (np.pi / 4)
    centres = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = centres[rng.integers(0, 8, n)] + 0.5 * rng.standard_normal((n, 2))
    return points / np.sqrt(2.0)


def _rings(n: int, rng: np.random.Generator) -> np.ndarray:
    """Four concentric rings (radii 0.75..3), each picked with equal probability."""
    radius = 0.75 * rng.integers(1, 5, n)
    theta = rng.uniform(0.0, 2 * np.pi, n)
    points = radius[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return points + 0.08 * rng.standard_normal((n, 2))


def _moons(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved half circles (sklearn's make_moons, noise 0.1), scaled by 2 and centred."""
    t = rng.uniform(0.0, np.pi, n)
    upper = rng.integers(0, 2, n).astype(bool)
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + 0.1 * rng.standard_normal((n, 2))
    return 2.0 * points + np.array([-1.0, -0.2])


def _checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform on the 8 dark squares of a 4x4 board of side-2 squares covering [-4, 4]^2."""
    x1 = rng.uniform(-2.0, 2.0, n)
    x2 = rng.uniform(0.0, 1.0, n) - 2.0 * rng.integers(0, 2, n) + np.floor(x1) % 2
    return 2.0 * np.stack([x1, x2], axis=1)


def _swissroll(n: int, rng: np.random.Generator) -> np.ndarray:
    """sklearn's 2-D swiss roll (t in [1.5pi, 4.5pi], noise 1) divided by 5."""
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(0.0, 1.0, n))
    points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    return (points + rng.standard_normal((n, 2))) / 5.0


def _pinwheel(n: int, rng: np.random.Generator) -> np.ndarray:
    """Five curved arms: Gaussian blobs rotated by an angle that grows with the radius."""
    arm = rng.integers(0, 5, n)
    features = rng.standard_normal((n, 2)) * np.array([0.3, 0.1]) + np.array([1.0, 0.0])
    angles = arm * (2 * np.pi / 5) + 0.25 * np.exp(features[:, 0])
    cos, sin = np.cos(angles), np.sin(angles)
    x = features[:, 0] * cos + features[:, 1] * sin
    y = -features[:, 0] * sin + features[:, 1] * cos
    return 2.0 * np.stack([x, y], axis=1)


_SAMPLERS = {"8gaussians": _8gaussians, "rings": _rings, "moons": _moons,
             "checkerboard": _checkerboard, "swissroll": _swissroll, "pinwheel": _pinwheel}


def sample_toy(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n exact samples of toy `kind` as float32 (n, 2)."""
    if kind not in _SAMPLERS:
        raise UserError(f"unknown 2-D toy kind {kind!r}: use one of {', '.join(TOY_KINDS)}")
    if int(n) != n or n < 1:
        raise UserError(f"toy sample count must be a positive integer, got {n!r}")
    return _SAMPLERS[kind](int(n), rng).astype(np.float32)


def load_toy2d(kind: str, n: int, split: str, seed: int = 0) -> ArrayDataset:
    """A fixed set of n toy points; train and test come from different seeded streams."""
    if split not in _SPLIT_STREAM:
        raise UserError(f"unknown split {split!r}: use 'train' or 'test'")
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
    x = sample_toy(kind, n, rng)
    return ArrayDataset(x, np.zeros(len(x), dtype=np.int64), num_classes=0, name=kind,
                        levels=0, data_range=None)


def _load(cfg, split: str, seed: int) -> ArrayDataset:
    n = cfg.toy_size if split == "train" else max(1000, cfg.toy_size // 5)
    return load_toy2d(cfg.toy, n, split, seed)


register_dataset(DatasetSpec("toy2d", "data", f"2-D toy densities with exact samplers ({', '.join(TOY_KINDS)})",
                             load=_load, keys=("toy", "toy_size")))
