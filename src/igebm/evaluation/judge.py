"""An independent classifier that judges generated samples.

The EBM must not grade its own homework: conditional accuracy, class balance
and the Fréchet distance of samples are measured with this plain CNN, trained
once on the real training split and cached (safetensors + JSON sidecar, never
pickle). It shares nothing with the EBM code: no spectral norm, no energies.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from igebm import io
from igebm.data.base import ArrayDataset
from igebm.errors import UserError

FEATURE_DIM = 128


class Judge(nn.Module):
    """Small CNN: two 3x3 convs -> pool -> 128-d features -> logits, for any (C, H, W)."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        if len(shape) != 3 or num_classes < 2:
            raise UserError(f"the judge needs image inputs (C, H, W) and >= 2 classes, "
                            f"got shape {tuple(shape)} and {num_classes} classes")
        c, h, w = (int(s) for s in shape)
        self.shape = (c, h, w)
        self.num_classes = int(num_classes)
        self.test_accuracy: float | None = None
        self.conv1 = nn.Conv2d(c, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        # One 2x2 pool when the image allows it, then a fixed 4x4 grid so the
        # feature layer has the same size for 8x8 digits and 32x32 CIFAR.
        self.pool = nn.MaxPool2d(2) if min(h, w) >= 8 else nn.Identity()
        self.grid = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(64 * 16, FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, self.num_classes)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = self.pool(F.relu(self.conv2(x)))
        return F.relu(self.fc(self.grid(x).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self._features(x)))

    @torch.no_grad()
    def _batched(self, x, fn, batch_size: int) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not torch.is_tensor(x) else x
        x = x.detach().to(torch.float32).cpu()
        if tuple(x.shape[1:]) != self.shape:
            raise UserError(f"the judge was built for inputs {self.shape}, got {tuple(x.shape[1:])}")
        self.eval()
        with _threads(1 if self.shape[1] * self.shape[2] <= 16 * 16 else None):
            outs = [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return torch.cat(outs) if outs else torch.zeros((0,))

    def features(self, x, batch_size: int = 512) -> np.ndarray:
        """Penultimate 128-d activations, (N, 128) float64: the space for Fréchet distances."""
        if len(x) == 0:
            return np.zeros((0, FEATURE_DIM))
        return self._batched(x, self._features, batch_size).numpy().astype(np.float64)

    def logits(self, x, batch_size: int = 512) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, self.num_classes))
        return self._batched(x, self.forward, batch_size).numpy()

    def predict(self, x, batch_size: int = 512) -> np.ndarray:
        """Predicted labels (N,) int64; accepts numpy arrays or tensors."""
        return self.logits(x, batch_size).argmax(axis=1).astype(np.int64)

    def accuracy(self, data: ArrayDataset) -> float:
        return float(np.mean(self.predict(data.x) == data.y)) if len(data) else float("nan")


def _random_shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Shift each image by up to ±max_shift pixels (zero fill): cheap, label-preserving."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (N, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (N, 1, W)
    out = padded[torch.arange(n)[:, None, None], :, rows, cols]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


@contextmanager
def _threads(n: int | None):
    """Temporarily set torch's intra-op thread count (None = leave it alone)."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def train_judge(train: ArrayDataset, epochs: int = 30, seed: int = 0, augment: bool = True,
                batch_size: int = 64, lr: float = 2e-3, threads: int | None = None) -> Judge:
    """Train a fresh judge with Adam; the same seed gives the same weights on the same machine.

    For small images the default is one thread: the convs are too small to
    gain from intra-op parallelism, and on a busy 2-core machine two threads
    measured ~10x slower (80-140 s vs 8-13 s for digits).
    """
    if not train.is_image or train.num_classes < 2:
        raise UserError(f"{train.name}: the judge needs a labelled image dataset")
    if threads is None and train.shape[1] * train.shape[2] <= 16 * 16:
        threads = 1
    with _threads(threads), torch.random.fork_rng(devices=[]):  # caller's global RNG untouched
        torch.manual_seed(seed)
        judge = Judge(train.shape, train.num_classes)
        gen = torch.Generator().manual_seed(seed)
        x_all, y_all = torch.from_numpy(train.x), torch.from_numpy(train.y)
        opt = torch.optim.Adam(judge.parameters(), lr=lr)
        steps = epochs * ((len(train) + batch_size - 1) // batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
        judge.train()
        for _ in range(epochs):
            order = torch.randperm(len(train), generator=gen)
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                xb = _random_shift(x_all[idx], gen) if augment else x_all[idx]
                loss = F.cross_entropy(judge(xb), y_all[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
    judge.eval()
    return judge


def _sidecar(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def save_judge(judge: Judge, path: Path, extra: dict | None = None) -> None:
    """Weights as safetensors at `path`, metadata as JSON next to it; both written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"shape": list(judge.shape), "num_classes": judge.num_classes,
            "test_accuracy": judge.test_accuracy, **(extra or {})}
    io.write_safetensors(path, judge.state_dict())
    io.write_json(_sidecar(path), meta)


def read_judge_meta(path: Path) -> dict:
    """The JSON sidecar of a saved judge."""
    try:
        return json.loads(_sidecar(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read judge metadata {_sidecar(path)}: {exc}; delete it to retrain") from exc


def load_judge(path: Path) -> Judge:
    """Rebuild a judge from `path` (safetensors) and its sidecar."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no judge at {path}; train one first (it is cached automatically)")
    meta = read_judge_meta(path)
    judge = Judge(tuple(meta["shape"]), meta["num_classes"])
    try:
        judge.load_state_dict(load_file(str(path)))
    except Exception as exc:  # corrupt or mismatched file
        raise UserError(f"cannot load judge weights {path}: {exc}; delete it to retrain") from exc
    judge.test_accuracy = meta.get("test_accuracy")
    judge.eval()
    return judge


def get_judge(train: ArrayDataset, test: ArrayDataset, cache_path: Path,
              epochs: int = 30, seed: int = 0) -> Judge:
    """The cached judge if it was trained the same way on the same data, else train and cache one."""
    cache_path = Path(cache_path)
    want = {"shape": list(train.shape), "num_classes": train.num_classes, "dataset": train.name,
            "n_train": len(train), "epochs": epochs, "seed": seed}
    if cache_path.exists() and _sidecar(cache_path).exists():
        try:
            meta = read_judge_meta(cache_path)
            if all(meta.get(k) == v for k, v in want.items()):
                return load_judge(cache_path)
        except UserError:
            pass  # unreadable cache: retrain and overwrite it
    start = time.perf_counter()
    judge = train_judge(train, epochs=epochs, seed=seed)
    seconds = time.perf_counter() - start
    judge.test_accuracy = judge.accuracy(test)
    save_judge(judge, cache_path, extra={**want, "train_seconds": round(seconds, 2)})
    return judge


def run_judge(run) -> Judge:
    """The judge of a trained run's dataset, cached in RUN_DIR/judge/ (trained on its training split)."""
    cfg = run.cfg
    return get_judge(run.dataset("train"), run.dataset("test"), run.run_dir / "judge" / "judge.safetensors",
                     cfg.eval.judge_epochs, cfg.run.seed)
