"""Datasets. `load_dataset(cfg.data, split)` returns an `ArrayDataset` for any supported source."""

from __future__ import annotations

from igebm.data.base import ArrayDataset
from igebm.errors import UserError

SPLITS = ("train", "test")


def load_dataset(data_cfg, split: str, seed: int = 0) -> ArrayDataset:
    """Dispatch on `data_cfg.name`; on-disk sets are read from `data_cfg.root`."""
    if split not in SPLITS:
        raise UserError(f"unknown split '{split}' (choose train or test)")
    name = data_cfg.name
    if name == "digits":
        from igebm.data.digits import load_digits_split
        return load_digits_split(split, data_cfg.test_fraction)
    if name == "toy2d":
        from igebm.data.toy2d import load_toy2d
        n = data_cfg.toy_size if split == "train" else max(1000, data_cfg.toy_size // 5)
        return load_toy2d(data_cfg.toy, n, split, seed)
    from igebm.data import formats
    loaders = {
        "cifar10": lambda: formats.load_cifar(data_cfg.root, split, num_classes=10),
        "cifar100": lambda: formats.load_cifar(data_cfg.root, split, num_classes=100),
        "svhn": lambda: formats.load_svhn(data_cfg.root, split),
        "mnist": lambda: formats.load_mnist(data_cfg.root, split),
        "folder": lambda: formats.load_image_folder(data_cfg.root, split),
    }
    if name not in loaders:
        raise UserError(f"unknown dataset '{name}' (choose one of digits, toy2d, {', '.join(loaders)})")
    return loaders[name]()


__all__ = ["ArrayDataset", "SPLITS", "load_dataset"]
