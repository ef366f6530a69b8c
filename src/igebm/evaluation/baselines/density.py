"""Likelihood baselines for OOD detection, fitted on the run's training data.

- `GaussianMixtureDensity`: scikit-learn's GaussianMixture log-likelihood.
- `MADE`: a small masked autoregressive density (Germain et al. 2015) with a
  Gaussian per pixel given the previous pixels: the "autoregressive" likelihood.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
