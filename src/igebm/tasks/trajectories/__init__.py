"""Trajectories: roll a next-state energy forward (sample the next state, feed it back, repeat).

`rollout.py` holds the pure functions: `trajectory_model(run)` opens what a
rollout needs from a trained particles/hand run, `start_state` picks a start
from a split, `rollout_ebm` and `rollout_predictor` roll the EBM and a
feed-forward baseline forward from the same history.
"""

from igebm.tasks.trajectories.rollout import (TrajectoryModel, parse_start, rollout_ebm, rollout_predictor,
                                              start_state, trajectory_model)

__all__ = ["TrajectoryModel", "parse_start", "rollout_ebm", "rollout_predictor", "start_state", "trajectory_model"]
