"""The Shadow Dexterous Hand manipulating a block: gymnasium-robotics' `HandManipulateBlock` on MuJoCo.

An optional extra (`pip install -e .[hand]`: gymnasium-robotics 1.4.2, mujoco 3.3.x;
mujoco 4.0 does not work with it). Without it, everything here that needs the
simulator raises one `UserError` that names the extra.

- The policy is scripted and smooth: each of the 20 actuators follows its own
  slow sinusoid (random frequency, phase, amplitude and offset per trajectory),
  and every 4th action is uniformly random, as in the paper ("every 4th action
  set to a random action for diversity").
- The state of a frame: the 24 hand joint positions, their 24 velocities, and the
  block pose (`block.x, block.y, block.z, block.qw, block.qx, block.qy, block.qz`): 55 numbers.
- `hand_geometry` replays states in MuJoCo (forward kinematics only) for the
  figures (fingertips and block seen from above) and the feasibility checks
  (joint limits; the block's penetration of the palm).
"""

from __future__ import annotations

import numpy as np

from igebm.data.registry import DatasetSpec, register_dataset
from igebm.data.trajectories import Simulator, make_split_loader, register_simulator
from igebm.errors import UserError

ENV_ID = "HandManipulateBlock-v1"
NUM_JOINTS = 24
FINGERTIPS = ("robot0:S_fftip", "robot0:S_mftip", "robot0:S_rftip", "robot0:S_lftip", "robot0:S_thtip")
BLOCK_NAMES = ("block.x", "block.y", "block.z", "block.qw", "block.qx", "block.qy", "block.qz")
PALM_GEOMS = ("robot0:C_palm0", "robot0:C_palm1")
EXTRA_HINT = "the hand dataset needs MuJoCo: pip install -e '.[hand]' (gymnasium-robotics 1.4.2, mujoco 3.3.x)"


def require_mujoco():
    """(gymnasium, mujoco) with the robotics envs registered, or one UserError naming the extra."""
    import warnings

    try:
        with warnings.catch_warnings():  # gymnasium-robotics warns about unrelated Adroit envs on import
            warnings.simplefilter("ignore")
            import gymnasium
            import gymnasium_robotics
            import mujoco
    except Exception:  # ImportError, or gymnasium's DependencyNotInstalled when mujoco is missing
        raise UserError(EXTRA_HINT) from None
    if int(mujoco.__version__.split(".")[0]) >= 4:
        raise UserError(f"mujoco {mujoco.__version__} does not run HandManipulateBlock; {EXTRA_HINT}")
    gymnasium.register_envs(gymnasium_robotics)
    return gymnasium, mujoco


def make_env():
    import warnings

    gym, _ = require_mujoco()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gym.make(ENV_ID).unwrapped


def _names(m, mujoco) -> tuple[str, ...]:
    joints = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, i).replace("robot0:", "") for i in range(NUM_JOINTS)]
    return tuple(joints) + tuple(f"{j}.vel" for j in joints) + BLOCK_NAMES


def _object_qpos_adr(m, mujoco) -> int:
    return int(m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "object:joint")])


def read_state(env, mujoco) -> np.ndarray:
    m, d = env.model, env.data
    a = _object_qpos_adr(m, mujoco)
    return np.concatenate([d.qpos[:NUM_JOINTS], d.qvel[:NUM_JOINTS], d.qpos[a:a + 7]]).astype(np.float32)


def simulate_hand(num: int, length: int, seed: int = 0, progress: bool = False):
    """(states (num, length, 55), state_names, meta): one env, reset per trajectory with its own seed."""
    _, mujoco = require_mujoco()
    env = make_env()
    rng = np.random.default_rng([seed, 11])
    n_act = env.action_space.shape[0]
    states = np.empty((num, length, 2 * NUM_JOINTS + 7), np.float32)
    it = range(num)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="hand", unit="traj", dynamic_ncols=True)
    t = np.arange(length)
    for i in it:
        env.reset(seed=int(rng.integers(2**31)))
        freq = rng.uniform(0.01, 0.05, n_act)
        phase = rng.uniform(0, 2 * np.pi, n_act)
        amp = rng.uniform(0.2, 0.8, n_act)
        offset = rng.uniform(-0.3, 0.3, n_act)
        actions = np.clip(offset + amp * np.sin(2 * np.pi * freq * t[:, None] + phase), -1, 1)
        actions[3::4] = rng.uniform(-1, 1, (len(actions[3::4]), n_act))  # every 4th action random
        states[i, 0] = read_state(env, mujoco)
        for k in range(1, length):
            env.step(actions[k - 1].astype(np.float32))
            states[i, k] = read_state(env, mujoco)
    m = env.model
    meta = {"env": ENV_ID, "mujoco": mujoco.__version__,
            "joint_range": m.jnt_range[:NUM_JOINTS].tolist(), "fingertips": list(FINGERTIPS),
            "policy": "per-actuator sinusoids (freq 0.01-0.05 per step), every 4th action uniform random"}
    env.close()
    return states, _names(m, mujoco), meta


def _generate(num: int, length: int, seed: int, progress: bool):
    return simulate_hand(num, length, seed, progress)


class HandGeometry:
    """Replays states in MuJoCo: fingertip and block positions, joint limits, block-palm penetration."""

    def __init__(self):
        _, self.mujoco = require_mujoco()
        env = make_env()
        self.m, self.d = env.model, env.data
        mj = self.mujoco
        self.obj = _object_qpos_adr(self.m, mj)
        self.tips = [mj.mj_name2id(self.m, mj.mjtObj.mjOBJ_SITE, s) for s in FINGERTIPS]
        self.block_geom = mj.mj_name2id(self.m, mj.mjtObj.mjOBJ_GEOM, "object")
        self.palm = {mj.mj_name2id(self.m, mj.mjtObj.mjOBJ_GEOM, g) for g in PALM_GEOMS}
        self.range = self.m.jnt_range[:NUM_JOINTS].copy()

    def _set(self, s: np.ndarray) -> None:
        self.d.qpos[:NUM_JOINTS] = s[:NUM_JOINTS]
        q = np.asarray(s[2 * NUM_JOINTS:2 * NUM_JOINTS + 7], float).copy()
        q[3:] /= max(np.linalg.norm(q[3:]), 1e-9)
        self.d.qpos[self.obj:self.obj + 7] = q
        self.d.qvel[:] = 0
        self.mujoco.mj_forward(self.m, self.d)

    def points(self, states: np.ndarray) -> np.ndarray:
        """(..., 55) -> (..., 6, 3): the five fingertips and the block centre, in world coordinates."""
        flat = states.reshape(-1, states.shape[-1])
        out = np.empty((len(flat), 6, 3))
        for i, s in enumerate(flat):
            self._set(s)
            out[i, :5] = self.d.site_xpos[self.tips]
            out[i, 5] = self.d.qpos[self.obj:self.obj + 3]
        return out.reshape(*states.shape[:-1], 6, 3)

    def within_joint_limits(self, states: np.ndarray, tol: float = 0.02) -> np.ndarray:
        q = states[..., :NUM_JOINTS]
        return ((q >= self.range[:, 0] - tol) & (q <= self.range[:, 1] + tol)).all(-1)

    def palm_penetration(self, states: np.ndarray) -> np.ndarray:
        """(...,) the deepest block-palm contact penetration (metres, >= 0) of each replayed state."""
        flat = states.reshape(-1, states.shape[-1])
        out = np.zeros(len(flat))
        for i, s in enumerate(flat):
            self._set(s)
            for c in self.d.contact[:self.d.ncon]:
                pair = {int(c.geom1), int(c.geom2)}
                if self.block_geom in pair and pair & self.palm:
                    out[i] = max(out[i], -float(c.dist))
        return out.reshape(states.shape[:-1])


register_simulator(Simulator("hand", _generate, extra="hand",
                             help="Shadow hand with a block (gymnasium-robotics, MuJoCo), scripted smooth policy"))
register_dataset(DatasetSpec("hand", "data", "Shadow hand manipulating a block (MuJoCo; the [hand] extra)",
                             load=None, keys=("traj_num", "traj_length", "traj_history", "traj_seed", "root"),
                             load_split=make_split_loader("hand")))
