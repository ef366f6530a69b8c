"""Out-of-distribution sets, generated with a fixed seed or read from disk.

Generated sets take the in-distribution test images as a template (shape,
count), so they work for any image dataset, not only the digits. On-disk
sets are written `svhn:PATH`, `cifar100:PATH`, `cifar10:PATH`, `mnist:PATH` or
`folder:PATH` and are resized and converted to the run's image shape.
Every set is drawn from `numpy.random.default_rng(seed)`, so a seed gives the
same images on every machine.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from igebm.errors import UserError

GENERATED = ("uniform", "gaussian", "constant", "interp", "inverted", "rot90", "shapes", "letters")
ON_DISK = ("svhn", "cifar10", "cifar100", "mnist", "folder")
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabdefghkmnpqrtwxyz"


def _resize(images: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Convert (N, C', H', W') in [0, 1] to the run's (C, H, W): grey <-> RGB, bilinear resize."""
    c, h, w = shape
    if images.shape[1] != c:
        images = images.mean(1, keepdims=True) if c == 1 else np.repeat(images[:, :1], c, axis=1)
    if images.shape[2:] == (h, w):
        return images.astype(np.float32)
    out = np.empty((len(images), c, h, w), np.float32)
    for i, img in enumerate(images):
        for k in range(c):
            pil = Image.fromarray((img[k] * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR)
            out[i, k] = np.asarray(pil, np.float32) / 255
    return out


def _render(draw_fn, n: int, shape, rng, scale: int = 4) -> np.ndarray:
    c, h, w = shape
    out = np.empty((n, 1, h, w), np.float32)
    for i in range(n):
        img = Image.new("L", (w * scale, h * scale), 0)
        draw_fn(ImageDraw.Draw(img), w * scale, h * scale, rng)
        out[i, 0] = np.asarray(img.resize((w, h), Image.BILINEAR), np.float32) / 255
    return _resize(out, shape)


def _shape(draw: ImageDraw.ImageDraw, w: int, h: int, rng) -> None:
    kind = rng.integers(3)
    cx, cy, r = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h, rng.uniform(0.2, 0.4) * min(w, h)
    box = [cx - r, cy - r, cx + r, cy + r]
    width = max(1, int(rng.uniform(0.06, 0.15) * w))
    if kind == 0:
        draw.ellipse(box, outline=255, width=width)
    elif kind == 1:
        draw.rectangle(box, outline=255, width=width)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], outline=255, width=width)


def _letter(draw: ImageDraw.ImageDraw, w: int, h: int, rng) -> None:
    font = ImageFont.load_default(size=int(0.9 * h))
    ch = LETTERS[rng.integers(len(LETTERS))]
    box = draw.textbbox((0, 0), ch, font=font)
    x = (w - (box[2] - box[0])) / 2 - box[0]
    y = (h - (box[3] - box[1])) / 2 - box[1]
    draw.text((x, y), ch, fill=255, font=font)


def make_ood_set(name: str, in_test: np.ndarray, n: int | None = None, seed: int = 0) -> np.ndarray:
    """An OOD set shaped like `in_test` (N, C, H, W); `name` is generated or `kind:PATH` on disk."""
    rng = np.random.default_rng(seed)
    n = n or len(in_test)
    shape = in_test.shape[1:]
    kind, _, path = name.partition(":")
    if kind in ON_DISK and path:
        from igebm.data import formats
        square = shape[1] if shape[1] == shape[2] else None  # folders of mixed sizes load at the run's size
        loaders = {"svhn": lambda: formats.load_svhn(path, "test"),
                   "cifar10": lambda: formats.load_cifar(path, "test", num_classes=10),
                   "cifar100": lambda: formats.load_cifar(path, "test", num_classes=100),
                   "mnist": lambda: formats.load_mnist(path, "test"),
                   "folder": lambda: formats.load_image_folder(path, "test", size=square)}
        x = loaders[kind]().x
        return _resize(x[rng.permutation(len(x))[:n]], shape)
    if kind == "uniform":
        return rng.random((n, *shape), dtype=np.float32)
    if kind == "gaussian":
        return np.clip(0.5 + 0.25 * rng.standard_normal((n, *shape)), 0, 1).astype(np.float32)
    if kind == "constant":
        return np.broadcast_to(rng.random((n, 1, 1, 1)), (n, *shape)).astype(np.float32).copy()
    pick = lambda: in_test[rng.integers(0, len(in_test), n)]  # noqa: E731
    if kind == "interp":  # two different test images per pair
        first = rng.integers(0, len(in_test), n)
        second = (first + rng.integers(1, max(len(in_test), 2), n)) % len(in_test)
        return (0.5 * (in_test[first] + in_test[second])).astype(np.float32)
    if kind == "inverted":
        return (1.0 - pick()).astype(np.float32)
    if kind == "rot90":  # non-square images turn by 180 degrees so the shape is kept
        turns = 1 if shape[1] == shape[2] else 2
        return np.ascontiguousarray(np.rot90(pick(), turns, axes=(2, 3)))
    if kind == "shapes":
        return _render(_shape, n, shape, rng)
    if kind == "letters":
        return _render(_letter, n, shape, rng)
    raise UserError(f"unknown OOD set '{name}': choose from {', '.join(GENERATED)}, "
                    f"or KIND:PATH with KIND in {', '.join(ON_DISK)}")


def check_set_names(names: list[str]) -> None:
    for name in names:
        kind, _, path = name.partition(":")
        if not (kind in GENERATED and not path) and not (kind in ON_DISK and path):
            raise UserError(f"unknown OOD set '{name}': choose from {', '.join(GENERATED)}, "
                            f"or KIND:PATH with KIND in {', '.join(ON_DISK)}")
