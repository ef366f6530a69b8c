"""Open a finished (or running) run directory: its config, data and EMA energy.

Tasks (sample, complete, ood, ...) start here, so they never re-parse configs or
checkpoints themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from igebm.data import ArrayDataset, load_dataset, noise_fn_for
from igebm.errors import UserError
from igebm.models import ConditionSpec, build_model, condition_spec
from igebm.sampling import Sampler, build_sampler
from igebm.training import checkpoint as ckpt

if TYPE_CHECKING:
    from igebm.config import Config


@dataclass
class TrainedRun:
    run_dir: Path
    cfg: "Config"
    energy: nn.Module  # EMA weights, eval mode
    sampler: Sampler
    checkpoint: Path
    step: int
    cond_spec: ConditionSpec = field(default_factory=ConditionSpec)
    _data: dict = field(default_factory=dict)
    trained_threads: int | None = None  # the intra-op thread count the checkpoint was written with

    def engine_line(self) -> str:
        """How this run's chains and loss ran, for reports: 'precision bf16, channels_last on, compile off, threads 2'."""
        return self.sampler.options.describe(self.trained_threads)

    def dataset(self, split: str) -> ArrayDataset:
        if split not in self._data:
            self._data[split] = load_dataset(self.cfg.data, split, self.cfg.run.seed)
        return self._data[split]

    @property
    def conditional(self) -> bool:
        return self.cond_spec.conditional

    @property
    def labelled(self) -> bool:
        """Conditioned on class labels (the image and generalisation tasks need this)."""
        return self.cond_spec.kind == "label"

    @property
    def num_classes(self) -> int:
        return self.dataset("train").num_classes

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return noise_fn_for(self.dataset("train"))(n, generator)


def read_run_config(run_dir: Path, overrides: list[str] | None = None) -> "Config":
    """A run's resolved config (config.json), with `overrides` (`--set` texts) applied on top."""
    from igebm.config import config_from_dict

    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise UserError(f"'{run_dir}' is not a run directory: it has no config.json")
    try:
        data = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"'{cfg_path}' is corrupt ({exc})") from None
    return config_from_dict(data, f"'{cfg_path}'", overrides)


SAMPLING_OVERRIDABLE = ("run.precision", "run.channels_last", "run.compile", "run.threads", "run.device")


def load_run(run_dir: str | Path, weights: str = "ema", overrides: list[str] | None = None,
             checkpoint: Path | None = None) -> TrainedRun:
    """Load a run's resolved config and its latest checkpoint (EMA weights by default), or `checkpoint`,
    one of `list_checkpoints(run_dir / "checkpoints")` (to choose a training length on validation).

    `overrides` (`--set` texts) may change only how chains run (SAMPLING_OVERRIDABLE), not what was trained.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory '{run_dir}' does not exist (train one with `igebm train` or `igebm demo`)")
    for text in overrides or []:
        key = text.split("=", 1)[0].strip()
        if key not in SAMPLING_OVERRIDABLE:
            raise UserError(f"config key '{key}' cannot be set when sampling a trained run; "
                            f"these can: {', '.join(SAMPLING_OVERRIDABLE)}")
    cfg = read_run_config(run_dir, overrides)
    last = Path(checkpoint) if checkpoint is not None else ckpt.latest_checkpoint(run_dir / "checkpoints")
    if last is None:
        raise UserError(f"run '{run_dir}' has no checkpoint yet; train it first")
    parts, state = ckpt.load_checkpoint(last, (weights,))
    bad = ckpt.non_finite(parts[weights])
    if bad:
        raise UserError(f"checkpoint '{last}' holds non-finite {weights} weights ({', '.join(bad[:3])}); "
                        "delete it to fall back to an older checkpoint")
    train = load_dataset(cfg.data, "train", cfg.run.seed)
    spec = condition_spec(train, cfg.model)
    model = build_model(cfg.model, train.shape, spec)
    try:
        model.load_state_dict(parts[weights])
    except RuntimeError as exc:
        raise UserError(f"checkpoint '{last}' does not match the run's config ({str(exc).splitlines()[0]})") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    sampler = build_sampler(cfg.sampler, train.data_range, cfg.run.chain_options())
    if state.get("sampler") and hasattr(sampler, "load_adaptation_state"):  # adaptive HMC: the step size it reached
        sampler.load_adaptation_state(state["sampler"])
    return TrainedRun(run_dir, cfg, model, sampler, last, int(state["step"]), spec, {"train": train},
                      trained_threads=state.get("threads"))
