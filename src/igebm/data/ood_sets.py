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

from igebm.data.registry import DatasetSpec, get_dataset, load_split_from_root, names, register_dataset
from igebm.errors import UserError

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


def _interp(x: np.ndarray, n: int, rng) -> np.ndarray:
    """The pixel average of two different test images."""
    first = rng.integers(0, len(x), n)
    second = (first + rng.integers(1, max(len(x), 2), n)) % len(x)
    return (0.5 * (x[first] + x[second])).astype(np.float32)


def _rot90(x: np.ndarray, n: int, rng) -> np.ndarray:
    """Test images turned by 90 degrees (180 when not square, so the shape is kept)."""
    turns = 1 if x.shape[2] == x.shape[3] else 2
    return np.ascontiguousarray(np.rot90(x[rng.integers(0, len(x), n)], turns, axes=(2, 3)))


_GENERATORS = {
    "uniform": ("uniform noise in [0, 1]", lambda x, n, rng: rng.random((n, *x.shape[1:]), dtype=np.float32)),
    "gaussian": ("Gaussian noise around 0.5 (std 0.25), clipped",
                 lambda x, n, rng: np.clip(0.5 + 0.25 * rng.standard_normal((n, *x.shape[1:])), 0, 1)),
    "constant": ("one random grey level per image",
                 lambda x, n, rng: np.broadcast_to(rng.random((n, 1, 1, 1)), (n, *x.shape[1:])).copy()),
    "interp": ("average of two in-distribution test images", _interp),
    "inverted": ("in-distribution test images, inverted (1 - x)",
                 lambda x, n, rng: 1.0 - x[rng.integers(0, len(x), n)]),
    "rot90": ("in-distribution test images, rotated", _rot90),
    "shapes": ("rendered rectangles, ellipses and triangles", lambda x, n, rng: _render(_shape, n, x.shape[1:], rng)),
    "letters": ("rendered letters (Pillow's bundled font)", lambda x, n, rng: _render(_letter, n, x.shape[1:], rng)),
}
for _name, (_help, _make) in _GENERATORS.items():
    register_dataset(DatasetSpec(_name, "generated", _help, make=_make))
GENERATED = tuple(_GENERATORS)


def _on_disk() -> tuple[str, ...]:
    return tuple(n for n in names("data") if get_dataset(n).needs_root)


def _unknown(name: str) -> UserError:
    return UserError(f"unknown OOD set '{name}': choose from {', '.join(names('generated'))}, "
                     f"or KIND:PATH with KIND in {', '.join(_on_disk())}")


def make_ood_set(name: str, in_test: np.ndarray, n: int | None = None, seed: int = 0) -> np.ndarray:
    """An OOD set shaped like `in_test` (N, C, H, W); `name` is generated or `kind:PATH` on disk."""
    check_set_names([name])
    rng = np.random.default_rng(seed)
    n = n or len(in_test)
    shape = in_test.shape[1:]
    kind, _, path = name.partition(":")
    if path:
        square = shape[1] if shape[1] == shape[2] else 0  # folders of mixed sizes load at the run's size
        x = load_split_from_root(kind, path, "test", image_size=square).x
        return _resize(x[rng.permutation(len(x))[:n]], shape)
    return np.asarray(get_dataset(kind, "generated").make(in_test, n, rng), dtype=np.float32)


def check_set_names(names_: list[str]) -> None:
    for name in names_:
        kind, _, path = name.partition(":")
        if not (kind in GENERATED and not path) and not (kind in _on_disk() and path):
            raise _unknown(name)
