"""Shared pieces of the image tasks: inputs, masks, corruptions, labels, chains.

Completion, restoration and morphing are one operation: Langevin dynamics on
the trained energy from a chosen start, with some pixels held fixed (a mask)
and a chosen label. This module holds what they share, so the commands stay
thin: reading and checking inputs, building masks and corruptions, choosing
the label to condition on, and running the chain with task-level knobs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from igebm.errors import UserError
from igebm.sampling import LangevinSampler
from igebm.training.run import TrainedRun

NAMED_MASKS = ("bottom-half", "top-half", "left-half", "right-half", "center-box")
MASK_HELP = ("which pixels to hide and fill in: bottom-half, top-half, left-half, right-half, center-box "
             "(the middle half in each direction), random:P (a fraction P of the pixels, drawn per image), "
             "or a mask file: .npy, or .npz (array 'mask' or its only array) of shape (H, W) or (C, H, W), "
             "nonzero = hidden; or a grayscale .png of size W x H, white = hidden")
CORRUPTION_HELP = ("salt-pepper:P (P/2 of the pixels set to 0.1 and P/2 to 0.9, as in the paper; P = 0.1 "
                   "when omitted), gaussian:SIGMA (additive noise, clipped to [0, 1]; SIGMA = 0.1 when "
                   "omitted), or box (a grey box over a quarter of each image, at a random place)")
LABELS_HELP = ("conditional runs: the class to condition on. 'given' uses the input's labels (npz 'labels' "
               "or the split's labels); 'infer' picks the class with the lowest energy, argmin_y E(x, y), "
               "on the visible / corrupted image. Default: given when the input has labels, else infer")


@dataclass
class ImageInputs:
    images: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray | None  # (N,) int64, or None when unknown
    source: str  # where they came from, for metrics.json


def read_inputs(run: TrainedRun, input_path: str | None, split: str | None, num: int | None = None) -> ImageInputs:
    """Images from an npz (`images`, optional `labels`) or a split of the run's dataset, checked."""
    require_images(run)
    if (input_path is None) == (split is None):
        raise UserError("give exactly one of --input FILE.npz or --split test")
    if num is not None and num < 1:
        raise UserError(f"--num must be at least 1 (got {num})")
    if split is not None:
        data = run.dataset(split)
        x, y, source = data.x, (data.y if data.num_classes else None), f"{data.name} {split} split"
    else:
        x, y = _read_npz(input_path, run.dataset("train").shape)
        source = str(input_path)
        if y is not None:
            y = check_labels(run, y, f"'{input_path}' labels")
    if num is not None:
        x, y = x[:num], None if y is None else y[:num]
    return ImageInputs(np.ascontiguousarray(x, dtype=np.float32), y, source)


def require_images(run: TrainedRun) -> None:
    if not run.dataset("train").is_image:
        raise UserError(f"the image tasks need a run trained on images; '{run.cfg.data.name}' is not an image dataset")


def _read_npz(path_text: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    path = Path(path_text)
    if not path.is_file():
        raise UserError(f"input file '{path}' does not exist")
    try:
        npz = np.load(path, allow_pickle=False)
        files = npz.files
    except (ValueError, OSError, AttributeError) as exc:
        raise UserError(f"'{path}' is not a readable npz file ({str(exc).splitlines()[0]})") from None
    if "images" not in files:
        raise UserError(f"'{path}' has no 'images' array (it has: {', '.join(files) or 'nothing'}); "
                        "save one with np.savez(path, images=x), x of shape (N, C, H, W) in [0, 1]")
    x = np.asarray(npz["images"], dtype=np.float32)
    if x.ndim == 3 and len(shape) == 3 and shape[0] == 1:
        x = x[:, None]  # (N, H, W) grayscale
    if tuple(x.shape[1:]) != tuple(shape) or len(x) == 0:
        raise UserError(f"'{path}' holds images of shape {tuple(x.shape[1:])} (N = {len(x)}), but the run's "
                        f"model takes (N, {', '.join(map(str, shape))}) with N >= 1")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise UserError(f"'{path}': images must be finite and in [0, 1] (found {np.nanmin(x):.3g}..{np.nanmax(x):.3g})")
    y = None
    if "labels" in files:
        y = np.asarray(npz["labels"]).reshape(-1)
        if len(y) != len(x):
            raise UserError(f"'{path}' has {len(x)} images but {len(y)} labels")
        if not np.issubdtype(y.dtype, np.integer):
            raise UserError(f"'{path}': labels must be integers (found {y.dtype})")
        y = None if (y == -1).all() else y.astype(np.int64)  # `igebm sample` writes -1 when unconditional
    return x, y


def check_labels(run: TrainedRun, y: np.ndarray, what: str) -> np.ndarray:
    """Labels must name one of the run's classes."""
    k = run.num_classes
    if k and ((y < 0) | (y >= k)).any():
        bad = y[(y < 0) | (y >= k)][0]
        raise UserError(f"{what}: class label {bad} is out of range; the run has classes 0..{k - 1}")
    return y


def parse_mask(spec: str, images_shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A boolean (N, C, H, W) mask for images of `images_shape`, True where pixels are hidden."""
    n, c, h, w = images_shape
    m = np.zeros((1, 1, h, w), dtype=bool)
    if spec == "bottom-half":
        m[..., h // 2:, :] = True
    elif spec == "top-half":
        m[..., : h // 2, :] = True
    elif spec == "left-half":
        m[..., : w // 2] = True
    elif spec == "right-half":
        m[..., w // 2:] = True
    elif spec == "center-box":
        m[..., h // 4: h - h // 4, w // 4: w - w // 4] = True
    elif spec.startswith("random:"):
        m = np.random.default_rng(seed).random((n, 1, h, w)) < _fraction(spec, "random")
    else:
        m = _read_mask_file(spec, (c, h, w))
    m = np.broadcast_to(m, images_shape).copy()
    if not m.any():
        raise UserError(f"mask '{spec}' hides no pixels; nothing to complete")
    return m


def _read_mask_file(spec: str, chw: tuple[int, int, int]) -> np.ndarray:
    path = Path(spec)
    if not path.is_file():
        raise UserError(f"unknown mask '{spec}': choose {', '.join(NAMED_MASKS)}, random:P, "
                        "or an existing .npy/.npz/.png mask file")
    try:
        if path.suffix.lower() == ".png":
            from PIL import Image
            arr = np.asarray(Image.open(path).convert("L")) >= 128
        else:
            arr = np.load(path, allow_pickle=False)
            if hasattr(arr, "files"):
                if "mask" not in arr.files and len(arr.files) != 1:
                    raise UserError(f"mask file '{path}' holds {', '.join(arr.files)}: name the mask array 'mask'")
                arr = arr["mask" if "mask" in arr.files else arr.files[0]]
            arr = np.asarray(arr) != 0
    except (ValueError, OSError) as exc:
        raise UserError(f"mask file '{path}' is not a readable .npy/.npz/.png ({str(exc).splitlines()[0]})") from None
    c, h, w = chw
    if arr.shape == (h, w):
        return arr[None, None]
    if arr.shape == (c, h, w):
        return arr[None]
    raise UserError(f"mask file '{path}' has shape {arr.shape}, but the images need ({h}, {w}) or ({c}, {h}, {w})")


def _fraction(spec: str, name: str, default: float | None = None) -> float:
    _, _, raw = spec.partition(":")
    if not raw and default is not None:
        return default
    try:
        p = float(raw)
    except ValueError:
        raise UserError(f"'{spec}': {name} needs a fraction, e.g. {name}:0.1") from None
    if not 0 < p <= 1:
        raise UserError(f"'{spec}': the fraction must be in (0, 1]")
    return p


def corrupt(spec: str, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Corrupt clean images (see CORRUPTION_HELP); deterministic for a seed."""
    rng = np.random.default_rng(seed)
    out = x.copy()
    kind, _, raw = spec.partition(":")
    if kind == "salt-pepper":
        p = _fraction(spec, "salt-pepper", default=0.1)
        u = rng.random(x.shape)
        out[u < p / 2] = 0.1
        out[(u >= p / 2) & (u < p)] = 0.9
    elif kind == "gaussian":
        try:
            sigma = float(raw) if raw else 0.1
        except ValueError:
            sigma = -1.0
        if not sigma > 0:
            raise UserError(f"'{spec}': gaussian needs a positive noise level, e.g. gaussian:0.1")
        out = np.clip(x + sigma * rng.standard_normal(x.shape), 0, 1)
    elif kind == "box" and not raw:
        _, _, h, w = x.shape
        for i in range(len(x)):
            top, left = rng.integers(0, h - h // 2 + 1), rng.integers(0, w - w // 2 + 1)
            out[i, :, top: top + h // 2, left: left + w // 2] = 0.5
    else:
        raise UserError(f"unknown corruption '{spec}': choose salt-pepper:P, gaussian:SIGMA or box")
    return out.astype(np.float32)


@torch.no_grad()
def min_energy_labels(run: TrainedRun, x: torch.Tensor | np.ndarray, batch: int = 512) -> torch.Tensor:
    """argmin_y E(x, y): the class the energy finds most likely (the EBM as a classifier)."""
    x = torch.as_tensor(x)
    out = []
    for start in range(0, len(x), batch):
        xb = x[start:start + batch]
        e = torch.stack([run.energy(xb, torch.full((len(xb),), c, dtype=torch.long))
                         for c in range(run.num_classes)], 1)
        out.append(e.argmin(1))
    return torch.cat(out)


def condition_labels(run: TrainedRun, inputs: ImageInputs, seen: np.ndarray,
                     mode: str | None) -> tuple[torch.Tensor | None, str | None]:
    """Labels to condition on and how they were chosen ('given' / 'inferred'); see LABELS_HELP.

    `seen` is what the model may look at when inferring: the visible pixels (hidden ones filled
    with the mean training image) for completion, the corrupted image for restoration.
    Unconditional runs get (None, None).
    """
    if not run.conditional:
        return None, None
    mode = mode or ("given" if inputs.labels is not None else "infer")
    if mode == "given":
        if inputs.labels is None:
            raise UserError("--labels given needs labels in the input (npz 'labels' or a labelled split); "
                            "use --labels infer")
        return torch.from_numpy(inputs.labels), "given"
    return min_energy_labels(run, seen), "inferred"


@dataclass
class Chain:
    """Task-level Langevin knobs: `rounds` x `steps` steps; None = the run's own sampler setting."""

    rounds: int = 1
    steps: int | None = None
    step_size: float | None = None
    noise_std: float | None = None
    temperature: float | None = None

    def sampler(self, run: TrainedRun) -> LangevinSampler:
        changes = {k: v for k, v in (("step_size", self.step_size), ("noise_std", self.noise_std),
                                     ("temperature", self.temperature)) if v is not None}
        return dataclasses.replace(run.sampler, **changes)

    def total_steps(self, run: TrainedRun) -> int:
        return self.rounds * (self.steps or run.sampler.steps)

    def describe(self, run: TrainedRun) -> dict:
        s = self.sampler(run)
        return {"rounds": self.rounds, "steps_per_round": self.steps or run.sampler.steps,
                "step_size": s.step_size, "noise_std": s.noise_std, "temperature": s.temperature}

    @classmethod
    def from_args(cls, args) -> "Chain":
        for name in ("rounds", "steps"):
            if getattr(args, name, None) is not None and getattr(args, name) < 1:
                raise UserError(f"--{name} must be at least 1")
        for name in ("step_size", "noise", "temperature"):
            if getattr(args, name) is not None and not getattr(args, name) >= 0:
                raise UserError(f"--{name.replace('_', '-')} must be non-negative")
        if args.temperature == 0:
            raise UserError("--temperature must be positive")
        return cls(getattr(args, "rounds", 1), args.steps, args.step_size, args.noise, args.temperature)


def refine(run: TrainedRun, x0: torch.Tensor, y: torch.Tensor | None, chain: Chain, *,
           mask: torch.Tensor | None = None, seed: int = 0, generator: torch.Generator | None = None,
           batch: int = 1000) -> torch.Tensor:
    """Run `chain` from x0, in batches; with `mask`, only its True entries move.

    Pass a `generator` to continue one chain across calls (morph frames); else `seed` makes one.
    """
    sampler = chain.sampler(run)
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    finals = []
    for start in range(0, len(x0), batch):
        x = x0[start:start + batch]
        yb = None if y is None else y[start:start + batch]
        mb = None if mask is None else mask[start:start + batch]
        for _ in range(chain.rounds):
            x = sampler.sample(run.energy, x, yb, mask=mb, steps=chain.steps, generator=g).x
        finals.append(x)
    return torch.cat(finals)


def add_input_args(p) -> None:
    """--input/--split, --num, --labels, --seed: how the image commands take their inputs."""
    p.add_argument("run_dir", help="a trained run (from `igebm train` or `igebm demo`)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", metavar="FILE.npz",
                     help="npz with 'images' (N, C, H, W) float in [0, 1] and optional integer 'labels' (N,)")
    src.add_argument("--split", choices=["train", "test"], help="use the run's own dataset split")
    p.add_argument("--num", type=int, help="use only the first NUM images")
    p.add_argument("--labels", choices=["given", "infer"], help=LABELS_HELP)
    p.add_argument("--seed", type=int, default=0, help="seed for the chains' noise (and random masks)")


def add_chain_args(p, rounds: int | None, steps: int | None, start: str = "") -> None:
    """The task sampler's knobs; unset ones fall back to the run's sampler config.

    rounds=None: no --rounds flag, and --steps is the whole chain length.
    """
    run_steps = "the run's sampler.steps"
    if rounds is not None:
        p.add_argument("--rounds", type=int, default=rounds,
                       help=f"rounds of --steps Langevin steps {start} (default {rounds})".replace("  ", " "))
    p.add_argument("--steps", type=int, default=steps,
                   help=f"Langevin steps{' per round' if rounds is not None else ''} (default {steps or run_steps})")
    p.add_argument("--step-size", type=float, help="Langevin step size (default: the run's sampler.step_size)")
    p.add_argument("--noise", type=float,
                   help="std of the Langevin noise added each step (default: the run's sampler.noise_std)")
    p.add_argument("--temperature", type=float,
                   help="divide the energy by this; below 1 is greedier and less diverse "
                        "(default: the run's sampler.temperature)")
