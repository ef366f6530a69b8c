"""What a resume may change, and what makes it exact.

- `apply_determinism(cfg.run)`: deterministic algorithms and a fixed intra-op thread count
  (run.threads, or with 0 the free usable cores: `training/threads.py`).
  CPU kernels split their reductions by thread, so the thread count is part of a run's identity:
  it is recorded in every checkpoint, and a resume with another count (or device) warns that the
  result will not be bit-exact.
- `check_resume_config(saved, cfg)`: `--resume --set` may change only keys the resumed run can
  honour (how long it trains, how it logs, the optimiser's lr and betas, evaluation); any other
  changed key is refused with its name, before anything is written.
- `apply_optimizer_hparams`: the lr and betas of the config go into the resumed optimiser, so
  `--resume --set train.lr=1e-5` does what `config.json` then says.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from igebm.errors import UserError

# Keys a resume may change. Everything else (model, data, sampler, buffer, batch, loss) is fixed
# by the checkpoint. Whole sections are given with a trailing dot.
RESUMABLE = (
    "run.name", "run.device", "run.threads", "run.deterministic",
    "train.lr", "train.beta1", "train.beta2", "train.max_steps", "train.max_minutes", "train.log_every",
    "train.sample_every", "train.checkpoint_every", "train.keep_checkpoints", "train.on_divergence",
    "train.divergence_energy", "train.max_rollbacks", "train.tensorboard", "train.progress",
    "eval.",
    "dist.backend", "dist.timeout",  # how ranks talk, not what they compute
)


def run_threads(run_cfg, saved: int | None = None) -> int:
    """The intra-op thread count a run uses: run.threads; else (0 = auto) the count a resumed
    checkpoint was written with (`saved`, so the resume stays exact) when these cores allow it,
    else the usable cores that are free now (`threads.auto_threads`), so a run never oversubscribes."""
    from igebm.training.threads import auto_threads, usable_cores

    if run_cfg.threads:
        return run_cfg.threads
    if saved and saved <= usable_cores():
        return int(saved)
    return auto_threads()


def apply_determinism(run_cfg, threads: int | None = None) -> int:
    """Fix the thread count (and deterministic algorithms when asked); return the thread count."""
    from igebm.training.threads import apply_threads

    threads = run_threads(run_cfg) if threads is None else threads
    apply_threads(threads)
    if run_cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return threads


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def resumable(key: str) -> bool:
    return any(key == r or (r.endswith(".") and key.startswith(r)) for r in RESUMABLE)


def check_resume_config(saved: dict[str, Any] | None, cfg_dict: dict[str, Any], where: str) -> None:
    """Refuse a resume whose config changes a key the checkpoint fixes (keys either side lacks are skipped)."""
    if not isinstance(saved, dict):
        return
    old, new = _flat(saved), _flat(cfg_dict)
    changed = [k for k in new if k in old and old[k] != new[k] and not resumable(k)]
    if changed:
        k = changed[0]
        more = f" (and {len(changed) - 1} more: {', '.join(changed[1:4])})" if len(changed) > 1 else ""
        raise UserError(f"config key '{k}' cannot change on --resume: the checkpoint in {where} was trained with "
                        f"{old[k]!r}, not {new[k]!r}{more}; resume with the run's config, or start a new run "
                        "with another --out")


def apply_optimizer_hparams(optimizer: torch.optim.Optimizer, train_cfg) -> None:
    for group in optimizer.param_groups:
        group["lr"] = train_cfg.lr
        if "betas" in group:
            group["betas"] = (train_cfg.beta1, train_cfg.beta2)


def warn_if_not_exact(state: dict[str, Any], threads: int, device: torch.device, where: str) -> None:
    saved_threads, saved_device = state.get("threads"), state.get("device")
    diffs = []
    if saved_threads is not None and saved_threads != threads:
        diffs.append(f"{saved_threads} thread(s), now {threads}")
    if saved_device is not None and saved_device != str(device):
        diffs.append(f"device {saved_device}, now {device}")
    if diffs:
        warnings.warn(f"{where} was written with {'; '.join(diffs)}: the resumed run will not be bit-exact "
                      "with an uninterrupted one", stacklevel=3)
