"""One registry of datasets: a name, a loader and the config keys it reads, in one place.

Two kinds share it:
- `data`: something to train on (digits, toy2d, cifar10, ...), loaded by
  `load_dataset(cfg.data, split)` with split train, val or test;
- `generated`: an out-of-distribution set made from in-distribution images
  (uniform, interp, letters, ...), for `igebm ood`.
On-disk datasets double as OOD sets (`svhn:PATH`), read through the same loader.

The validation split is carved out of the training split (stratified by label,
fixed seed), so tuning never looks at the test split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from igebm.data.base import ArrayDataset
from igebm.errors import UserError

SPLITS = ("train", "val", "test")
VAL_SEED = 12345  # fixed: every run, judge and benchmark sees the same validation split


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: str  # "data" or "generated"
    help: str
    # data: (cfg.data, "train" | "test", seed) -> the whole split
    load: Callable | None = None
    keys: tuple[str, ...] = ()  # the [data] keys the loader reads
    needs_root: bool = False
    # generated: (in-distribution images (N, C, H, W), n, numpy Generator) -> (n, C, H, W)
    make: Callable | None = None
    # data that splits itself (trajectories: by whole trajectory, val carved from train with VAL_SEED):
    # (cfg.data, "train" | "val" | "test", seed) -> that split
    load_split: Callable | None = None


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    if spec.name in DATASETS:
        raise ValueError(f"dataset '{spec.name}' is registered twice")
    DATASETS[spec.name] = spec
    return spec


def names(kind: str) -> tuple[str, ...]:
    return tuple(n for n, s in DATASETS.items() if s.kind == kind)


def get_dataset(name: str, kind: str = "data") -> DatasetSpec:
    spec = DATASETS.get(name)
    if spec is None or spec.kind != kind:
        raise UserError(f"unknown dataset '{name}' (choose one of {', '.join(names(kind))})")
    return spec


def split_indices(n: int, labels: np.ndarray | None, fraction: float, seed: int = VAL_SEED):
    """(train, val) index arrays: `fraction` of n held out, stratified by label when there are labels."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    n_val = max(1, int(round(n * fraction)))
    if n_val >= n:
        raise UserError(f"data.val_fraction {fraction} leaves no training data from {n} examples")
    stratify = None
    if labels is not None:
        classes, counts = np.unique(labels, return_counts=True)
        if len(classes) > 1 and counts.min() >= 2 and len(classes) <= min(n_val, n - n_val):
            stratify = labels  # tiny sets (test fixtures) fall back to a plain random split
    return train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)


def load_dataset(data_cfg, split: str, seed: int = 0) -> ArrayDataset:
    """The `split` (train, val or test) of the dataset `data_cfg.name` names."""
    if split not in SPLITS:
        raise UserError(f"unknown split '{split}' (choose train, val or test)")
    spec = get_dataset(data_cfg.name)
    if spec.needs_root and not data_cfg.root:
        raise UserError(f"dataset '{spec.name}' is read from disk: set data.root to its folder")
    if spec.load_split is not None:
        return spec.load_split(data_cfg, split, seed)
    if split == "test":
        return spec.load(data_cfg, "test", seed)
    full = spec.load(data_cfg, "train", seed)
    if data_cfg.val_fraction <= 0:
        if split == "val":
            raise UserError("this run has no validation split (data.val_fraction = 0)")
        return full
    labels = full.y if full.num_classes else None
    train_idx, val_idx = split_indices(len(full), labels, data_cfg.val_fraction)
    return full.subset(np.sort(train_idx if split == "train" else val_idx))


def load_split_from_root(name: str, root: str, split: str = "test", image_size: int = 0) -> ArrayDataset:
    """An on-disk dataset at `root`, e.g. for `igebm ood --ood svhn:PATH`."""
    from igebm.data.config import DataConfig

    spec = get_dataset(name)
    if not spec.needs_root:
        raise UserError(f"'{name}' is not read from disk; give a generated OOD set by name alone")
    return spec.load(replace(DataConfig(), name=name, root=root, image_size=image_size), split, 0)
