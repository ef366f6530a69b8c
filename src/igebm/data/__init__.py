"""Datasets: one registry (`DATASETS`), one contract (`ArrayDataset`), `load_dataset(cfg.data, split)`.

To add a dataset, write a loader returning an `ArrayDataset` and register it
with `register_dataset(DatasetSpec(...))` in its module; import the module here.
"""

from igebm.data import digits, formats, hand, ood_sets, particles, shapes, toy2d  # noqa: F401  (each registers its datasets)
from igebm.data.base import ArrayDataset, dequantize, noise_fn_for
from igebm.data.registry import (DATASETS, SPLITS, DatasetSpec, get_dataset, load_dataset, load_split_from_root,
                                 names, register_dataset)

__all__ = ["ArrayDataset", "DATASETS", "DatasetSpec", "SPLITS", "dequantize", "get_dataset", "load_dataset",
           "load_split_from_root", "names", "noise_fn_for", "register_dataset"]
