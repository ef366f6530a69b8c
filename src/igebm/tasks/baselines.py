"""Baselines for the generalisation tasks, trained on the run's own training data.

- `ResNetClassifier`: the energy network's architecture without spectral norm,
  with a softmax head: a standard classifier of matched size (max-softmax OOD
  score, and the robustness baseline, standard or PGD-adversarially trained).
- `GaussianMixtureDensity`: scikit-learn's GaussianMixture log-likelihood.
- `MADE`: a small masked autoregressive density (Germain et al. 2015) with a
  Gaussian per pixel given the previous pixels: the "autoregressive" likelihood.
Weights are saved with safetensors, settings as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from igebm.errors import UserError
from igebm.models.resnet import IGEBMResNet, PRESETS
from igebm.training.checkpoint import atomic_write_text


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(path)
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2))


def load_classifier(path: Path) -> ResNetClassifier:
    if not path.is_file():
        raise UserError(f"baseline '{path}' does not exist: train it with `igebm baseline train RUN_DIR --kind ...`")
    meta = json.loads(path.with_suffix(".json").read_text())
    model = ResNetClassifier(meta["in_channels"], meta["arch"], meta["channels"], meta["num_classes"])
    model.load_state_dict(load_file(str(path)))
    return model.eval()


class GaussianMixtureDensity:
    """log p(x) under a Gaussian mixture on flattened pixels.

    Full covariances up to `FULL_COVARIANCE_MAX_DIM` pixels (digits, MNIST);
    diagonal ones above (CIFAR's 3072 dims would need 10 x 3072^2 floats).
    """

    FULL_COVARIANCE_MAX_DIM = 1024

    def __init__(self, components: int = 10, seed: int = 0, covariance: str = "auto"):
        self.components, self.seed, self.covariance = components, seed, covariance

    def fit(self, x: np.ndarray) -> "GaussianMixtureDensity":
        from sklearn.mixture import GaussianMixture
        flat = x.reshape(len(x), -1)
        kind = self.covariance
        if kind == "auto":
            kind = "full" if flat.shape[1] <= self.FULL_COVARIANCE_MAX_DIM else "diag"
        self.gmm = GaussianMixture(min(self.components, len(flat)), covariance_type=kind, reg_covar=1e-3,
                                   random_state=self.seed)
        self.gmm.fit(flat)
        return self

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return self.gmm.score_samples(x.reshape(len(x), -1))


class MaskedLinear(nn.Linear):
    def __init__(self, cin: int, cout: int, mask: torch.Tensor):
        super().__init__(cin, cout)
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Autoregressive Gaussian density: p(x) = prod_i N(x_i; mu_i(x_<i), sigma_i(x_<i))."""

    def __init__(self, dim: int, hidden: int = 256, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        order_in = torch.arange(dim)
        deg_h = torch.randint(0, max(dim - 1, 1), (hidden,), generator=g)
        self.l1 = MaskedLinear(dim, hidden, deg_h[:, None] >= order_in[None, :])
        self.l2 = MaskedLinear(hidden, hidden, deg_h[:, None] >= deg_h[None, :])
        out_mask = order_in[:, None] > deg_h[None, :]
        self.out = MaskedLinear(hidden, 2 * dim, torch.cat([out_mask, out_mask]))
        self.dim = dim

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        h = F.relu(self.l2(F.relu(self.l1(x))))
        mu, log_sigma = self.out(h).chunk(2, dim=1)
        log_sigma = log_sigma.clamp(-5, 2)
        z = (x - mu) * torch.exp(-log_sigma)
        return (-0.5 * z ** 2 - log_sigma - 0.5 * np.log(2 * np.pi)).sum(1)


def train_made(x: np.ndarray, levels: int, epochs: int = 60, seed: int = 0) -> MADE:
    """Fit MADE to dequantised pixels by maximum likelihood (Adam, full batches of 128)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = MADE(int(np.prod(x.shape[1:])), seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt = torch.from_numpy(x)
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=g)
        for i in range(0, len(order), 128):
            xb = xt[order[i:i + 128]]
            if levels > 1:
                xb = (xb * (levels - 1) + torch.rand(xb.shape, generator=g)) / levels
            loss = -model.log_prob(xb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()
