"""The trajectory baseline: a feed-forward net of the EBM's size, trained with MSE on the next step's change.

It reads the same windows the EBM trained on (standardised history in,
standardised change out), is matched to the EBM's parameter count, and is
cached in RUN_DIR/baselines/feedforward.safetensors with its settings and
validation MSE in feedforward.json; `ensure_feedforward` trains it once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from igebm import io
from igebm.errors import UserError
from igebm.models.feedforward import FeedForward, matched_hidden, num_parameters
from igebm.training import TrainedRun


def feedforward_path(run_dir: Path) -> Path:
    return Path(run_dir) / "baselines" / "feedforward.safetensors"


def train_feedforward(run: TrainedRun, steps: int = 6000, batch: int = 256, lr: float = 1e-3, seed: int = 0,
                      depth: int | None = None) -> tuple[FeedForward, dict]:
    torch.manual_seed(seed)
    train, val = run.dataset("train"), run.dataset("val")
    depth = depth or run.cfg.model.depth
    in_dim, out_dim = train.attributes.shape[1], train.x.shape[1]
    target = num_parameters(run.energy)
    model = FeedForward(in_dim, out_dim, matched_hidden(in_dim, out_dim, depth, target), depth)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    c, x = torch.from_numpy(train.attributes), torch.from_numpy(train.x)
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        loss = torch.mean((model(c[idx]) - x[idx]) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        vc, vx = torch.from_numpy(val.attributes), torch.from_numpy(val.x)
        val_mse = float(torch.mean((model(vc) - vx) ** 2))
    meta = {"kind": "feedforward", "in_dim": in_dim, "out_dim": out_dim, "hidden": model.hidden, "depth": depth,
            "parameters": num_parameters(model), "ebm_parameters": target, "steps": steps, "batch": batch,
            "lr": lr, "seed": seed, "val_mse": val_mse, "seconds": time.time() - t0, "run_step": run.step}
    return model, meta


def load_feedforward(run_dir: Path) -> tuple[FeedForward, dict] | None:
    path = feedforward_path(run_dir)
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    meta = json.loads(meta_path.read_text())
    model = FeedForward(meta["in_dim"], meta["out_dim"], meta["hidden"], meta["depth"])
    try:
        model.load_state_dict(load_file(str(path)))
    except (RuntimeError, OSError) as exc:
        raise UserError(f"feed-forward baseline '{path}' is corrupt ({str(exc).splitlines()[0]}); delete it") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, meta


def ensure_feedforward(run: TrainedRun, steps: int = 6000, retrain: bool = False) -> tuple[FeedForward, dict]:
    """The run's cached baseline, trained when missing (about a minute on one core)."""
    have = None if retrain else load_feedforward(run.run_dir)
    if have is not None:
        return have
    model, meta = train_feedforward(run, steps)
    path = feedforward_path(run.run_dir)
    io.write_safetensors(path, model.state_dict())
    io.write_json(path.with_suffix(".json"), meta)
    return model, meta

