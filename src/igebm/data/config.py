"""The `[data]` section: which dataset, where it lives, how it is split."""

from __future__ import annotations

from dataclasses import dataclass

from igebm.errors import UserError


@dataclass
class DataConfig:
    name: str = "digits"  # a registered dataset: `igebm data list`
    root: str = ""  # folder of an on-disk dataset
    image_size: int = 0  # image folders: resize to this square size (0 = as stored; all must match); shapes: resolution (0 = 16)
    shape: str = "square"  # shapes_* datasets: square, ellipse or triangle
    shape_jitter: float = 0.0  # shapes_size/_position: the fixed attribute drawn within ± this of its value (0 = exact)
    toy: str = "8gaussians"  # toy2d kind
    toy_size: int = 20000
    traj_num: int = 2000  # particles/hand: number of trajectories (split 90/10)
    traj_length: int = 102  # frames per trajectory (a history of 2 plus a 100-step horizon)
    traj_history: int = 2  # frames of history the next-state energy is conditioned on
    traj_seed: int = 0  # seed of the simulated dataset
    traj_noise: float = 0.2  # training histories: Gaussian noise of this many one-step stds; targets point back to the truth
    dequantize: bool = True
    test_fraction: float = 0.2  # datasets without a fixed test split (digits)
    val_fraction: float = 0.15  # carved out of the training split (stratified, fixed seed) for tuning

    def validate(self) -> None:
        from igebm.data.registry import get_dataset

        spec = get_dataset(self.name)
        if spec.needs_root and not self.root:
            raise UserError(f"dataset '{self.name}' is read from disk: set data.root to its folder "
                            "(--set data.root=PATH)")
        if not 0.0 < self.test_fraction < 1.0:
            raise UserError(f"config key 'data.test_fraction' must be in (0, 1), got {self.test_fraction}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UserError(f"config key 'data.val_fraction' must be in [0, 1), got {self.val_fraction}")
        if self.image_size < 0:
            raise UserError(f"config key 'data.image_size' must be 0 (as stored) or positive, got {self.image_size}")
        if self.shape not in ("square", "ellipse", "triangle"):
            raise UserError(f"config key 'data.shape' is {self.shape!r}; choose one of ['square', 'ellipse', 'triangle']")
        if not 0.0 <= self.shape_jitter <= 0.1:
            raise UserError(f"config key 'data.shape_jitter' must be in [0, 0.1] (a fraction of the width), "
                            f"got {self.shape_jitter}")
        for key, least in (("traj_num", 10), ("traj_length", 3), ("traj_history", 1)):
            if getattr(self, key) < least:
                raise UserError(f"config key 'data.{key}' must be at least {least}, got {getattr(self, key)}")
        if self.traj_noise < 0:
            raise UserError(f"config key 'data.traj_noise' must be 0 or more, got {self.traj_noise}")
        if self.traj_history >= self.traj_length:
            raise UserError(f"config key 'data.traj_history' ({self.traj_history}) must be below data.traj_length ({self.traj_length})")
        if self.toy_size < 1:
            raise UserError(f"config key 'data.toy_size' must be positive, got {self.toy_size}")
