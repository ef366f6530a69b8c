"""Shared pieces of the image tasks: inputs, masks, corruptions, labels, refinement.

Completion, restoration and morphing are all the same operation: Langevin
dynamics on the trained energy from a chosen start, with some pixels held
fixed (a mask) and a chosen label. This module holds what they share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from igebm.errors import UserError
from igebm.training.run import TrainedRun

MASKS = ("bottom-half", "top-half", "left-half", "right-half", "center-box", "random:P", "FILE.npy")


@dataclass
class ImageInputs:
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray | None  # (N,) or None when unknown
    source: str


def read_inputs(run: TrainedRun, input_path: str | None, split: str | None, num: int | None) -> ImageInputs:
    """Images from an npz (`images`, optional `labels`) or from a split of the run's dataset."""
    if (input_path is None) == (split is None):
        raise UserError("give exactly one of --input FILE.npz or --split test")
    shape = run.dataset("train").shape
    if split is not None:
        data = run.dataset(split)
        x, y, source = data.x, data.y if data.num_classes else None, f"{data.name} {split} split"
    else:
        path = Path(input_path)
        if not path.is_file():
            raise UserError(f"input file '{path}' does not exist")
        try:
            npz = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise UserError(f"'{path}' is not a readable npz file ({exc})") from None
        if "images" not in npz.files:
            raise UserError(f"'{path}' has no 'images' array (it has: {', '.join(npz.files) or 'nothing'}); "
                            "save one with np.savez(path, images=x) where x is (N, C, H, W) in [0, 1]")
        x = np.asarray(npz["images"], dtype=np.float32)
        y = np.asarray(npz["labels"], dtype=np.int64) if "labels" in npz.files else None
        if y is not None and (y < 0).any():
            y = None  # unconditional samples carry labels of -1
        source = str(path)
        if x.ndim == 3 and len(shape) == 3 and shape[0] == 1:
            x = x[:, None]
        if tuple(x.shape[1:]) != shape:
            raise UserError(f"'{path}' holds images of shape {tuple(x.shape[1:])}, but the run's model "
                            f"takes {shape}")
        if x.min() < 0 or x.max() > 1:
            raise UserError(f"'{path}': images must be in [0, 1] (found {x.min():.3g}..{x.max():.3g})")
    if y is not None and run.conditional and (y.max() >= run.num_classes):
        raise UserError(f"labels go up to {y.max()}, but the run has classes 0..{run.num_classes - 1}")
    if num is not None:
        x, y = x[:num], None if y is None else y[:num]
    return ImageInputs(np.ascontiguousarray(x), y, source)


def parse_mask(spec: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A boolean (C, H, W) mask, True where pixels are hidden (and will be filled in)."""
    c, h, w = shape
    m = np.zeros((h, w), dtype=bool)
    if spec == "bottom-half":
        m[h // 2:] = True
    elif spec == "top-half":
        m[: h // 2] = True
    elif spec == "left-half":
        m[:, : w // 2] = True
    elif spec == "right-half":
        m[:, w // 2:] = True
    elif spec == "center-box":
        m[h // 4: h - h // 4, w // 4: w - w // 4] = True
    elif spec.startswith("random:"):
        p = _fraction(spec, "random")
        m = np.random.default_rng(seed).random((h, w)) < p
    else:
        path = Path(spec)
        if not path.is_file():
            raise UserError(f"unknown mask '{spec}': choose one of {', '.join(MASKS)} (a mask file must exist)")
        try:
            arr = np.load(path, allow_pickle=False)
            arr = arr[arr.files[0]] if hasattr(arr, "files") else arr
        except (ValueError, OSError) as exc:
            raise UserError(f"mask file '{path}' is not a readable .npy/.npz ({exc})") from None
        arr = np.asarray(arr).astype(bool)
        if arr.shape == (h, w):
            m = arr
        elif arr.shape == (c, h, w):
            return arr
        else:
            raise UserError(f"mask file '{path}' has shape {arr.shape}; the images need ({h}, {w}) or ({c}, {h}, {w})")
    return np.broadcast_to(m, (c, h, w)).copy()


def _fraction(spec: str, name: str, default: float | None = None) -> float:
    _, _, raw = spec.partition(":")
    if not raw and default is not None:
        return default
    try:
        p = float(raw)
    except ValueError:
        raise UserError(f"'{spec}': {name} needs a number, e.g. {name}:0.1") from None
    if not 0 < p <= 1:
        raise UserError(f"'{spec}': the fraction must be in (0, 1]")
    return p


def corrupt(spec: str, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """salt-pepper:P (P/2 of pixels to 0.1, P/2 to 0.9, as in the paper), gaussian:SIGMA, or box."""
    rng = np.random.default_rng(seed)
    out = x.copy()
    kind = spec.split(":")[0]
    if kind == "salt-pepper":
        p = _fraction(spec, "salt-pepper", default=0.1)
        u = rng.random(x.shape)
        out[u < p / 2] = 0.1
        out[(u >= p / 2) & (u < p)] = 0.9
    elif kind == "gaussian":
        _, _, raw = spec.partition(":")
        try:
            sigma = float(raw) if raw else 0.1
        except ValueError:
            raise UserError(f"'{spec}': gaussian needs a noise level, e.g. gaussian:0.1") from None
        out = np.clip(x + sigma * rng.standard_normal(x.shape), 0, 1)
    elif kind == "box":
        n, c, h, w = x.shape
        for i in range(n):  # a random grey box covering a quarter of each image
            top, left = rng.integers(0, h - h // 2 + 1), rng.integers(0, w - w // 2 + 1)
            out[i, :, top: top + h // 2, left: left + w // 2] = 0.5
    else:
        raise UserError(f"unknown corruption '{spec}': choose salt-pepper:P, gaussian:SIGMA or box")
    return out.astype(np.float32)


@torch.no_grad()
def min_energy_labels(run: TrainedRun, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """The label with the lowest energy, argmin_y E(x, y): the EBM's own classification."""
    k = run.num_classes
    out = []
    for start in range(0, len(x), batch):
        xb = x[start:start + batch]
        e = torch.stack([run.energy(xb, torch.full((len(xb),), c, dtype=torch.long)) for c in range(k)], 1)
        out.append(e.argmin(1))
    return torch.cat(out)


def labels_for(run: TrainedRun, inputs: ImageInputs, x_guess: np.ndarray, source: str | None) -> torch.Tensor | None:
    """Labels to condition on: 'given' (from the input), 'infer' (min energy of x_guess), or None:
    given when the input has labels, else inferred."""
    if not run.conditional:
        return None
    source = source or ("given" if inputs.labels is not None else "infer")
    if source == "given":
        if inputs.labels is None:
            raise UserError("--labels given needs labels in the input (npz 'labels' or a labelled split); use --labels infer")
        return torch.from_numpy(inputs.labels)
    return min_energy_labels(run, torch.from_numpy(x_guess))


def refine(run: TrainedRun, x0: torch.Tensor, y: torch.Tensor | None, rounds: int, steps: int, *,
           mask: torch.Tensor | None = None, seed: int = 0, record_every: int = 0, batch: int = 1000):
    """`rounds` x `steps` Langevin steps from x0 (only `mask` entries move); batched."""
    g = torch.Generator().manual_seed(seed)
    outs, traces = [], []
    for start in range(0, len(x0), batch):
        x = x0[start:start + batch]
        yb = None if y is None else y[start:start + batch]
        mb = None if mask is None else mask[start:start + batch]
        trace = []
        for _ in range(rounds):
            res = run.sampler.sample(run.energy, x, yb, mask=mb, steps=steps, generator=g,
                                     record_every=record_every)
            x = res.x
            trace += res.trace[:-1] if record_every else []
        if record_every:
            trace.append(x.clone())
            traces.append(torch.stack(trace))
        outs.append(x)
    x = torch.cat(outs)
    return (x, torch.cat(traces, 1)) if record_every else x


def add_input_args(p, num_default: int | None = None) -> None:
    p.add_argument("run_dir", help="a trained run (from `igebm train` or `igebm demo`)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="npz with 'images' (N, C, H, W) in [0, 1] and optional 'labels'")
    src.add_argument("--split", choices=["train", "test"], help="use the run's own dataset split")
    p.add_argument("--num", type=int, default=num_default, help="use only the first NUM images")
    p.add_argument("--labels", choices=["given", "infer"],
                   help="conditional runs: condition on the input's labels (the default when the input "
                        "has them, as in the paper), or infer them as the min-energy class of the input")
    p.add_argument("--seed", type=int, default=0)
