"""The chain-length schedule (train.steps_start / train.steps_warmup): validated, and applied by the trainer."""

import json

import pytest
from conftest import tiny_config

from igebm.config import apply_overrides, validate
from igebm.errors import UserError
from igebm.training import Trainer
from igebm.training.schedule import chain_steps, gradient_evaluations


def test_schedule_rises_linearly_then_holds():
    assert [chain_steps(s, 2, 4, 10) for s in range(6)] == [2, 4, 6, 8, 10, 10]
    assert chain_steps(0, 0, 0, 10) == 10  # off: every step runs sampler.steps
    assert gradient_evaluations(6, 16, 2, 4, 10) == 16 * (2 + 4 + 6 + 8 + 10 + 10)
    assert gradient_evaluations(6, 16, 0, 0, 10) == 16 * 60


@pytest.mark.parametrize("overrides, key", [
    (["train.steps_start=-1", "train.steps_warmup=5"], "train.steps_start"),
    (["train.steps_start=2"], "train.steps_warmup"),
    (["train.steps_warmup=5"], "train.steps_start"),
])
def test_bad_schedules_name_the_key(overrides, key):
    with pytest.raises(UserError, match=key):
        validate(apply_overrides(tiny_config(), overrides))


def test_start_above_sampler_steps_is_refused(tmp_path):
    cfg = tiny_config(train={"steps_start": 9, "steps_warmup": 2})  # sampler.steps = 3
    with pytest.raises(UserError, match="train.steps_start"):
        Trainer(cfg, tmp_path / "r")


def test_trainer_runs_the_scheduled_chain_lengths(tmp_path):
    cfg = tiny_config(train={"steps_start": 1, "steps_warmup": 4, "max_steps": 6}, sampler={"steps": 5})
    Trainer(cfg, tmp_path / "r").fit()
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["chain_steps"] for r in rows if "chain_steps" in r] == [1, 2, 3, 4, 5, 5]
