"""The one dataset contract: arrays of inputs and integer labels.

Every loader (digits, toy2d, CIFAR, SVHN, MNIST, image folders) returns an
`ArrayDataset`. Images are float32 (N, C, H, W) in [0, 1]; vectors are float32
(N, D). Labels are int64 (N,); an unlabelled set has `num_classes == 0`.
Small enough to hold in memory, which is what this project trains on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ArrayDataset:
    x: np.ndarray
    y: np.ndarray
    num_classes: int
    name: str
    levels: int = 0  # quantisation levels of the pixels (17 for digits, 256 for 8-bit); 0 = continuous
    data_range: tuple[float, float] | None = (0.0, 1.0)  # None = unbounded (2-D toys)
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.y = np.ascontiguousarray(self.y, dtype=np.int64)
        if len(self.x) != len(self.y):
            raise ValueError(f"{self.name}: {len(self.x)} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. (1, 8, 8) or (2,)."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.ndim == 4

    def subset(self, index: np.ndarray) -> "ArrayDataset":
        return ArrayDataset(self.x[index], self.y[index], self.num_classes, self.name,
                            self.levels, self.data_range, self.class_names)
