"""Masks (which pixels to hide) and corruptions (how to damage an image), from short specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from igebm.errors import UserError

NAMED_MASKS = ("bottom-half", "top-half", "left-half", "right-half", "center-box")


MASK_HELP = ("which pixels to hide and fill in: bottom-half, top-half, left-half, right-half, center-box "
             "(the middle half in each direction), random:P (a fraction P of the pixels, drawn per image), "
             "or a mask file: .npy, or .npz (array 'mask' or its only array) of shape (H, W) or (C, H, W), "
             "nonzero = hidden; or a grayscale .png of size W x H, white = hidden")


CORRUPTION_HELP = ("salt-pepper:P (P/2 of the pixels set to 0.1 and P/2 to 0.9, as in the paper; P = 0.1 "
                   "when omitted), gaussian:SIGMA (additive noise, clipped to [0, 1]; SIGMA = 0.1 when "
                   "omitted), or box (a grey box over a quarter of each image, at a random place)")


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
