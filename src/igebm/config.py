"""Typed run configuration: dataclasses, loaded from TOML, overridden with `--set`.

One tree describes a whole run. Unknown keys and wrong types are refused with a
message that names the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from igebm.errors import UserError


@dataclass
class RunConfig:
    name: str = "run"
    seed: int = 0
    device: str = "cpu"


@dataclass
class DataConfig:
    name: str = "digits"  # digits | toy2d | cifar10 | cifar100 | svhn | mnist | folder
    root: str = ""  # folder for on-disk datasets
    toy: str = "8gaussians"  # toy2d kind
    toy_size: int = 20000
    dequantize: bool = True
    test_fraction: float = 0.2  # digits split


@dataclass
class ModelConfig:
    arch: str = "resnet-digits"  # preset name, see igebm.models.PRESETS
    conditional: bool = True
    channels: int = 0  # 0 = the preset's own
    activation: str = "leaky_relu"  # leaky_relu | swish
    spectral_norm: bool = True
    hidden: int = 128  # MLP width
    depth: int = 3  # MLP layers


@dataclass
class SamplerConfig:
    kind: str = "langevin"  # langevin | hmc
    parameterization: str = "igebm"  # igebm (step and noise apart) | ula (noise = sqrt(2 step))
    steps: int = 60
    step_size: float = 10.0
    noise_std: float = 0.005
    grad_clip: float = 0.01  # per element, 0 = off
    temperature: float = 1.0
    clamp: bool = True  # clamp to the data range


@dataclass
class BufferConfig:
    capacity: int = 10000
    reinit_prob: float = 0.05
    store_uint8: bool = False


@dataclass
class TrainConfig:
    batch_size: int = 128
    lr: float = 3e-4
    beta1: float = 0.0
    beta2: float = 0.999
    grad_clip: str = "igebm"  # igebm | norm | none
    grad_clip_norm: float = 1.0
    l2_alpha: float = 1.0
    ce_alpha: float = 0.0  # conditional runs: weight of cross-entropy of softmax(-E(x, y)) on data (JEM-style)
    ce_batch: int = 32  # data images per step that get the classification term
    ce_temperature: float = 0.01  # p(y | x) = softmax(-E / T): CD keeps energies small, so T is small
    max_steps: int = 1000
    max_minutes: float = 0.0  # 0 = no wall-clock limit
    ema_decay: float = 0.999
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 200
    keep_checkpoints: int = 3
    on_divergence: str = "stop"  # stop | rollback
    divergence_energy: float = 1e4  # |E| above this counts as divergence
    max_rollbacks: int = 3
    tensorboard: bool = True  # used when tensorboard is installed
    progress: bool = True


@dataclass
class EvalConfig:
    num_samples: int = 500
    steps: list[int] = field(default_factory=lambda: [20, 60, 200])
    headline_steps: int = 0  # the step count the headline metrics use; 0 = sampler.steps
    judge_epochs: int = 30


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


CHOICES = {
    "data.name": {"digits", "toy2d", "cifar10", "cifar100", "svhn", "mnist", "folder"},
    "model.activation": {"leaky_relu", "swish"},
    "sampler.kind": {"langevin", "hmc"},
    "sampler.parameterization": {"igebm", "ula"},
    "train.grad_clip": {"igebm", "norm", "none"},
    "train.on_divergence": {"stop", "rollback"},
}


def _coerce(value: Any, typ: Any, key: str) -> Any:
    """Check `value` against a dataclass field type; ints may widen to floats."""
    origin = typing.get_origin(typ)
    if origin is list:
        (inner,) = typing.get_args(typ)
        if not isinstance(value, list):
            raise UserError(f"config key '{key}' must be a list, got {value!r}")
        return [_coerce(v, inner, key) for v in value]
    if typ is bool:
        if not isinstance(value, bool):
            raise UserError(f"config key '{key}' must be true or false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"config key '{key}' must be an integer, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"config key '{key}' must be a number, got {value!r}")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            raise UserError(f"config key '{key}' must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {typ} for {key}")


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _apply(section: Any, values: dict[str, Any], prefix: str) -> None:
    types = _field_types(type(section))
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in types:
            known = ", ".join(sorted(types))
            raise UserError(f"unknown config key '{full}' (known keys in [{prefix.rstrip('.') or 'root'}]: {known})")
        typ = types[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise UserError(f"config key '{full}' must be a table")
            _apply(getattr(section, key), value, f"{full}.")
        else:
            setattr(section, key, _coerce(value, typ, full))


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise UserError(f"--set expects key=value (for example train.lr=1e-4), got '{text}'")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare strings: --set data.name=digits
    return key.split("."), value


def validate(cfg: Config) -> Config:
    flat = {
        f"{s}.{k}": v
        for s, sec in cfg.to_dict().items()
        for k, v in sec.items()
    }
    for key, allowed in CHOICES.items():
        if flat[key] not in allowed:
            raise UserError(f"config key '{key}' is {flat[key]!r}; choose one of {sorted(allowed)}")
    positive = ["sampler.steps", "buffer.capacity", "train.batch_size", "train.max_steps", "eval.num_samples"]
    for key in positive:
        if flat[key] <= 0:
            raise UserError(f"config key '{key}' must be positive, got {flat[key]}")
    if not 0.0 <= cfg.buffer.reinit_prob <= 1.0:
        raise UserError(f"config key 'buffer.reinit_prob' must be in [0, 1], got {cfg.buffer.reinit_prob}")
    if cfg.train.lr <= 0 or cfg.sampler.step_size <= 0:
        raise UserError("train.lr and sampler.step_size must be positive")
    if not 0.0 <= cfg.train.ema_decay < 1.0:
        raise UserError(f"config key 'train.ema_decay' must be in [0, 1), got {cfg.train.ema_decay}")
    if cfg.data.name not in ("digits", "toy2d") and not cfg.data.root:
        raise UserError(f"dataset '{cfg.data.name}' is read from disk: set data.root to its folder (--set data.root=PATH)")
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a TOML recipe, apply `key=value` overrides, validate."""
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file '{path}' does not exist (recipes live in configs/, e.g. configs/digits.toml)")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"config file '{path}' is not valid TOML: {exc}") from None
        _apply(cfg, data, "")
    for text in overrides or []:
        parts, value = _parse_override(text)
        nested: dict[str, Any] = {parts[-1]: value}
        for p in reversed(parts[:-1]):
            nested = {p: nested}
        _apply(cfg, nested, "")
    return validate(cfg)


def config_from_dict(data: dict[str, Any]) -> Config:
    cfg = Config()
    _apply(cfg, data, "")
    return validate(cfg)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as JSON and TOML-like text beside the run."""
    Path(path).write_text(json.dumps(cfg.to_dict(), indent=2))
