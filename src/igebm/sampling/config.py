"""The `[sampler]` and `[buffer]` sections: how chains run, and where they start."""

from __future__ import annotations

from dataclasses import dataclass

from igebm.errors import UserError


@dataclass
class SamplerConfig:
    kind: str = "langevin"  # a registered sampler (igebm.sampling.SAMPLERS)
    parameterization: str = "igebm"  # igebm (step and noise apart) | ula (noise = sqrt(2 step))
    steps: int = 60
    step_size: float = 10.0
    noise_std: float = 0.005
    grad_clip: float = 0.01  # per element, 0 = off
    temperature: float = 1.0
    clamp: bool = True  # clamp to the data range
    leapfrog_steps: int = 10  # hmc, adaptive_hmc
    mass: float = 1.0  # hmc, mala, adaptive_hmc: diagonal mass m * I
    target_accept: float = 0.65  # adaptive_hmc: dual averaging's target acceptance

    def validate(self) -> None:
        from igebm.sampling.base import SAMPLERS

        if self.kind not in SAMPLERS:
            raise UserError(f"config key 'sampler.kind' is {self.kind!r}; choose one of {sorted(SAMPLERS)}")
        SAMPLERS[self.kind].validate_config(self)
        if self.steps < 1:
            raise UserError(f"config key 'sampler.steps' must be positive, got {self.steps}")
        for key in ("step_size", "temperature"):
            if not getattr(self, key) > 0:
                raise UserError(f"config key 'sampler.{key}' must be positive, got {getattr(self, key)}")
        for key in ("noise_std", "grad_clip"):
            if getattr(self, key) < 0:
                raise UserError(f"config key 'sampler.{key}' must be 0 or positive, got {getattr(self, key)}")


@dataclass
class BufferConfig:
    capacity: int = 10000
    reinit_prob: float = 0.05
    store_uint8: bool = False
    label_policy: str = "keep"  # keep | fresh (the released code: the data batch's labels) | mix:P
    # replay (persistent chains) | warm (every chain from the dataset's warm start, short-run)
    # | base (every chain from an exact sample of the energy's own base distribution: arch mlp-traj-shift)
    start: str = "replay"

    def validate(self) -> None:
        from igebm.sampling.buffer import parse_label_policy

        try:
            parse_label_policy(self.label_policy)
        except ValueError:
            raise UserError(f"config key 'buffer.label_policy' is {self.label_policy!r}; "
                            "choose keep, fresh or mix:P with P in [0, 1]") from None
        if self.start not in ("replay", "warm", "base"):
            raise UserError(f"config key 'buffer.start' is {self.start!r}; choose replay, warm or base")
        if self.capacity < 1:
            raise UserError(f"config key 'buffer.capacity' must be positive, got {self.capacity}")
        if not 0.0 <= self.reinit_prob <= 1.0:
            raise UserError(f"config key 'buffer.reinit_prob' must be in [0, 1], got {self.reinit_prob}")
