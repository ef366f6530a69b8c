"""Checkpoints: weights in safetensors, state in JSON, written atomically.

A checkpoint is a folder `checkpoints/step_XXXXXXX/` holding model, EMA,
optimiser and buffer tensors (safetensors) and `state.json` (step, optimiser
hyper-parameters, metrics). It is written to a temporary folder and renamed into
place, so a kill at any moment leaves either the old or the new checkpoint, never
half of one. Nothing here unpickles.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from igebm.errors import UserError

PREFIX = "step_"


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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


def save_checkpoint(ckpt_root: Path, step: int, parts: dict[str, dict[str, torch.Tensor]],
                    state: dict[str, Any], keep: int = 3) -> Path:
    """Write `parts` (name -> tensors) and `state` as one atomic checkpoint folder."""
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"{PREFIX}{step:07d}"
    tmp = ckpt_root / f".tmp_{PREFIX}{step:07d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, tensors in parts.items():
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / f"{name}.safetensors"))
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(ckpt_root)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(ckpt_root: Path) -> list[Path]:
    if not ckpt_root.is_dir():
        return []
    found = [p for p in ckpt_root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    found = list_checkpoints(ckpt_root)
    return found[-1] if found else None


def load_checkpoint(path: Path, parts: tuple[str, ...]) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """Read a checkpoint folder; a missing or corrupt file is a clear UserError."""
    try:
        state = json.loads((path / "state.json").read_text())
    except FileNotFoundError:
        raise UserError(f"checkpoint '{path}' has no state.json: it is incomplete; delete it to fall back to an older one") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"checkpoint '{path}/state.json' is corrupt ({exc}); delete the folder to fall back to an older one") from None
    out = {}
    for name in parts:
        file = path / f"{name}.safetensors"
        try:
            out[name] = load_file(str(file))
        except FileNotFoundError:
            raise UserError(f"checkpoint '{path}' is missing {file.name}; delete the folder to fall back to an older one") from None
        except (SafetensorError, OSError, ValueError) as exc:
            raise UserError(f"checkpoint file '{file}' is corrupt ({exc}); delete the folder to fall back to an older one") from None
    return out, state
