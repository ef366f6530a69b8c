"""Samplers: the contract (`Sampler`: one `step`, a shared `sample`), Langevin, and the replay buffer.

To add a method, subclass `Sampler`, implement `step`, and decorate it with
`@register_sampler("name")` in a module imported here; `sampler.kind = "name"`
then selects it.
"""

from igebm.sampling.base import (SAMPLERS, ChainContext, SampleResult, Sampler, build_sampler, call_energy,
                                 frozen_energy, register_sampler)
from igebm.sampling.buffer import ReplayBuffer
from igebm.sampling.hmc import AdaptiveHMCSampler, HMCSampler, MALASampler
from igebm.sampling.langevin import LangevinSampler

__all__ = ["SAMPLERS", "AdaptiveHMCSampler", "ChainContext", "HMCSampler", "LangevinSampler", "MALASampler", "ReplayBuffer", "SampleResult", "Sampler",
           "build_sampler", "call_energy", "frozen_energy", "register_sampler"]
