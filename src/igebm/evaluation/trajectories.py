"""Measuring rollouts: error against the truth, diversity, coverage, feasibility and stability.

Distances are RMSEs over all state dimensions in standardised units (each
dimension divided by its standard deviation over the training states), so
positions and velocities count alike.
- error at horizon h: the mean over the S rollouts, and the best of S, an ORACLE
  (it picks the rollout closest to the truth, which a user cannot do);
- diversity at h: the mean pairwise distance between the S rollouts of one start
  (zero for a deterministic predictor);
- coverage at h: the share of starts whose true state at h lies within
  `coverage_radius` of at least one rollout;
- feasibility: particles inside the box and not overlapping (both within
  `tol`), total kinetic energy at most 1.1x the largest a kick can give
  (`ke_max`); the hand within its joint limits, and no block deeper than
  `palm_tol` metres in the palm when replayed in MuJoCo;
- energy score at h: mean-of-S error - diversity / 2, the proper scoring rule for
  samples (Gneiting & Raftery 2007): lowest in expectation for the true distribution
  of futures, so, unlike the mean-of-S error, it does not reward rollouts that shrink
  to a safe middle; for a point prediction it is just its error;
- the training mean: the error of predicting the training states' mean at every
  horizon, the reference a long-horizon error should be read against (past the
  kicks' memory, no model can do much better, and a rollout that shrinks to it
  scores well without being a plausible future);
- stability: a rollout is stable when every state is finite and within the
  training states' per-dimension range widened by 10% on each side.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from igebm.data.trajectories import Trajectories, TrajectoryStats

HORIZONS = (1, 10, 50, 100)


def distances(rollouts: np.ndarray, truth: np.ndarray, stats: TrajectoryStats) -> np.ndarray:
    """(..., T+1) standardised RMSE of rollouts (..., T+1, D) against truth (broadcast)."""
    diff = (rollouts - truth) / stats.state_std
    return np.sqrt(np.mean(diff.astype(np.float64) ** 2, axis=-1))


def pairwise_spread(rollouts: np.ndarray, stats: TrajectoryStats) -> np.ndarray:
    """(B, T+1) mean pairwise standardised RMSE between the S rollouts (B, S, T+1, D) of each start."""
    z = rollouts.astype(np.float64) / stats.state_std
    S = z.shape[1]
    if S < 2:
        return np.zeros(z.shape[::2][:2])
    total = 0.0
    for i in range(S):
        for j in range(i + 1, S):
            total = total + np.sqrt(np.mean((z[:, i] - z[:, j]) ** 2, axis=-1))
    return total / (S * (S - 1) / 2)


def stable(rollouts: np.ndarray, stats: TrajectoryStats, margin: float = 0.1) -> np.ndarray:
    """(...,) True where a whole rollout (..., T+1, D) stays finite and within the widened data range."""
    width = stats.state_hi - stats.state_lo
    lo, hi = stats.state_lo - margin * width, stats.state_hi + margin * width
    ok = np.isfinite(rollouts) & (rollouts >= lo) & (rollouts <= hi)
    return ok.all(axis=(-1, -2))


def particle_validity(states: np.ndarray, meta: dict, tol: float = 0.01) -> dict[str, np.ndarray]:
    """Per-state checks (...,) for particle states (..., 4P): in_box, no_overlap, energy_ok, valid."""
    r = np.asarray(meta["radius"], float)
    box = np.asarray(meta["box"], float)
    P = len(r)
    s = states.reshape(*states.shape[:-1], P, 4).astype(np.float64)
    pos = s[..., :2]
    in_box = ((pos >= r[:, None] - tol) & (pos <= box - r[:, None] + tol)).all(axis=(-1, -2))
    no_overlap = np.ones(states.shape[:-1], bool)
    for i in range(P):
        for j in range(i + 1, P):
            no_overlap &= np.linalg.norm(pos[..., i, :] - pos[..., j, :], axis=-1) >= r[i] + r[j] - tol
    ke = 0.5 * (s[..., 2] ** 2 + s[..., 3] ** 2).sum(-1)
    energy_ok = np.isfinite(ke) & (ke <= 1.1 * meta["ke_max"])
    return {"in_box": in_box, "no_overlap": no_overlap, "energy_ok": energy_ok,
            "valid": in_box & no_overlap & energy_ok}


def hand_validity(states: np.ndarray, geometry, palm_tol: float = 0.005) -> dict[str, np.ndarray]:
    """Per-state checks for hand states: within_limits, block_not_in_palm, valid (MuJoCo replay)."""
    limits = geometry.within_joint_limits(states)
    finite = np.isfinite(states).all(-1)
    safe = np.where(finite[..., None], states, 0.0)
    palm = geometry.palm_penetration(safe) <= palm_tol
    return {"within_limits": limits & finite, "block_not_in_palm": palm & finite, "valid": limits & palm & finite}


def summarise(name: str, ebm: np.ndarray, ff: np.ndarray, truth: np.ndarray, stats: TrajectoryStats,
              horizons: Iterable[int] = HORIZONS, coverage_radius: float = 1.0,
              validity=None, simulated: np.ndarray | None = None) -> dict:
    """Every measure for B starts: ebm (B, S, T+1, D), ff (B, T+1, D), truth (B, T+1, D).

    `simulated` (B, S, T+1, D): S more true futures of each start from the simulator itself, scored
    like the EBM's: what a perfect model would get (its mean-of-S error is not 0: futures branch)."""
    T = truth.shape[1] - 1
    horizons = [h for h in horizons if h <= T]
    d_ebm = distances(ebm, truth[:, None], stats)  # (B, S, T+1)
    d_ff = distances(ff, truth, stats)  # (B, T+1)
    d_mean = distances(stats.state_mean.astype(np.float64), truth, stats)  # (B, T+1)
    spread = pairwise_spread(ebm, stats)
    if simulated is not None:
        d_sim, sim_spread = distances(simulated, truth[:, None], stats), pairwise_spread(simulated, stats)
    out: dict = {"dataset": name, "starts": int(len(truth)), "samples": int(ebm.shape[1]), "horizon": int(T),
                 "coverage_radius": coverage_radius, "by_horizon": {}}
    for h in horizons:
        out["by_horizon"][str(h)] = {
            "ebm_error_mean_of_samples": float(d_ebm[:, :, h].mean()),
            "ebm_error_best_of_samples_ORACLE": float(d_ebm[:, :, h].min(1).mean()),
            "feedforward_error": float(d_ff[:, h].mean()),
            "ebm_diversity": float(spread[:, h].mean()),
            "feedforward_diversity": 0.0,
            "ebm_coverage": float((d_ebm[:, :, h].min(1) <= coverage_radius).mean()),
            "feedforward_coverage": float((d_ff[:, h] <= coverage_radius).mean()),
            "training_mean_error": float(d_mean[:, h].mean()),
            "ebm_energy_score": float(d_ebm[:, :, h].mean() - 0.5 * spread[:, h].mean()),
            "feedforward_energy_score": float(d_ff[:, h].mean()),
        }
        if simulated is not None:
            out["by_horizon"][str(h)].update(
                simulator_error_mean_of_samples=float(d_sim[:, :, h].mean()),
                simulator_error_best_of_samples_ORACLE=float(d_sim[:, :, h].min(1).mean()),
                simulator_diversity=float(sim_spread[:, h].mean()),
                simulator_coverage=float((d_sim[:, :, h].min(1) <= coverage_radius).mean()),
                simulator_energy_score=float(d_sim[:, :, h].mean() - 0.5 * sim_spread[:, h].mean()))
    out["ebm_stable"] = float(stable(ebm, stats).mean())
    out["feedforward_stable"] = float(stable(ff, stats).mean())
    if validity is not None:
        for who, x in (("ebm", ebm[:, :, 1:]), ("feedforward", ff[:, 1:]), ("truth", truth[:, 1:])):
            checks = validity(x)
            out[f"{who}_feasible"] = {k: float(v.mean()) for k, v in checks.items()}
    return out


def starts_of(traj: Trajectories, history: int, horizon: int, num: int) -> tuple[np.ndarray, np.ndarray]:
    """(histories (B, k, D), truths (B, T+1, D)) of the first `num` trajectories of a split."""
    s = traj.states[:num]
    return s[:, :history], s[:, history - 1:history + horizon]
