"""Classifier baselines of the EBM's size: standard and PGD-adversarially trained.

`ResNetClassifier` is the energy network's architecture without spectral norm,
with a softmax head. It gives the max-softmax OOD score and the robustness
baselines. Weights are saved with safetensors, settings as JSON beside them, in
RUN_DIR/baselines/, and reused when present.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from igebm import io
from igebm.errors import UserError
from igebm.evaluation.attacks import classifier_grad_fn, pgd
from igebm.models.resnet import PRESETS, IGEBMResNet
from igebm.training.run import TrainedRun

class ResNetClassifier(nn.Module):
    """The run's ResNet body (no spectral norm, unconditional) with a num_classes head."""

    def __init__(self, in_channels: int, arch: str, channels: int, num_classes: int):
        super().__init__()
        import dataclasses
        spec = PRESETS[arch] if not channels else dataclasses.replace(PRESETS[arch], base_channels=channels)
        self.body = IGEBMResNet(in_channels, spec, 0, "leaky_relu", use_spectral_norm=False)
        self.body.head = nn.Linear(self.body.head.in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body.stem(x)
        for block in self.body.blocks:
            h = block(h, None)
        return self.body.head(self.body.act(h).sum(dim=(2, 3)))


def train_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int = 15, lr: float = 1e-3,
                     seed: int = 0, attack=None, batch_size: int = 64) -> nn.Module:
    """Cross-entropy training; with `attack(model, xb, yb) -> x_adv`, PGD adversarial training (Madry)."""
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=g)
        for i in range(0, len(order), batch_size):
            xb, yb = xt[order[i:i + batch_size]], yt[order[i:i + batch_size]]
            if attack is not None:
                model.eval()
                xb = attack(model, xb, yb)
            model.train()
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def save_module(model: nn.Module, path: Path, meta: dict) -> None:
    io.write_safetensors(path, model.state_dict())
    io.write_json(path.with_suffix(".json"), meta)


def load_classifier(path: Path) -> ResNetClassifier:
    if not path.is_file():
        raise UserError(f"baseline '{path}' does not exist: train it with `igebm baseline train RUN_DIR --kind ...`")
    meta = json.loads(path.with_suffix(".json").read_text())
    model = ResNetClassifier(meta["in_channels"], meta["arch"], meta["channels"], meta["num_classes"])
    model.load_state_dict(load_file(str(path)))
    return model.eval()


BASELINE_KINDS = ("standard", "pgd-adversarial")


def baseline_path(run_dir: Path, kind: str) -> Path:
    return Path(run_dir) / "baselines" / f"classifier_{kind}.safetensors"


def baseline_meta(run_dir: Path, kind: str) -> dict | None:
    """The JSON sidecar of a trained baseline (epochs, test accuracy, ...), or None."""
    path = baseline_path(run_dir, kind).with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def load_baselines(run_dir: Path) -> dict:
    found = {}
    for kind in BASELINE_KINDS:
        path = baseline_path(run_dir, kind)
        if path.is_file():
            found[f"{kind} classifier"] = load_classifier(path)
    return found


def train_baseline(run: TrainedRun, kind: str, epochs: int = 15, adv_eps: float = 0.1, seed: int = 0,
                   adv_steps: int = 7) -> Path:
    train = run.dataset("train")
    cfg = run.cfg.model
    torch.manual_seed(seed)
    model = ResNetClassifier(train.shape[0], cfg.arch, cfg.channels, train.num_classes)
    attack = None
    if kind == "pgd-adversarial":
        attack = lambda m, xb, yb: pgd(classifier_grad_fn(m), xb, yb, adv_eps, "linf", adv_steps, seed=seed)  # noqa: E731
    train_classifier(model, train.x, train.y, epochs, attack=attack, seed=seed)
    test = run.dataset("test")
    with torch.no_grad():
        acc = float((model(torch.from_numpy(test.x)).argmax(1).numpy() == test.y).mean())
    path = baseline_path(run.run_dir, kind)
    save_module(model, path, {"kind": kind, "in_channels": train.shape[0], "arch": cfg.arch, "channels": cfg.channels,
                              "num_classes": train.num_classes, "epochs": epochs, "adv_eps_linf": adv_eps,
                              "adv_steps": adv_steps if kind == "pgd-adversarial" else 0, "test_accuracy": acc})
    return path


def ensure_baselines(run: TrainedRun, epochs: int = 15, adv_steps: int = 7) -> dict:
    """Load the run's baseline classifiers; (re)train any missing or trained with fewer epochs/steps."""
    for kind in BASELINE_KINDS:
        meta = baseline_meta(run.run_dir, kind) or {}
        steps_ok = kind == "standard" or meta.get("adv_steps", 7) >= adv_steps
        if meta.get("epochs", 0) < epochs or not steps_ok:
            print(f"training the {kind} baseline classifier ({epochs} epochs)", flush=True)
            train_baseline(run, kind, epochs, seed=run.cfg.run.seed, adv_steps=adv_steps)
    return load_baselines(run.run_dir)
