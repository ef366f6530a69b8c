"""One typed config tree: dataclass sections, loaded from TOML, overridden with `--set`.

Each section is defined and validated by the package it configures
(`igebm.data.config`, `igebm.models.config`, ...); this module assembles them,
reads recipes (which may `extends = "base"` another and hold only their
differences) and applies `--set key=value`. Unknown keys, wrong types,
non-finite numbers and out-of-range values are refused with the key's name,
so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from igebm.data.config import DataConfig
from igebm.errors import UserError
from igebm.evaluation.config import EvalConfig
from igebm.models.config import ModelConfig
from igebm.sampling.config import BufferConfig, SamplerConfig
from igebm.tasks.trajectories.config import RolloutConfig
from igebm.training.config import RunConfig, TrainConfig
from igebm.training.distributed import DistConfig


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    dist: DistConfig = field(default_factory=DistConfig)  # data parallelism (training/distributed.py)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # trajectory rollouts (tasks/trajectories)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(value: Any, typ: Any, key: str) -> Any:
    """Check `value` against a dataclass field type; ints may widen to floats; floats must be finite."""
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
        if not math.isfinite(value):
            raise UserError(f"config key '{key}' must be a finite number, got {value!r}")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            raise UserError(f"config key '{key}' must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {typ} for {key}")


def _apply(section: Any, values: dict[str, Any], prefix: str) -> None:
    types = typing.get_type_hints(type(section))
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
    """Each section checks its own ranges and choices."""
    for f in dataclasses.fields(cfg):
        getattr(cfg, f.name).validate()
    return cfg


def _merge(base: dict, child: dict) -> dict:
    out = dict(base)
    for k, v in child.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_recipe(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe's TOML as a dict, with its `extends` chain merged in (child keys win)."""
    path = path.resolve()
    if path in _seen:
        raise UserError(f"recipe '{path}' extends itself (chain: {' -> '.join(p.stem for p in _seen + (path,))})")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"config file '{path}' is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file '{path}' is not valid TOML: {exc}") from None
    except OSError as exc:
        raise UserError(f"config file '{path}' cannot be read ({exc.strerror})") from None
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise UserError(f"'extends' in '{path}' must be a recipe name or path, got {parent!r}")
    from igebm.recipes import find_recipe

    sibling = path.parent / parent
    parent_path = sibling if sibling.is_file() else find_recipe(parent)
    return _merge(read_recipe(parent_path, _seen + (path,)), data)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a TOML recipe (following `extends`), apply `key=value` overrides, validate."""
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file '{path}' does not exist (recipes: `igebm recipes`, e.g. digits)")
        _apply(cfg, read_recipe(path), "")
    apply_overrides(cfg, overrides)
    return validate(cfg)


def apply_overrides(cfg: Config, overrides: list[str] | None) -> Config:
    """Apply `section.key=value` texts (as `--set` gives them) to a config, checking each."""
    for text in overrides or []:
        parts, value = _parse_override(text)
        nested: dict[str, Any] = {parts[-1]: value}
        for p in reversed(parts[:-1]):
            nested = {p: nested}
        _apply(cfg, nested, "")
    return cfg


REQUIRED_SECTIONS = ("run", "data", "model", "sampler", "train")  # in every run's config.json


def config_from_dict(data: Any, source: str = "config", overrides: list[str] | None = None) -> Config:
    """A Config from a resolved dict (a run's config.json), then `overrides`; anything malformed is a UserError."""
    if not isinstance(data, dict):
        raise UserError(f"{source} must hold a table of sections, got {type(data).__name__}")
    missing = [name for name in REQUIRED_SECTIONS if name not in data]
    if missing:  # a run's config always has these; without them the defaults would stand in silently
        raise UserError(f"{source} lacks the section(s) {', '.join(missing)}: it is not a run's resolved config")
    cfg = Config()
    try:
        _apply(cfg, data, "")
        if not overrides:
            return validate(cfg)
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from None
    return validate(apply_overrides(cfg, overrides))


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as JSON beside the run."""
    from igebm.io import write_json

    write_json(path, cfg.to_dict())
