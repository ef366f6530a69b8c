"""The `[eval]` section: how a run's samples are judged."""

from __future__ import annotations

from dataclasses import dataclass, field

from igebm.errors import UserError


@dataclass
class EvalConfig:
    num_samples: int = 500
    steps: list[int] = field(default_factory=lambda: [20, 60, 200])
    headline_steps: int = 0  # the step count the headline metrics use; 0 = sampler.steps
    judge_epochs: int = 30

    def validate(self) -> None:
        for key in ("num_samples", "judge_epochs"):
            if getattr(self, key) < 1:
                raise UserError(f"config key 'eval.{key}' must be positive, got {getattr(self, key)}")
        if not self.steps or min(self.steps) < 1:
            raise UserError(f"config key 'eval.steps' must be a non-empty list of positive step counts, got {self.steps}")
        if self.headline_steps < 0:
            raise UserError("config key 'eval.headline_steps' must be 0 (= sampler.steps) or positive")
