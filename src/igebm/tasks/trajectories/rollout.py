"""Rollouts of a next-state model: sample s_{t+1} given s_{t-k+1..t}, append it, repeat.

The EBM's energy is over the standardised change x = (s_{t+1} - s_t - mu)/sigma,
conditioned on the standardised history (see `igebm.data.trajectories`). Each
step runs the run's sampler (the shared `Sampler.sample`) from a start `init`:
- "previous": the last step's change (a warm start at constant velocity);
- "noise": fresh noise from the training noise box, as fresh training chains start;
- "base": an exact sample of the energy's own Gaussian base (arch mlp-traj-shift) at the
  rollout's temperature, as its training chains start (buffer.start = "base").
A `temperature` below the run's samples exp(-E/T) more greedily; for ULA the step
size is scaled with it, so the drift per step stays and the noise shrinks by sqrt(T).
S rollouts from one start are S independent chains. A deterministic predictor
(the feed-forward baseline) is rolled out the same way, with its prediction in
place of the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from igebm.data.trajectories import (SIMULATORS, Trajectories, TrajectoryStats, load_trajectories, previous_change,
                                     trajectory_stats)
from igebm.errors import UserError
from igebm.tasks.trajectories.config import INITS
from igebm.training import TrainedRun


@dataclass
class TrajectoryModel:
    run: TrainedRun
    stats: TrajectoryStats
    history: int  # k
    dim: int  # D

    @property
    def name(self) -> str:
        return self.run.cfg.data.name

    def split(self, split: str) -> Trajectories:
        return load_trajectories(self.run.cfg.data, split)


def trajectory_model(run: TrainedRun) -> TrajectoryModel:
    """What rollouts need from a run; a run trained on another dataset is a UserError."""
    name = run.cfg.data.name
    if name not in SIMULATORS:
        raise UserError(f"run '{run.run_dir}' was trained on '{name}', not a trajectory dataset "
                        f"({', '.join(SIMULATORS)}); train one with `igebm train particles`")
    if run.cond_spec.kind != "attributes":
        raise UserError(f"run '{run.run_dir}' is not conditioned on the history (model.condition = attributes)")
    stats = trajectory_stats(run.cfg.data)
    return TrajectoryModel(run, stats, run.cfg.data.traj_history, len(stats.state_mean))


def parse_start(text: str) -> tuple[str, int]:
    """'test:12' -> ('test', 12); the split is train, val or test."""
    split, sep, idx = text.partition(":")
    if not sep or split not in ("train", "val", "test") or not idx.lstrip("-").isdigit():
        raise UserError(f"--start must look like test:IDX (or train:IDX, val:IDX), got {text!r}")
    return split, int(idx)


def start_state(traj: Trajectories, index: int, history: int, horizon: int, split: str = "test"):
    """(history (k, D), truth (T+1, D)): the first k frames of a trajectory, and the frames from the k-th on."""
    if horizon < 1:
        raise UserError(f"--horizon must be at least 1, got {horizon}")
    if not 0 <= index < len(traj):
        raise UserError(f"start index {index} is out of range: the {split} split has trajectories 0..{len(traj) - 1}")
    most = traj.length - history
    if horizon > most:
        raise UserError(f"--horizon {horizon} is longer than the trajectories allow: at most {most} "
                        f"(length {traj.length}, history {history})")
    s = traj.states[index]
    return s[:history].copy(), s[history - 1:history + horizon].copy()


def _cond(hist: torch.Tensor, stats: TrajectoryStats) -> torch.Tensor:
    mean, std = (torch.as_tensor(v, dtype=torch.float32) for v in (stats.state_mean, stats.state_std))
    return ((hist - mean) / std).flatten(1)


def _init(hist: torch.Tensor, stats: TrajectoryStats, init: str, run: TrainedRun, g: torch.Generator,
          temperature: float = 1.0):
    if init == "noise":
        return run.noise(len(hist), g)
    if init == "base":
        return run.energy.base_sample(_cond(hist, stats), g, temperature)
    return previous_change(_cond(hist, stats), stats, hist.shape[2])


def rollout_ebm(model: TrajectoryModel, history: np.ndarray, horizon: int, samples: int, seed: int = 0, *,
                steps: int | None = None, init: str = "previous", temperature: float | None = None,
                constraint: nn.Module | None = None) -> np.ndarray:
    """(B, S, T+1, D) rollouts from histories (B, k, D) (or (k, D) -> (S, T+1, D)); frame 0 is the last history frame.

    `constraint`: a known rule's energy over (x, history), added to the model's (AND) at every step
    (`constraints.ParticleConstraint`)."""
    if init not in INITS:
        raise UserError(f"unknown rollout init {init!r} (choose one of {', '.join(INITS)})")
    if init == "base" and not hasattr(model.run.energy, "base_sample"):
        raise UserError(f"rollout init 'base' needs an energy with a base distribution (model.arch = "
                        f"'mlp-traj-shift'); this run's is '{model.run.cfg.model.arch}': use --init noise or previous")
    single = history.ndim == 2
    h = torch.as_tensor(np.asarray(history, np.float32)[None] if single else np.asarray(history, np.float32))
    B, k, D = h.shape
    if k != model.history or D != model.dim:
        raise UserError(f"a history of shape {(k, D)} does not fit this run ({model.history}, {model.dim})")
    hist = h.repeat_interleave(samples, 0)  # (B*S, k, D)
    g = torch.Generator().manual_seed(seed)
    sampler = model.run.sampler
    old_t, old_step = sampler.temperature, getattr(sampler, "step_size", None)
    if temperature is not None:
        sampler.temperature = temperature
        if getattr(sampler, "parameterization", "") == "ula":  # same drift per step, noise scaled by sqrt(T)
            sampler.step_size = old_step * temperature / old_t
    std = torch.as_tensor(model.stats.delta_std, dtype=torch.float32)
    mean = torch.as_tensor(model.stats.delta_mean, dtype=torch.float32)
    energy = model.run.energy
    if constraint is not None:
        from igebm.models.algebra import Wrapped
        energy = Wrapped(energy) & constraint
    frames = [hist[:, -1]]
    try:
        for _ in range(horizon):
            x0 = _init(hist, model.stats, init, model.run, g, sampler.temperature)
            x = sampler.sample(energy, x0, _cond(hist, model.stats), steps=steps, generator=g).x
            nxt = hist[:, -1] + x * std + mean
            frames.append(nxt)
            hist = torch.cat([hist[:, 1:], nxt[:, None]], 1)
    finally:
        sampler.temperature = old_t
        if old_step is not None:
            sampler.step_size = old_step
    out = torch.stack(frames, 1).reshape(B, samples, horizon + 1, D).numpy()
    return out[0] if single else out


@torch.no_grad()
def rollout_predictor(predictor: nn.Module, stats: TrajectoryStats, history: np.ndarray, horizon: int) -> np.ndarray:
    """(B, T+1, D) rollouts of a deterministic next-change predictor from histories (B, k, D) (or (k, D))."""
    single = history.ndim == 2
    hist = torch.as_tensor(np.asarray(history, np.float32)[None] if single else np.asarray(history, np.float32))
    std = torch.as_tensor(stats.delta_std, dtype=torch.float32)
    mean = torch.as_tensor(stats.delta_mean, dtype=torch.float32)
    frames = [hist[:, -1]]
    for _ in range(horizon):
        nxt = hist[:, -1] + predictor(_cond(hist, stats)) * std + mean
        frames.append(nxt)
        hist = torch.cat([hist[:, 1:], nxt[:, None]], 1)
    out = torch.stack(frames, 1).numpy()
    return out[0] if single else out
