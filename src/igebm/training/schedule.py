"""The chain-length schedule: how many Langevin steps (K) each training step runs, and what it costs.

Early in training the energy is rough and the buffer is noise, so long chains buy little; K can rise
linearly from `train.steps_start` to `sampler.steps` over `train.steps_warmup` steps. The cost unit
is one energy-gradient evaluation: the input gradient of E for one example.
"""

from __future__ import annotations

from igebm.errors import UserError


def check_schedule(steps_start: int, steps_warmup: int, final: int) -> None:
    if steps_warmup and steps_start > final:
        raise UserError(f"config key 'train.steps_start' ({steps_start}) must not exceed sampler.steps ({final}): "
                        "the schedule only shortens early chains")


def chain_steps(step: int, steps_start: int, steps_warmup: int, final: int) -> int:
    """K for training step `step` (0-based): linear from steps_start to final over steps_warmup steps."""
    if steps_warmup <= 0 or step >= steps_warmup:
        return final
    return int(round(steps_start + (final - steps_start) * step / steps_warmup))


def gradient_evaluations(train_steps: int, batch: int, steps_start: int, steps_warmup: int, final: int) -> int:
    """Energy-gradient evaluations of `train_steps` training steps (per example: K x batch each step)."""
    return batch * sum(chain_steps(s, steps_start, steps_warmup, final) for s in range(train_steps))
