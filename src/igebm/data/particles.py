"""Particles in a 2-D box: the project's own simulator (numpy, vectorised over trajectories, seeded).

- A few discs (equal masses, their own radii) in a box of `box` = (width, height).
- Elastic bounces off the walls and between particles (equal masses exchange the
  normal components of their velocities; overlap is resolved along the normal
  without touching the velocities), so kinetic energy is conserved exactly
  between kicks.
- Random kicks: in each frame each particle is kicked with probability
  `kick_prob`, which gives it a new velocity (uniform direction, speed uniform
  in [speed_min, speed_max]). Kicks make the futures of one start multimodal.
- The state of a frame: `p0.x, p0.y, p0.vx, p0.vy, p1.x, ...` (positions, velocities).
Several sub-steps per recorded frame keep the collision handling accurate.
"""

from __future__ import annotations

import numpy as np

from igebm.data.registry import DatasetSpec, register_dataset
from igebm.data.trajectories import Simulator, make_split_loader, register_simulator

PARAMS = {"particles": 3, "box": [1.0, 1.0], "radius": [0.06, 0.08, 0.1], "dt": 0.05, "substeps": 4,
          "speed_min": 0.3, "speed_max": 0.8, "kick_prob": 0.02}


def state_names(num_particles: int) -> tuple[str, ...]:
    return tuple(f"p{i}.{c}" for i in range(num_particles) for c in ("x", "y", "vx", "vy"))


def kinetic_energy(states: np.ndarray, num_particles: int) -> np.ndarray:
    """Total kinetic energy (unit masses) of each state (..., 4P) -> (...)."""
    s = states.reshape(*states.shape[:-1], num_particles, 4)
    return 0.5 * (s[..., 2] ** 2 + s[..., 3] ** 2).sum(-1)


def _random_velocities(rng: np.random.Generator, shape, p) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, shape)
    speed = rng.uniform(p["speed_min"], p["speed_max"], shape)
    return np.stack([speed * np.cos(angle), speed * np.sin(angle)], axis=-1)


def _initial_positions(rng: np.random.Generator, n: int, box: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Non-overlapping positions inside the box, by rejection (vectorised over trajectories)."""
    P = len(r)
    pos = np.empty((n, P, 2))
    todo = np.arange(n)
    while len(todo):
        cand = rng.uniform(r[None, :, None], box[None, None, :] - r[None, :, None], (len(todo), P, 2))
        ok = np.ones(len(todo), bool)
        for i in range(P):
            for j in range(i + 1, P):
                ok &= np.linalg.norm(cand[:, i] - cand[:, j], axis=-1) > r[i] + r[j]
        pos[todo[ok]] = cand[ok]
        todo = todo[~ok]
    return pos


def _substep(pos: np.ndarray, vel: np.ndarray, h: float, box: np.ndarray, r: np.ndarray) -> None:
    """Move for time h, bounce off walls and off each other, in place. pos, vel: (n, P, 2)."""
    pos += vel * h
    lo, hi = r[None, :, None], box[None, None, :] - r[None, :, None]
    below, above = pos < lo, pos > hi
    pos[:] = np.where(below, 2 * lo - pos, np.where(above, 2 * hi - pos, pos))
    vel[:] = np.where(below, np.abs(vel), np.where(above, -np.abs(vel), vel))
    P = len(r)
    for i in range(P):
        for j in range(i + 1, P):
            d = pos[:, j] - pos[:, i]
            dist = np.maximum(np.linalg.norm(d, axis=-1), 1e-12)
            n = d / dist[:, None]
            rel = ((vel[:, j] - vel[:, i]) * n).sum(-1)
            overlap = r[i] + r[j] - dist
            hit = overlap > 0
            bounce = hit & (rel < 0)
            dv = np.where(bounce[:, None], rel[:, None] * n, 0.0)  # equal masses swap normal components
            vel[:, i] += dv
            vel[:, j] -= dv
            push = np.where(hit[:, None], 0.5 * np.maximum(overlap, 0)[:, None] * n, 0.0)
            pos[:, i] -= push
            pos[:, j] += push
    np.clip(pos, lo, hi, out=pos)


def simulate_particles(num: int, length: int, seed: int = 0, progress: bool = False, params: dict | None = None,
                       start: np.ndarray | None = None):
    """(states (num, length, 4P) float32, kicks (num, length, P) bool: kicked going into frame t).

    `start` (num, 4P): frame 0 for each trajectory instead of a random one, to draw many true futures
    of one state (the benchmark's reference for what a perfect model's rollouts would score)."""
    p = {**PARAMS, **(params or {})}
    rng = np.random.default_rng([seed, 7])
    box, r = np.asarray(p["box"], float), np.asarray(p["radius"], float)
    P = len(r)
    pos = _initial_positions(rng, num, box, r)
    vel = _random_velocities(rng, (num, P), p)
    if start is not None:
        s0 = np.asarray(start, float).reshape(num, P, 4)
        pos, vel = s0[..., :2].copy(), s0[..., 2:].copy()
    states = np.empty((num, length, P, 4))
    kicks = np.zeros((num, length, P), bool)
    steps = range(length)
    if progress:
        from tqdm.auto import tqdm
        steps = tqdm(steps, desc="particles", unit="frame", dynamic_ncols=True)
    h = p["dt"] / p["substeps"]
    for t in steps:
        if t > 0:
            kick = rng.random((num, P)) < p["kick_prob"]
            new = _random_velocities(rng, (num, P), p)
            vel = np.where(kick[..., None], new, vel)
            kicks[:, t] = kick
            for _ in range(p["substeps"]):
                _substep(pos, vel, h, box, r)
        states[:, t, :, :2], states[:, t, :, 2:] = pos, vel
    return states.reshape(num, length, 4 * P).astype(np.float32), kicks


def _generate(num: int, length: int, seed: int, progress: bool):
    states, _ = simulate_particles(num, length, seed, progress)
    P = PARAMS["particles"]
    meta = {**PARAMS, "ke_max": 0.5 * P * PARAMS["speed_max"] ** 2}
    return states, state_names(P), meta


register_simulator(Simulator("particles", _generate, help="particles in a 2-D box with collisions and random kicks"))
register_dataset(DatasetSpec("particles", "data", "particles in a 2-D box (own simulator): next state given a history",
                             load=None, keys=("traj_num", "traj_length", "traj_history", "traj_seed", "root"),
                             load_split=make_split_loader("particles")))
