"""The `[rollout]` section: how `igebm rollout` samples each next state, unless its flags say otherwise.

A recipe holds the settings its benchmark picked on the validation split, so a plain
`igebm rollout RUN` gets them. 0 means "the run's own" for steps and temperature.
"""

from __future__ import annotations

from dataclasses import dataclass

from igebm.errors import UserError

INITS = ("previous", "noise", "base")


@dataclass
class RolloutConfig:
    steps: int = 0  # Langevin steps per time step; 0 = sampler.steps
    temperature: float = 0.0  # 0 = sampler.temperature
    init: str = "previous"  # previous | noise | base (tasks/trajectories/rollout.py)
    constraint: float = 0.0  # particles: weight of the known box-and-overlap energy (constraints.py); 0 = off

    def validate(self) -> None:
        if self.steps < 0:
            raise UserError(f"config key 'rollout.steps' must be 0 (the sampler's) or positive, got {self.steps}")
        if self.temperature < 0:
            raise UserError(f"config key 'rollout.temperature' must be 0 (the sampler's) or positive, "
                            f"got {self.temperature}")
        if self.init not in INITS:
            raise UserError(f"config key 'rollout.init' is {self.init!r}; choose one of {list(INITS)}")
        if self.constraint < 0:
            raise UserError(f"config key 'rollout.constraint' must be at least 0, got {self.constraint}")

    def resolve(self, steps: int | None = None, temperature: float | None = None, init: str | None = None,
                constraint: float | None = None) -> tuple[int | None, float | None, str, float]:
        """(steps, temperature, init, constraint): each given value, else this section's; None = the sampler's."""
        return (steps or self.steps or None, temperature or self.temperature or None, init or self.init,
                self.constraint if constraint is None else constraint)
