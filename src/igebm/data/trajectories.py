"""Trajectory datasets (particles, hand): the cache on disk, the splits, and the training windows.

A simulator writes `states` (N, T, D) float32 with `state_names` (D,) and its
own metadata (the particles' `box` and `radius`, ...). The file is cached as
`<dir>/<simulator>_n<N>_t<T>_seed<S>.npz`, written atomically (`igebm.io`), so
a partly written file never carries the final name; on load it must name the
simulator that is asked for and hold exactly N x T states, or it is refused.

Splits are by whole trajectories: the last 10% are the test split (90/10 as in
the paper), and `data.val_fraction` of the training trajectories (fixed seed,
`registry.VAL_SEED`) are the validation split, so no trajectory is in two splits.

What the EBM trains on: one row per time step t of a trajectory, with
- `x`: the next step's change s_{t+1} - s_t, standardised per dimension;
- `attributes`: the history s_{t-k+1..t}, standardised per dimension (the
  run's float condition: `model.condition = "attributes"`).
An energy over the standardised change is an energy over the next state: the
map between them is a fixed shift and scale given the history. The statistics
come from the training trajectories only (`TrajectoryStats`).
Training histories carry Gaussian noise (`data.traj_noise` times one step's
std, one fixed draw) and the targets point from the noisy current frame to the
clean next one (noise injection, as in learned simulators): rollouts learn to
pull perturbed states back, and the nearly deterministic next state gets a width
the Langevin sampler can resolve. Validation and test windows are clean.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from igebm.data.base import ArrayDataset
from igebm.errors import UserError

TEST_FRACTION = 0.1
NOISE_BOX = (-3.0, 3.0)
FORMAT_VERSION = 1
SIMULATORS: dict[str, "Simulator"] = {}


@dataclass(frozen=True)
class Simulator:
    """A trajectory source: `generate(num, length, seed, progress) -> (states, state_names, meta)`."""

    name: str
    generate: Callable
    extra: str = ""  # the pip extra it needs, if any ("hand")
    help: str = ""


def register_simulator(sim: Simulator) -> Simulator:
    SIMULATORS[sim.name] = sim
    return sim


@dataclass
class Trajectories:
    states: np.ndarray  # (N, T, D) float32
    state_names: tuple[str, ...]
    simulator: str
    meta: dict = field(default_factory=dict)  # simulator-specific (box, radius, joint ranges, ...)

    def __len__(self) -> int:
        return len(self.states)

    @property
    def dim(self) -> int:
        return self.states.shape[2]

    @property
    def length(self) -> int:
        return self.states.shape[1]

    def subset(self, index: np.ndarray) -> "Trajectories":
        return Trajectories(self.states[index], self.state_names, self.simulator, self.meta)


@dataclass
class TrajectoryStats:
    """Per-dimension mean/std of the states and of one step's change, from the training trajectories."""

    state_mean: np.ndarray
    state_std: np.ndarray
    delta_mean: np.ndarray
    delta_std: np.ndarray
    state_lo: np.ndarray  # per-dimension range of the training states (the stability check)
    state_hi: np.ndarray

    @classmethod
    def of(cls, states: np.ndarray) -> "TrajectoryStats":
        s = states.reshape(-1, states.shape[2]).astype(np.float64)
        d = np.diff(states.astype(np.float64), axis=1).reshape(-1, states.shape[2])
        return cls(s.mean(0), np.maximum(s.std(0), 1e-6), d.mean(0), np.maximum(d.std(0), 1e-6),
                   s.min(0), s.max(0))

    def norm_state(self, s):
        return (s - self.state_mean) / self.state_std

    def norm_delta(self, d):
        return (d - self.delta_mean) / self.delta_std

    def denorm_delta(self, z):
        return z * self.delta_std + self.delta_mean


# ----------------------------------------------------------------------- the cache on disk
def data_dir(root: str) -> Path:
    """Where datasets are cached: data.root, else $IGEBM_DATA_DIR, else ./runs/data."""
    return Path(root or os.environ.get("IGEBM_DATA_DIR", "") or "runs/data")


def cache_path(simulator: str, num: int, length: int, seed: int, root: str = "") -> Path:
    """The file a dataset lives in; `root` may also name an .npz file directly."""
    if root.endswith(".npz"):
        return Path(root)
    return data_dir(root) / f"{simulator}_n{num}_t{length}_seed{seed}.npz"


def save_trajectories(path: Path, traj: Trajectories, seed: int) -> Path:
    from igebm import io

    header = {"simulator": traj.simulator, "version": FORMAT_VERSION, "num": len(traj), "length": traj.length,
              "dim": traj.dim, "seed": seed, "meta": traj.meta}
    return io.write_npz(path, states=traj.states.astype(np.float32), state_names=np.array(traj.state_names),
                        header=np.array(json.dumps(header)))


def read_trajectories(path: str | Path, simulator: str | None = None, num: int | None = None,
                      length: int | None = None) -> Trajectories:
    """Load a cached dataset, refusing a file of another simulator, shape or a truncated one (UserError)."""
    path = Path(path)
    hint = f"delete it and run `igebm data {simulator or 'particles|hand'}` again"
    if not path.is_file():
        raise UserError(f"dataset file '{path}' does not exist; create it with `igebm data {simulator or 'particles'}`")
    try:
        with np.load(path, allow_pickle=False) as f:
            header = json.loads(str(f["header"]))
            states, names = f["states"], tuple(str(n) for n in f["state_names"])
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise UserError(f"dataset file '{path}' is truncated or not an igebm trajectory file "
                        f"({type(exc).__name__}); {hint}") from None
    if not isinstance(header, dict) or "simulator" not in header:
        raise UserError(f"dataset file '{path}' has no simulator header; {hint}")
    if simulator is not None and header["simulator"] != simulator:
        raise UserError(f"dataset file '{path}' was written by the '{header['simulator']}' simulator, "
                        f"not '{simulator}'")
    want = (header.get("num"), header.get("length"), header.get("dim"))
    if states.ndim != 3 or tuple(states.shape) != want or len(names) != states.shape[2]:
        raise UserError(f"dataset file '{path}' is truncated: states {tuple(states.shape)}, header says {want}; {hint}")
    if (num is not None and states.shape[0] != num) or (length is not None and states.shape[1] != length):
        raise UserError(f"dataset file '{path}' holds {states.shape[0]} x {states.shape[1]} states, "
                        f"not {num} x {length}")
    if not np.isfinite(states).all():
        raise UserError(f"dataset file '{path}' holds non-finite states; {hint}")
    return Trajectories(states.astype(np.float32), names, header["simulator"], header.get("meta", {}))


def get_simulator(name: str) -> Simulator:
    if name not in SIMULATORS:
        raise UserError(f"unknown trajectory simulator '{name}' (choose one of {', '.join(SIMULATORS)})")
    return SIMULATORS[name]


def generate_trajectories(name: str, num: int, length: int, seed: int = 0, root: str = "",
                          progress: bool = True, overwrite: bool = False) -> tuple[Path, Trajectories]:
    """Simulate and cache a dataset (or read the cached one); returns (path, trajectories)."""
    if num < 10:
        raise UserError(f"--num must be at least 10 (a 90/10 split needs it), got {num}")
    if length < 3:
        raise UserError(f"--length must be at least 3, got {length}")
    path = cache_path(name, num, length, seed, root)
    if path.is_file() and not overwrite:
        return path, read_trajectories(path, name, num, length)
    states, names, meta = get_simulator(name).generate(num, length, seed, progress)
    traj = Trajectories(np.asarray(states, np.float32), tuple(names), name, meta)
    save_trajectories(path, traj, seed)
    return path, traj


# ----------------------------------------------------------------------- splits and windows
def split_index(n: int, split: str, val_fraction: float) -> np.ndarray:
    """Trajectory indices of a split: test = the last 10%, val = a fixed-seed share of the rest."""
    from igebm.data.registry import VAL_SEED

    n_test = max(1, int(round(n * TEST_FRACTION)))
    if split == "test":
        return np.arange(n - n_test, n)
    train = np.arange(n - n_test)
    if val_fraction <= 0:
        if split == "val":
            raise UserError("this run has no validation split (data.val_fraction = 0)")
        return train
    n_val = max(1, int(round(len(train) * val_fraction)))
    if n_val >= len(train):
        raise UserError(f"data.val_fraction {val_fraction} leaves no training trajectories from {len(train)}")
    val = np.sort(np.random.default_rng(VAL_SEED).permutation(train)[:n_val])
    return val if split == "val" else np.setdiff1d(train, val)


def load_trajectories(data_cfg, split: str | None = None) -> Trajectories:
    """The cached trajectories a `[data]` config names (simulated when missing), optionally one split."""
    _, traj = generate_trajectories(data_cfg.name, data_cfg.traj_num, data_cfg.traj_length, data_cfg.traj_seed,
                                    data_cfg.root, progress=True)
    if split is None:
        return traj
    return traj.subset(split_index(len(traj), split, data_cfg.val_fraction))


def trajectory_stats(data_cfg) -> TrajectoryStats:
    return TrajectoryStats.of(load_trajectories(data_cfg, "train").states)


def history_names(state_names: tuple[str, ...], k: int) -> tuple[str, ...]:
    return tuple(f"t-{k - 1 - j}:{n}" for j in range(k) for n in state_names)


def windows(states: np.ndarray, stats: TrajectoryStats, k: int, noise: float = 0.0,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, history): standardised next-step changes (M, D) and standardised histories (M, k*D).

    With `noise` > 0, every frame of the history gets Gaussian noise of `noise` times one step's
    standard deviation (one fixed draw), and the target is the change from the noisy current frame
    to the clean next one: the model learns to pull a perturbed state back (robust rollouts), and
    the target gets a width of about `noise` in standardised units.
    """
    n, t, d = states.shape
    if t < k + 1:
        raise UserError(f"trajectories of length {t} are too short for a history of {k}")
    clean = states.astype(np.float64)
    noisy = clean
    if noise > 0:
        noisy = clean + noise * stats.delta_std * np.random.default_rng(seed).standard_normal(clean.shape)
    z = stats.norm_state(noisy)
    hist = np.concatenate([z[:, j:t - k + j] for j in range(k)], axis=2)  # (n, t-k, k*d), last block = s_t
    delta = stats.norm_delta(clean[:, k:] - noisy[:, k - 1:-1])
    return delta.reshape(-1, d).astype(np.float32), hist.reshape(-1, k * d).astype(np.float32)


def previous_change(history: torch.Tensor, stats: TrajectoryStats, dim: int) -> torch.Tensor:
    """The standardised change from frame t-1 to t of standardised histories (B, k*D): a constant-velocity
    guess of the next change, where training chains (`buffer.start = "warm"`) and rollouts start."""
    if history.shape[1] < 2 * dim:
        return torch.zeros(len(history), dim)
    std = torch.as_tensor(stats.state_std, dtype=torch.float32)
    last, before = history[:, -dim:].float(), history[:, -2 * dim:-dim].float()
    change = (last - before) * std  # the state means cancel
    return (change - torch.as_tensor(stats.delta_mean, dtype=torch.float32)) / torch.as_tensor(
        stats.delta_std, dtype=torch.float32)


def make_split_loader(name: str):
    """The registry's `load_split` for a trajectory dataset: windows of one split's trajectories."""

    def load_split(data_cfg, split: str, seed: int = 0) -> ArrayDataset:
        from dataclasses import replace

        if data_cfg.name != name:
            data_cfg = replace(data_cfg, name=name)
        stats = trajectory_stats(data_cfg)
        traj = load_trajectories(data_cfg, split)
        from igebm.data.registry import VAL_SEED

        noise = data_cfg.traj_noise if split == "train" else 0.0  # validation and test windows are clean
        x, hist = windows(traj.states, stats, data_cfg.traj_history, noise, VAL_SEED + 1)
        # data_range is the box fresh chains start from (standardised units, about the data's scale); the
        # trajectory recipes set sampler.clamp = false, so samples are not clamped to it
        d = traj.dim
        return ArrayDataset(x, None, 0, name=name, levels=0, data_range=NOISE_BOX, attributes=hist,
                            attribute_names=history_names(traj.state_names, data_cfg.traj_history),
                            warm_start=lambda cond, g: previous_change(cond, stats, d))
    return load_split
