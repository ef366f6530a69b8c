"""The one dataset contract: inputs with an optional condition (a class label or named attributes).

Every loader returns an `ArrayDataset`. Images are float32 (N, C, H, W) in
[0, 1]; vectors are float32 (N, D). The condition of an input is a class label
(`y`, int64, `num_classes` > 0), a float vector of named attributes
(`attributes` (N, K), `attribute_names`), or nothing. Small enough to hold in
memory, which is what this project trains on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

CONDITION_KINDS = ("label", "attributes")


@dataclass
class ArrayDataset:
    x: np.ndarray
    y: np.ndarray | None = None  # int64 (N,) class labels; zeros when unlabelled
    num_classes: int = 0
    name: str = ""
    levels: int = 0  # quantisation levels of the pixels (17 for digits, 256 for 8-bit); 0 = continuous
    data_range: tuple[float, float] | None = (0.0, 1.0)  # None = unbounded (2-D toys)
    class_names: tuple[str, ...] = ()
    attributes: np.ndarray | None = None  # float32 (N, K) continuous conditions, e.g. size, x, y
    attribute_names: tuple[str, ...] = ()
    # start(cond, generator) -> x: a condition-informed chain start (trajectories: the last step's change),
    # used by `buffer.start = "warm"` and by rollouts; None = the dataset has none
    warm_start: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        y = np.zeros(len(self.x)) if self.y is None else self.y
        self.y = np.ascontiguousarray(y, dtype=np.int64)
        if len(self.x) != len(self.y):
            raise ValueError(f"{self.name}: {len(self.x)} inputs but {len(self.y)} labels")
        if self.attributes is not None:
            self.attributes = np.ascontiguousarray(self.attributes, dtype=np.float32).reshape(len(self.x), -1)
            if self.attributes.shape[1] != len(self.attribute_names):
                raise ValueError(f"{self.name}: {self.attributes.shape[1]} attribute columns but "
                                 f"{len(self.attribute_names)} names")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. (1, 8, 8) or (2,)."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.ndim == 4

    def available_conditions(self) -> tuple[str, ...]:
        return tuple(k for k, ok in (("label", self.num_classes > 0), ("attributes", self.attributes is not None))
                     if ok)

    def conditions(self, kind: str) -> np.ndarray:
        """The condition of every input: labels (N,) int64 or attributes (N, K) float32."""
        if kind == "label":
            return self.y
        if kind == "attributes" and self.attributes is not None:
            return self.attributes
        raise ValueError(f"{self.name} has no {kind} conditions")

    def subset(self, index: np.ndarray) -> "ArrayDataset":
        attrs = None if self.attributes is None else self.attributes[index]
        return replace(self, x=self.x[index], y=self.y[index], attributes=attrs)


def noise_fn_for(data: ArrayDataset) -> Callable[[int, torch.Generator], torch.Tensor]:
    """Fresh chains start from uniform noise over the data range (or the data's bounding box, widened)."""
    if data.data_range is not None:
        lo, hi = data.data_range
    else:
        lo, hi = float(data.x.min()) - 1.0, float(data.x.max()) + 1.0
    shape = data.shape

    def noise(n: int, g: torch.Generator) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand((n, *shape), generator=g)
    return noise


def dequantize(x: torch.Tensor, levels: int, g: torch.Generator) -> torch.Tensor:
    """Map k/(L-1) to (k + U[0,1))/L: continuous data for a continuous density."""
    if levels <= 1:
        return x
    return (x * (levels - 1) + torch.rand(x.shape, generator=g)) / levels
