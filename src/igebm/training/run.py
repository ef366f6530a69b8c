"""Open a finished (or running) run directory: its config, data and EMA energy.

Tasks (sample, complete, ood, ...) start here, so they never re-parse configs or
checkpoints themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from igebm.config import Config, config_from_dict
from igebm.data import ArrayDataset, load_dataset
from igebm.errors import UserError
from igebm.models import build_model
from igebm.sampling import LangevinSampler
from igebm.training import checkpoint as ckpt


@dataclass
class TrainedRun:
    run_dir: Path
    cfg: Config
    energy: nn.Module  # EMA weights, eval mode
    sampler: LangevinSampler
    checkpoint: Path
    step: int
    _data: dict | None = None

    def dataset(self, split: str) -> ArrayDataset:
        self._data = self._data or {}
        if split not in self._data:
            self._data[split] = load_dataset(self.cfg.data, split, self.cfg.run.seed)
        return self._data[split]

    @property
    def conditional(self) -> bool:
        return self.cfg.model.conditional

    @property
    def num_classes(self) -> int:
        return self.dataset("train").num_classes

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        from igebm.training.trainer import noise_fn_for
        return noise_fn_for(self.dataset("train"))(n, generator)


def load_run(run_dir: str | Path, weights: str = "ema") -> TrainedRun:
    """Load a run's resolved config and its latest checkpoint (EMA weights by default)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory '{run_dir}' does not exist (train one with `igebm train` or `igebm demo`)")
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise UserError(f"'{run_dir}' is not a run directory: it has no config.json")
    try:
        cfg = config_from_dict(json.loads(cfg_path.read_text()))
    except json.JSONDecodeError as exc:
        raise UserError(f"'{cfg_path}' is corrupt ({exc})") from None
    last = ckpt.latest_checkpoint(run_dir / "checkpoints")
    if last is None:
        raise UserError(f"run '{run_dir}' has no checkpoint yet; train it first")
    parts, state = ckpt.load_checkpoint(last, (weights,))
    train = load_dataset(cfg.data, "train", cfg.run.seed)
    model = build_model(cfg.model, train.shape, train.num_classes)
    try:
        model.load_state_dict(parts[weights])
    except RuntimeError as exc:
        raise UserError(f"checkpoint '{last}' does not match the run's config ({str(exc).splitlines()[0]})") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    sampler = LangevinSampler.from_config(cfg.sampler, train.data_range)
    return TrainedRun(run_dir, cfg, model, sampler, last, int(state["step"]), {"train": train})
