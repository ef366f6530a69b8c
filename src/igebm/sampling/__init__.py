"""Samplers: Langevin dynamics and the replay buffer. Contract: `sampler.sample(energy, x0, y)`."""

from igebm.sampling.buffer import ReplayBuffer
from igebm.sampling.langevin import LangevinSampler, SampleResult, frozen_energy

__all__ = ["LangevinSampler", "ReplayBuffer", "SampleResult", "frozen_energy"]
