"""Measuring composition: attribute read-back from images, read-back errors, and MMD.

Two read-backs of (size, x, y) from a generated image:
- `moment_readback`: image moments, no learning. Pixels below a threshold are
  zeroed; x and y are the centroid, size is the side (or diameter) of the shape
  with the same area (thresholded mass). Exact on clean squares.
- `AttributeRegressor`: a small CNN trained with MSE on `shapes_full` (every
  combination), for evaluation only, with pixel noise added in training so that
  noisy samples do not throw it. Never seen by any model under test.

`mmd` is the RBF-kernel maximum mean discrepancy (biased, square-rooted, so two
independent exact sets give a positive floor to compare with), with the median
heuristic bandwidth of the pooled sets unless one is given.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from igebm.data.shapes import ATTRIBUTES, FIXED_POS, FIXED_SIZE, load_shapes
from igebm.errors import UserError


def moment_readback(images: np.ndarray, shape: str = "square", threshold: float = 0.2) -> np.ndarray:
    """(N, 3) (size, x, y) from images (N, 1, R, R) by thresholded mass and centroid."""
    img = np.clip(np.asarray(images, dtype=np.float64)[:, 0], 0.0, 1.0)
    img = np.where(img < threshold, 0.0, img)
    r = img.shape[-1]
    mass = img.sum(axis=(1, 2)) + 1e-9
    centres = np.arange(r) + 0.5
    x = (img.sum(axis=1) * centres).sum(1) / mass / r
    y = (img.sum(axis=2) * centres).sum(1) / mass / r
    if shape == "ellipse":
        size = 2 * np.sqrt(mass / math.pi) / r
    elif shape == "triangle":
        size = np.sqrt(mass * 4 / math.sqrt(3)) / r
    else:
        size = np.sqrt(mass) / r
    return np.stack([size, x, y], 1).astype(np.float32)


class AttributeRegressor(nn.Module):
    """Image (1, R, R) -> (size, x, y)."""

    def __init__(self, resolution: int = 16, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1, stride=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * width * (resolution // 4) ** 2, 128), nn.ReLU(), nn.Linear(128, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def load_regressor(folder, resolution: int = 16) -> AttributeRegressor:
    """The evaluation regressor that `benchmarks/composition.py --parts train` saved in `folder`."""
    from safetensors.torch import load_file

    path = Path(folder) / "regressor.safetensors"
    if not path.is_file():
        raise UserError(f"no regressor.safetensors in '{folder}'; make it with "
                        "`python benchmarks/composition.py --parts train`")
    reg = AttributeRegressor(resolution)
    reg.load_state_dict(load_file(str(path)))
    return reg.eval()

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.eval()
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(images, dtype=np.float32))).numpy()


def train_regressor(resolution: int = 16, shape: str = "square", epochs: int = 15, seed: int = 0,
                    noise: float = 0.05, n_train: int = 10000) -> tuple[AttributeRegressor, dict]:
    """Fit the read-back CNN on shapes_full (train), report its error on shapes_full (test)."""
    torch.manual_seed(seed)
    train = load_shapes("shapes_full", "train", shape, resolution, n=n_train, seed=seed + 100)
    test = load_shapes("shapes_full", "test", shape, resolution)
    model = AttributeRegressor(resolution)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, a = torch.from_numpy(train.x), torch.from_numpy(train.attributes)
    g = torch.Generator().manual_seed(seed)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=g).split(128):
            xb = x[idx]
            xb = (xb + noise * torch.rand(len(xb), 1, 1, 1, generator=g) * torch.randn(xb.shape, generator=g)).clamp(0, 1)
            loss = F.mse_loss(model(xb), a[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    err = np.abs(model.predict(test.x) - test.attributes)
    return model, {"test_mae_" + k: float(err[:, i].mean()) for i, k in enumerate(ATTRIBUTES)}


def readback_errors(estimates: np.ndarray, requested: np.ndarray) -> dict:
    """Mean absolute size error and mean Euclidean centre error, in fractions of the image.

    `requested` (N, 3) holds (size, x, y) with NaN where nothing was asked; those are skipped.
    """
    out = {}
    if np.isfinite(requested[:, 0]).any():
        ok = np.isfinite(requested[:, 0])
        out["size_err"] = float(np.abs(estimates[ok, 0] - requested[ok, 0]).mean())
    if np.isfinite(requested[:, 1:]).all(axis=1).any():
        ok = np.isfinite(requested[:, 1:]).all(axis=1)
        out["pos_err"] = float(np.linalg.norm(estimates[ok, 1:] - requested[ok, 1:], axis=1).mean())
    return out


def mmd(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> float:
    """sqrt of the biased RBF-kernel MMD^2 between sample sets x (n, d) and y (m, d)."""
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    if bandwidth is None:
        z = torch.cat([x, y])
        d = torch.cdist(z, z)
        bandwidth = float(d[d > 0].median())
    def k(a, b):
        return torch.exp(-torch.cdist(a, b) ** 2 / (2 * bandwidth ** 2))
    val = k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()
    return float(val.clamp_min(0).sqrt())


# ----------------------------------------------------------------- the composition experiment
VAL_SIZES, VAL_POSITIONS = (0.28, 0.5), ((0.35, 0.65), (0.65, 0.35))
TEST_SIZES, TEST_POSITIONS = (0.27, 0.45, 0.55), ((0.3, 0.3), (0.3, 0.7), (0.7, 0.3), (0.7, 0.7))


def zero_shot_pairs(split: str = "test") -> np.ndarray:
    """(P, 3) (size, x, y) pairs whose size is not the position split's and whose centre is not the
    size split's: neither training set holds them. 'val' pairs tune, 'test' pairs report."""
    sizes, positions = (VAL_SIZES, VAL_POSITIONS) if split == "val" else (TEST_SIZES, TEST_POSITIONS)
    return np.array([(s, x, y) for s in sizes for x, y in positions], dtype=np.float32)


def binder(*names: str):
    """`bind(expert_index, requested)` for compose_and_sample: the named columns of a (N, 3) (size, x, y)
    array as tensors, the same for every expert."""
    cols = [ATTRIBUTES.index(n) for n in names]
    return lambda i, r: {n: torch.from_numpy(np.ascontiguousarray(r[:, c])) for n, c in zip(names, cols)}


def compose_and_sample(experts, bind, requested: np.ndarray, sampler, steps: int, seed: int,
                       mode: str = "sum", noise_fn=None, weights=None, warm_expert: int | None = None,
                       warm_steps: int = 0, warm_requested: np.ndarray | None = None) -> np.ndarray:
    """Samples of AND of `experts` (sum of w_i E_i), each bound per sample by `bind(expert_index, requested)`.

    With `warm_expert` k, the chains first sample expert k alone for `warm_steps`, bound to
    `warm_requested` (default `requested`)."""
    from igebm.models.algebra import AND
    from igebm.tasks.composition import sample_composite

    energy = AND(*[e.given(**bind(i, requested)) for i, e in enumerate(experts)], weights=weights)
    warm = None
    if warm_expert is not None:
        warm = experts[warm_expert].given(**bind(warm_expert, requested if warm_requested is None else warm_requested))
    g = torch.Generator().manual_seed(seed)
    x0 = noise_fn(len(requested), g) if noise_fn else torch.rand((len(requested), 1, 16, 16), generator=g)
    return sample_composite(energy, sampler, x0, steps, g, mode, warm_start=warm, warm_steps=warm_steps).x.numpy()


def readback_table(images: np.ndarray, requested: np.ndarray, regressor: AttributeRegressor | None,
                   shape: str = "square") -> dict:
    """Errors by the regressor (`size_err`, `pos_err`) and by image moments (`moment_*`)."""
    out = {}
    if regressor is not None:
        out.update(readback_errors(regressor.predict(images), requested))
    out.update({f"moment_{k}": v for k, v in readback_errors(moment_readback(images, shape), requested).items()})
    return out


def position_shares(estimates: np.ndarray, centres: list[tuple[float, float]]) -> list[float]:
    """The share of samples whose read-back centre is nearest to each of `centres`."""
    d = np.linalg.norm(estimates[:, None, 1:] - np.asarray(centres)[None], axis=2)
    nearest = d.argmin(1)
    return [float((nearest == i).mean()) for i in range(len(centres))]


def validation_requests(num: int = 16) -> dict[str, np.ndarray]:
    """What validation asks, (N, 3) (size, x, y) with NaN where nothing is asked, never a test pair:
    `pairs`, the val pairs x num; `size_range`, sizes of the size split's train set (0.25-0.6) at the
    centre; `position_own`, centres of the position split's train set at its size (0.35)."""
    pairs = np.repeat(zero_shot_pairs("val"), num, axis=0)
    n = len(pairs)
    sizes = load_shapes("shapes_size", "train").attributes[:n, 0]
    centres = load_shapes("shapes_position", "train").attributes[:n]
    size_range = np.column_stack([sizes, np.full((n, 2), FIXED_POS)]).astype(np.float32)
    position_own = np.column_stack([np.full(n, FIXED_SIZE), centres]).astype(np.float32)
    return {"pairs": pairs, "size_range": size_range, "position_own": position_own}


def score_size_on_validation(size_expert, position_expert, sampler, noise_fn, regressor: AttributeRegressor,
                             weights=(32.0, 1.0), steps: int = 300, warm_steps: int = 100, num: int = 16,
                             seed: int = 1) -> dict:
    """The size criterion: AND warm-started by the position expert, at the centre over the size split's
    range (`range_size_err`, the score) and on the validation pairs (`and_size_err`, `and_pos_err`)."""
    req = validation_requests(num)
    bind_size, bind_pos = binder("size"), binder("x", "y")
    bind_two = lambda i, r: bind_size(i, r) if i == 0 else bind_pos(i, r)
    experts, w = [size_expert, position_expert], list(weights)
    x_range = compose_and_sample(experts, bind_two, req["size_range"], sampler, steps, seed, "sum", noise_fn, w, 1,
                                 warm_steps)
    x_and = compose_and_sample(experts, bind_two, req["pairs"], sampler, steps, seed, "sum", noise_fn, w, 1, warm_steps)
    size_only = req["size_range"].copy()
    size_only[:, 1:] = np.nan
    o, a = readback_table(x_range, size_only, regressor), readback_table(x_and, req["pairs"], regressor)
    return {"range_size_err": o["size_err"], "and_size_err": a["size_err"], "and_pos_err": a["pos_err"],
            "score": o["size_err"]}


def own_error_on_validation(expert, kind: str, sampler, noise_fn, regressor: AttributeRegressor, steps: int = 100,
                            num: int = 16, seed: int = 1) -> float:
    """An expert at its own training setting, from noise: the size expert's size error over its range at
    the centre, or the position expert's centre error at size 0.35."""
    req = validation_requests(num)["size_range" if kind == "size" else "position_own"]
    names = ("size",) if kind == "size" else ("x", "y")
    x = compose_and_sample([expert], binder(*names), req, sampler, steps, seed, "sum", noise_fn)
    asked = req.copy()
    asked[:, [i for i in range(3) if ATTRIBUTES[i] not in names]] = np.nan
    return readback_table(x, asked, regressor)["size_err" if kind == "size" else "pos_err"]
