"""Inputs of the image tasks: images (and labels) from an npz file or a split of the run's data, checked."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from igebm.errors import UserError
from igebm.training.run import TrainedRun

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
    x = _array(npz, "images", path)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)) or x.ndim < 2:
        raise UserError(f"'{path}': 'images' must be a numeric array of shape (N, C, H, W), "
                        f"found {x.dtype} of shape {x.shape}")
    x = x.astype(np.float32)
    if x.ndim == 3 and len(shape) == 3 and shape[0] == 1:
        x = x[:, None]  # (N, H, W) grayscale
    if tuple(x.shape[1:]) != tuple(shape) or len(x) == 0:
        raise UserError(f"'{path}' holds images of shape {tuple(x.shape[1:])} (N = {len(x)}), but the run's "
                        f"model takes (N, {', '.join(map(str, shape))}) with N >= 1")
    if not np.isfinite(x).all():
        raise UserError(f"'{path}': images must be finite numbers in [0, 1] (found NaN or inf)")
    if x.min() < 0 or x.max() > 1:
        raise UserError(f"'{path}': images must be finite and in [0, 1] (found {np.nanmin(x):.3g}..{np.nanmax(x):.3g})")
    y = None
    if "labels" in files:
        y = _array(npz, "labels", path).reshape(-1)
        if len(y) != len(x):
            raise UserError(f"'{path}' has {len(x)} images but {len(y)} labels")
        if not np.issubdtype(y.dtype, np.integer):
            raise UserError(f"'{path}': labels must be integers (found {y.dtype})")
        y = None if (y == -1).all() else y.astype(np.int64)  # `igebm sample` writes -1 when unconditional
    return x, y


def _array(npz, key: str, path: Path) -> np.ndarray:
    try:
        return np.asarray(npz[key])
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # object arrays, a damaged member
        raise UserError(f"'{path}': cannot read '{key}' ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None


def check_labels(run: TrainedRun, y: np.ndarray, what: str) -> np.ndarray:
    """Labels must name one of the run's classes."""
    k = run.num_classes
    if k and ((y < 0) | (y >= k)).any():
        bad = y[(y < 0) | (y >= k)][0]
        raise UserError(f"{what}: class label {bad} is out of range; the run has classes 0..{k - 1}")
    return y
