"""Checkpoints: weights in safetensors, state in JSON, written atomically.

A checkpoint is a folder `checkpoints/step_XXXXXXX/` holding the model, EMA and
optimiser tensors, one `rank{r}` part per data-parallel rank (its replay buffer
and random state), and `state.json` (step, optimiser hyper-parameters, world
size). It is assembled under a temporary name unique to the writing process and
renamed into place, so a kill at any moment leaves either the old or the new
checkpoint, never half of one; an existing folder of the same step is replaced
only after the new one is complete. Non-finite tensors are never written.
Nothing here unpickles.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from igebm import io
from igebm.errors import TrainingFault, UserError

PREFIX = "step_"
_NAME = re.compile(r"^step_(\d{7})$")
_OLD = ".old_"
_tmp_counter = itertools.count()  # a checkpoint being replaced; put back if a kill came between the two renames


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser state dict into tensors (safetensors) and JSON."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, st in sd["state"].items():
        for name, value in st.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{idx}.{name}"] = t.contiguous()
    return tensors, {"param_groups": sd["param_groups"]}


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def non_finite(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of floating-point tensors holding NaN or inf."""
    return [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def _staged(ckpt_root: Path, step: int, rank: int) -> Path:
    return ckpt_root / f".rank{rank}_{PREFIX}{step:07d}.safetensors"


def stage_rank_part(ckpt_root: Path, step: int, rank: int, tensors: dict[str, torch.Tensor]) -> None:
    """A non-zero rank writes its own part; rank 0 moves it into the checkpoint it assembles."""
    bad = non_finite(tensors)
    if bad:
        raise TrainingFault(f"rank {rank} state is not finite ({', '.join(bad[:3])}); not saved")
    io.write_safetensors(_staged(ckpt_root, step, rank), tensors)


def save_checkpoint(ckpt_root: Path, step: int, parts: dict[str, dict[str, torch.Tensor]],
                    state: dict[str, Any], keep: int = 3, world_size: int = 1) -> Path:
    """Write `parts` (name -> tensors), the staged parts of ranks 1.. and `state` as one checkpoint folder."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    for name, tensors in parts.items():
        bad = non_finite(tensors)
        if bad:
            raise TrainingFault(f"refusing to checkpoint step {step}: {name} holds non-finite values "
                                f"({', '.join(bad[:3])}); the previous checkpoint is kept")
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"{PREFIX}{step:07d}"
    tmp = ckpt_root / f".tmp_{PREFIX}{step:07d}.{os.getpid()}.{next(_tmp_counter)}"  # unique per process and call
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, tensors in parts.items():
            io.write_safetensors(tmp / f"{name}.safetensors", tensors)
        for rank in range(1, world_size):
            staged = _staged(ckpt_root, step, rank)
            if not staged.is_file():
                raise TrainingFault(f"rank {rank} did not stage its part of checkpoint step {step}")
            os.replace(staged, tmp / f"rank{rank}.safetensors")
        io.write_text(tmp / "state.json", json.dumps({**state, "world_size": world_size}, indent=1))
        if final.exists():  # keep the old folder until the new one is in place
            old = ckpt_root / f"{_OLD}{PREFIX}{step:07d}.{os.getpid()}"
            os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old, final)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(ckpt_root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _check_state(path: Path, state: Any, parts: tuple[str, ...], hint: str) -> None:
    """state.json must be what `save_checkpoint` writes; an edited one is a one-line error."""
    where = f"checkpoint '{path}/state.json'"
    if not isinstance(state, dict):
        raise UserError(f"{where} must hold an object, got {type(state).__name__}; {hint}")
    step = state.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise UserError(f"{where} has no non-negative integer 'step' (got {step!r}); {hint}")
    for key in ("rollbacks", "world_size", "threads"):
        value = state.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"{where}: '{key}' must be a non-negative integer, got {value!r}; {hint}")
    if "optimizer" in parts:
        meta = state.get("optimizer")
        groups = meta.get("param_groups") if isinstance(meta, dict) else None
        if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                                   for g in groups):
            raise UserError(f"{where} has no valid 'optimizer' (a list of param_groups); {hint}")
    if "config" in state and not isinstance(state["config"], dict):
        raise UserError(f"{where}: 'config' must be an object; {hint}")


def check_finite(path: Path, parts: dict[str, dict[str, torch.Tensor]]) -> None:
    """Refuse a checkpoint holding NaN or inf (written before saves were checked, or edited)."""
    for name, tensors in parts.items():
        bad = non_finite(tensors)
        if bad:
            raise TrainingFault(f"checkpoint '{path}' holds non-finite {name} values ({', '.join(bad[:3])}); "
                                "delete that folder to fall back to an older checkpoint")


def is_finite_checkpoint(path: Path, parts: tuple[str, ...]) -> bool:
    """A checkpoint that loads and whose tensors are all finite."""
    try:
        loaded, _ = load_checkpoint(path, parts)
    except UserError:
        return False
    return not any(non_finite(t) for t in loaded.values())


def step_of(path: Path) -> int:
    return int(_NAME.match(path.name).group(1))


def _recover_replaced(ckpt_root: Path) -> None:
    for old in ckpt_root.glob(f"{_OLD}{PREFIX}*"):
        final = ckpt_root / old.name[len(_OLD):].split(".")[0]
        if _NAME.match(final.name) and not final.exists():
            os.replace(old, final)


def list_checkpoints(ckpt_root: Path) -> list[Path]:
    """Finished checkpoint folders, oldest first; anything not named step_NNNNNNN is ignored."""
    if not ckpt_root.is_dir():
        return []
    try:
        _recover_replaced(ckpt_root)
    except OSError:
        pass  # a read-only run directory: nothing to put back
    found = [p for p in ckpt_root.iterdir() if p.is_dir() and _NAME.match(p.name)]
    return sorted(found, key=step_of)


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    found = list_checkpoints(ckpt_root)
    return found[-1] if found else None


def load_checkpoint(path: Path, parts: tuple[str, ...]) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """Read a checkpoint folder; a missing or corrupt file is a clear UserError."""
    hint = "delete the folder to fall back to an older one"
    try:
        state = json.loads((path / "state.json").read_text())
    except FileNotFoundError:
        raise UserError(f"checkpoint '{path}' has no state.json: it is incomplete; {hint}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"checkpoint '{path}/state.json' is corrupt ({exc}); {hint}") from None
    _check_state(path, state, parts, hint)
    out = {}
    for name in parts:
        file = path / f"{name}.safetensors"
        try:
            out[name] = load_file(str(file))
        except FileNotFoundError:
            raise UserError(f"checkpoint '{path}' is missing {file.name}; {hint}") from None
        except (SafetensorError, OSError, ValueError) as exc:
            raise UserError(f"checkpoint file '{file}' is corrupt ({exc}); {hint}") from None
    return out, state
