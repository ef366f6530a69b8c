"""Writers of tiny datasets in exactly the official on-disk formats.

Each writer fills a folder the way the official archive extracts and returns
what a loader should read back: uint8 images (N, C, H, W) and int64 class
labels, as a 2-tuple (train) that also carries the test split as
`.x_test` / `.y_test`. Labels are returned as class indices (e.g. SVHN's
stored 10 comes back as 0).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import shlex
import struct
from pathlib import Path

import numpy as np

CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_NAMES = tuple(f"class{i:02d}" for i in range(100))


class Written(tuple):
    """(train images, train labels) with the test split attached as .x_test / .y_test."""

    def __new__(cls, x, y, x_test, y_test):
        self = super().__new__(cls, (x, y))
        self.x_test, self.y_test = x_test, y_test
        return self


def _images(rng, n, c=3, h=32, w=32):
    return rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)


class _Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 `str` (BINSTRING), as the original CIFAR pickles were made."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def _dump(obj, path: Path, py2: bool) -> None:
    if py2:
        buf = io.BytesIO()
        _Py2Pickler(buf, protocol=2).dump(obj)
        # Python 2 era numpy named its module numpy.core (GLOBAL opcode: 'c' module '\n' name '\n').
        path.write_bytes(buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    else:
        path.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


# ---------------------------------------------------------------- CIFAR-10

def _cifar10_arrays(n_per_batch, batches, n_test, seed):
    rng = np.random.default_rng(seed)
    train = [(_images(rng, n_per_batch), rng.integers(0, 10, n_per_batch)) for _ in range(batches)]
    return train, (_images(rng, n_test), rng.integers(0, 10, n_test))


def _written(train, test) -> Written:
    return Written(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]).astype(np.int64),
                   test[0], test[1].astype(np.int64))


def write_cifar10_binary(dir: Path, n_per_batch: int = 4, batches: int = 2, n_test: int = 3,
                         seed: int = 0) -> Written:
    """data_batch_1..k.bin + test_batch.bin: records of 1 label byte + 3072 pixel bytes (R, G, B planes)."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    train, test = _cifar10_arrays(n_per_batch, batches, n_test, seed)
    for name, (x, y) in [(f"data_batch_{i + 1}.bin", b) for i, b in enumerate(train)] + [("test_batch.bin", test)]:
        records = np.concatenate([y.astype(np.uint8)[:, None], x.reshape(len(x), -1)], axis=1)
        (dir / name).write_bytes(records.tobytes())
    (dir / "batches.meta.txt").write_text("\n".join(CIFAR10_NAMES) + "\n\n")
    return _written(train, test)


def write_cifar10_python(dir: Path, n_per_batch: int = 4, batches: int = 2, n_test: int = 3,
                         seed: int = 0, py2: bool = True) -> Written:
    """data_batch_1..k + test_batch + batches.meta pickles; py2=True mimics the original Python 2 files."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    train, test = _cifar10_arrays(n_per_batch, batches, n_test, seed)
    batches_out = [(f"data_batch_{i + 1}", f"training batch {i + 1} of 5", b) for i, b in enumerate(train)]
    for name, label, (x, y) in batches_out + [("test_batch", "testing batch 1 of 1", test)]:
        _dump({b"batch_label": label.encode(), b"labels": [int(v) for v in y],
               b"data": x.reshape(len(x), -1), b"filenames": [f"img_{i}.png".encode() for i in range(len(x))]},
              dir / name, py2)
    _dump({b"num_cases_per_batch": n_per_batch, b"label_names": [n.encode() for n in CIFAR10_NAMES],
           b"num_vis": 3072}, dir / "batches.meta", py2)
    return _written(train, test)


# ---------------------------------------------------------------- CIFAR-100

def _cifar100_arrays(n, n_test, seed):
    rng = np.random.default_rng(seed)
    return [(_images(rng, k), rng.integers(0, 100, k)) for k in (n, n_test)]


def write_cifar100_binary(dir: Path, n: int = 6, n_test: int = 3, seed: int = 0) -> Written:
    """train.bin + test.bin: records of coarse label byte, fine label byte, 3072 pixel bytes."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    train, test = _cifar100_arrays(n, n_test, seed)
    for name, (x, y) in (("train.bin", train), ("test.bin", test)):
        labels = np.stack([y // 5, y], axis=1).astype(np.uint8)  # coarse (arbitrary here), fine
        (dir / name).write_bytes(np.concatenate([labels, x.reshape(len(x), -1)], axis=1).tobytes())
    (dir / "fine_label_names.txt").write_text("\n".join(CIFAR100_NAMES) + "\n")
    (dir / "coarse_label_names.txt").write_text("\n".join(f"super{i:02d}" for i in range(20)) + "\n")
    return _written([train], test)


def write_cifar100_python(dir: Path, n: int = 6, n_test: int = 3, seed: int = 0, py2: bool = True) -> Written:
    """train + test + meta pickles with fine_labels and coarse_labels."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    train, test = _cifar100_arrays(n, n_test, seed)
    for name, (x, y) in (("train", train), ("test", test)):
        _dump({b"filenames": [f"img_{i}.png".encode() for i in range(len(x))], b"batch_label": name.encode(),
               b"fine_labels": [int(v) for v in y], b"coarse_labels": [int(v) // 5 for v in y],
               b"data": x.reshape(len(x), -1)}, dir / name, py2)
    _dump({b"fine_label_names": [s.encode() for s in CIFAR100_NAMES],
           b"coarse_label_names": [f"super{i:02d}".encode() for i in range(20)]}, dir / "meta", py2)
    return _written([train], test)


# ---------------------------------------------------------------- SVHN

def write_svhn_mat(dir: Path, n: int = 5, n_test: int = 3, seed: int = 0) -> Written:
    """train_32x32.mat / test_32x32.mat: X uint8 (32, 32, 3, N), y (N, 1) in 1..10 (10 = digit 0)."""
    from scipy.io import savemat

    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for name, k in (("train_32x32.mat", n), ("test_32x32.mat", n_test)):
        x = _images(rng, k)
        digits = rng.integers(0, 10, k)
        digits[0] = 0  # always exercise the 10 -> 0 mapping
        savemat(dir / name, {"X": x.transpose(2, 3, 1, 0), "y": np.where(digits == 0, 10, digits)[:, None].astype(np.uint8)})
        out.append((x, digits.astype(np.int64)))
    return Written(*out[0], *out[1])


# ---------------------------------------------------------------- MNIST

def _idx_bytes(a: np.ndarray) -> bytes:
    """idx format: 0, 0, dtype code (0x08 = ubyte), ndim, then big-endian uint32 sizes and the data."""
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(np.uint8).tobytes()


def write_mnist_idx(dir: Path, n: int = 5, gz: bool = False, n_test: int = 3, seed: int = 0) -> Written:
    """train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-... (with .gz when gz=True)."""
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for prefix, k in (("train", n), ("t10k", n_test)):
        x, y = _images(rng, k, 1, 28, 28), rng.integers(0, 10, k)
        for name, arr in ((f"{prefix}-images-idx3-ubyte", x[:, 0]), (f"{prefix}-labels-idx1-ubyte", y)):
            data = _idx_bytes(arr)
            if gz:
                (dir / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (dir / name).write_bytes(data)
        out.append((x, y.astype(np.int64)))
    return Written(*out[0], *out[1])


# ---------------------------------------------------------------- image folders

def write_image_folder(dir: Path, n_per_class: int = 2, classes=("cat", "dog", "frog"), size=(8, 6),
                       splits=("train", "test"), mode: str = "RGB", seed: int = 0) -> Written:
    """PNGs at dir/<split>/<class>/NNN.png (dir/<class>/ when splits is empty); size is PIL's (width, height).

    Returned in loader order: classes sorted, files sorted. Without splits the
    test arrays equal the train arrays (the same images serve both).
    """
    from PIL import Image

    dir = Path(dir)
    rng = np.random.default_rng(seed)
    channels = 1 if mode == "L" else 3
    out = []
    for split in splits or (None,):
        xs, ys = [], []
        for label, c in enumerate(sorted(classes)):
            folder = dir / split / c if split else dir / c
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                x = _images(rng, 1, channels, size[1], size[0])[0]
                Image.fromarray(x[0] if mode == "L" else x.transpose(1, 2, 0)).save(folder / f"{i:03d}.png")
                xs.append(x)
                ys.append(label)
        out.append((np.stack(xs), np.array(ys, dtype=np.int64)))
    return Written(*out[0], *out[-1])


# ---------------------------------------------------------------- malicious pickle

class _Evil:
    def __init__(self, marker: Path, via: str):
        self.marker, self.via = marker, via

    def __reduce__(self):
        if self.via == "os.system":
            return os.system, (f"touch {shlex.quote(str(self.marker))}",)
        return eval, (f"open({str(self.marker)!r}, 'w').close()",)


def write_malicious_pickle(path: Path, via: str = "eval") -> Path:
    """A CIFAR-looking pickle whose loading would create a marker file via eval or os.system.

    Returns the marker path; a safe loader refuses the file and the marker never appears.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = path.with_name(path.name + ".pwned")
    path.write_bytes(pickle.dumps({b"data": _Evil(marker, via), b"labels": [0]}, protocol=2))
    return marker
