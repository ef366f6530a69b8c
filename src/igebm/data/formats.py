"""Readers for the standard on-disk dataset formats (CIFAR, SVHN, MNIST, image folders).

No network and no torchvision: the user downloads and extracts the official
archives, these functions parse them. Anything missing or malformed becomes a
one-line `UserError` that says what is wrong and how to fix it.
"""

from __future__ import annotations

import builtins
import codecs
import gzip
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from igebm.data.base import ArrayDataset
from igebm.data.registry import DatasetSpec, register_dataset
from igebm.errors import UserError

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray, numeric as _numeric
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray, numeric as _numeric

SPLITS = ("train", "test")

# ---------------------------------------------------------------- pickles

# Everything a pickle of plain numpy arrays inside builtin containers can name.
# Lists, dicts, tuples, str, bytes, numbers need no global at all; the rest is refused.
_SAFE_GLOBALS = {
    **{(mod, "_reconstruct"): _multiarray._reconstruct
       for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "scalar"): _multiarray.scalar for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "_frombuffer"): _numeric._frombuffer for mod in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how Python 3 stores bytes at protocol < 3
    **{(mod, name): getattr(builtins, name)
       for mod in ("builtins", "__builtin__") for name in ("set", "frozenset", "bytearray", "complex")},
}


class _NdarrayName:
    """Stands in for numpy.ndarray in a pickle: `_reconstruct` takes it, calling it is refused."""

    def __new__(cls, *args, **kwargs):
        raise UserError("refusing to unpickle a direct numpy.ndarray(...) call: it can allocate any size")


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild arrays: a pickle can otherwise run any code.

    The globals it admits are wrapped so that none can allocate more than the pickle's own size
    (a 40-byte pickle could otherwise ask for `bytearray(10**13)`), `_codecs.encode` only turns a
    str into latin-1 bytes (what Python 3 writes for bytes at protocol < 3), and `complex` takes
    only numbers. Every refusal is a one-line UserError.
    """

    def __init__(self, file, *, encoding: str, source: str, budget: int):
        super().__init__(file, encoding=encoding)
        self.source = source
        self.budget = budget  # bytes any one allocation may ask for: the pickle's own size

    def _refuse(self, what: str):
        raise UserError(f"refusing to unpickle {self.source}: {what}; the CIFAR python format only holds "
                        "arrays, so the file is corrupt or malicious")

    def _bounded(self, nbytes: int, what: str) -> None:
        if nbytes > self.budget:
            self._refuse(f"it asks for a {what} of {nbytes:,} bytes, more than the file's {self.budget:,}")

    def _bytearray(self, *args):
        if args and isinstance(args[0], int):
            self._bounded(args[0], "bytearray")
        if len(args) > 1:  # bytearray(str, encoding): a codec call
            self._refuse("bytearray() with an encoding")
        return bytearray(*args)

    def _encode(self, obj, encoding="utf-8", errors="strict"):
        if not isinstance(obj, str) or str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1"):
            self._refuse(f"_codecs.encode with {str(encoding)[:40]!r} (only latin-1 text is ever needed)")
        return codecs.encode(obj, "latin1")

    def _complex(self, real=0.0, imag=0.0):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (real, imag)):
            self._refuse("complex() of something other than numbers")
        try:
            return complex(real, imag)
        except OverflowError:
            self._refuse("complex() of a number too large for a float")

    def _reconstruct(self, subtype, shape, dtype, *rest):
        try:
            n = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
        except (TypeError, ValueError):
            self._refuse(f"an array of shape {str(shape)[:40]}")
        self._bounded(n, "array")
        return _multiarray._reconstruct(np.ndarray if subtype is _NdarrayName else subtype, shape, dtype, *rest)

    def find_class(self, module: str, name: str):
        if (module, name) == ("numpy", "ndarray"):
            return _NdarrayName
        if name == "_reconstruct" and (module, name) in _SAFE_GLOBALS:
            return self._reconstruct
        wrapped = {"bytearray": self._bytearray, "complex": self._complex}
        if module in ("builtins", "__builtin__") and name in wrapped:
            return wrapped[name]
        if (module, name) == ("_codecs", "encode"):
            return self._encode
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise UserError(f"refusing to unpickle {module}.{name} from {self.source}: the CIFAR python "
                            "format only holds arrays; the file may be malicious") from None


def restricted_loads(data: bytes, encoding: str = "latin1", source: str = "<bytes>"):
    """pickle.loads limited to numpy arrays and builtin containers.

    latin1 is what numpy needs to read arrays pickled by Python 2 (as CIFAR's are).
    """
    budget = max(len(data), 1 << 16)
    try:
        return _ArrayOnlyUnpickler(io.BytesIO(data), encoding=encoding, source=source, budget=budget).load()
    except UserError:
        raise
    except MemoryError:
        raise UserError(f"refusing to unpickle {source}: it asks for more memory than there is; "
                        "the file is corrupt or malicious") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            LookupError, OverflowError, RecursionError, UnicodeError, struct.error) as e:
        raise UserError(f"cannot unpickle {source} ({type(e).__name__}: {e}): the file is truncated or "
                        "corrupt; download and extract it again") from None


# ---------------------------------------------------------------- helpers

def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}: use 'train' or 'test'")


def _existing_dir(root, what: str, hint: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"{what} folder not found: '{root}' ({hint})")
    return root


def _dataset(x_uint8: np.ndarray, y, num_classes: int, name: str, class_names=()) -> ArrayDataset:
    return ArrayDataset(x_uint8.astype(np.float32) / 255.0, np.asarray(y, dtype=np.int64), num_classes,
                        name, levels=256, class_names=tuple(class_names))


def _check_labels(y: np.ndarray, num_classes: int, source) -> None:
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise UserError(f"labels in {source} lie outside 0..{num_classes - 1} "
                        f"(found {y.min()}..{y.max()}): wrong dataset or corrupt file")


def _key(d: dict, name: str):
    """d[name] whether the pickle was read with str keys (latin1) or bytes keys."""
    for k in (name, name.encode()):
        if k in d:
            return d[k]
    raise KeyError(name)


# ---------------------------------------------------------------- CIFAR

@dataclass(frozen=True)
class _CifarSpec:
    name: str
    subdirs: tuple[str, str]  # (binary, python) folder names inside the official archives
    files: dict  # split -> batch file stems
    label_bytes: int  # binary records: label bytes before the 3072 pixels (fine label is the last)
    labels_key: str
    meta_py: str
    names_key: str
    meta_txt: str
    archives: str


_CIFAR = {
    10: _CifarSpec("CIFAR-10", ("cifar-10-batches-bin", "cifar-10-batches-py"),
                   {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
                   1, "labels", "batches.meta", "label_names", "batches.meta.txt",
                   "cifar-10-binary.tar.gz or cifar-10-python.tar.gz"),
    100: _CifarSpec("CIFAR-100", ("cifar-100-binary", "cifar-100-python"),
                    {"train": ["train"], "test": ["test"]},
                    2, "fine_labels", "meta", "fine_label_names", "fine_label_names.txt",
                    "cifar-100-binary.tar.gz or cifar-100-python.tar.gz"),
}
_CIFAR_PIXELS = 3 * 32 * 32


def _find_cifar(root: Path, spec: _CifarSpec) -> tuple[Path, bool]:
    """(folder, is_binary) for `root` itself or the official sub-folder inside it."""
    stems = spec.files["train"] + spec.files["test"]
    for folder in (root, root / spec.subdirs[0], root / spec.subdirs[1]):
        if any((folder / f"{s}.bin").is_file() for s in stems):
            return folder, True
        if any((folder / s).is_file() for s in stems):
            return folder, False
    raise UserError(f"{spec.name} not found in '{root}': expected {stems[0]}.bin ... or {stems[0]} ... "
                    f"there or in {spec.subdirs[0]}/ or {spec.subdirs[1]}/ "
                    f"(download {spec.archives} and extract it)")


def _read_cifar_binary(path: Path, spec: _CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    record = spec.label_bytes + _CIFAR_PIXELS
    if raw.size == 0 or raw.size % record:
        raise UserError(f"'{path}' is truncated or not a {spec.name} binary batch: {raw.size} bytes is not "
                        f"a multiple of the {record}-byte record (download and extract it again)")
    records = raw.reshape(-1, record)
    return records[:, spec.label_bytes:].reshape(-1, 3, 32, 32), records[:, spec.label_bytes - 1]


def _read_cifar_python(path: Path, spec: _CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    batch = restricted_loads(path.read_bytes(), source=f"'{path}'")
    try:
        data = np.asarray(_key(batch, "data"))
        labels = np.asarray(_key(batch, spec.labels_key), dtype=np.int64).reshape(-1)
    except (KeyError, TypeError, ValueError):
        raise UserError(f"'{path}' is not a {spec.name} python batch: expected a dict with 'data' and "
                        f"'{spec.labels_key}' (download and extract {spec.archives} again)") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _CIFAR_PIXELS or len(data) != len(labels):
        raise UserError(f"'{path}' is not a {spec.name} python batch: data is {data.dtype} {data.shape} with "
                        f"{len(labels)} labels, expected uint8 (N, 3072) (download and extract it again)")
    return data.reshape(-1, 3, 32, 32), labels


def _cifar_class_names(folder: Path, spec: _CifarSpec, binary: bool, num_classes: int) -> tuple[str, ...]:
    if binary:
        path = folder / spec.meta_txt
        names = [line.strip() for line in path.read_text().splitlines()] if path.is_file() else []
        names = [n for n in names if n]
    else:
        path = folder / spec.meta_py
        names = []
        if path.is_file():
            meta = restricted_loads(path.read_bytes(), source=f"'{path}'")
            try:
                names = [n.decode() if isinstance(n, bytes) else str(n) for n in _key(meta, spec.names_key)]
            except (KeyError, TypeError):
                names = []
    return tuple(names) if len(names) == num_classes else ()


def load_cifar(root, split: str, num_classes: int = 10) -> ArrayDataset:
    """CIFAR-10/100 as (N, 3, 32, 32) in [0, 1] from the binary or python release, auto-detected.

    `root` may be the extracted batch folder or the folder that contains it.
    Any subset of the training batches is accepted (e.g. only data_batch_1).
    """
    _check_split(split)
    if num_classes not in _CIFAR:
        raise UserError(f"CIFAR has 10 or 100 classes, got num_classes={num_classes!r}: use 10 or 100")
    spec = _CIFAR[num_classes]
    root = _existing_dir(root, spec.name, f"check the path, or download {spec.archives} and extract it")
    folder, binary = _find_cifar(root, spec)
    paths = [folder / (f"{s}.bin" if binary else s) for s in spec.files[split]]
    paths = [p for p in paths if p.is_file()]
    if not paths:
        expected = spec.files[split][0] + (".bin" if binary else "")
        raise UserError(f"{spec.name} {split} split missing in '{folder}': expected {expected} "
                        f"(extract the whole {spec.archives} archive)")
    read = _read_cifar_binary if binary else _read_cifar_python
    parts = [read(p, spec) for p in paths]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts]).astype(np.int64)
    _check_labels(y, num_classes, f"'{folder}'")
    return _dataset(x, y, num_classes, f"cifar{num_classes}",
                    _cifar_class_names(folder, spec, binary, num_classes))


# ---------------------------------------------------------------- SVHN

def load_svhn(root, split: str) -> ArrayDataset:
    """SVHN cropped digits (train_32x32.mat / test_32x32.mat); label 10 in the file means digit 0."""
    from scipy.io import loadmat

    _check_split(split)
    hint = f"download {split}_32x32.mat from http://ufldl.stanford.edu/housenumbers/ into it"
    root = _existing_dir(root, "SVHN", hint)
    path = root / f"{split}_32x32.mat"
    if not path.is_file():
        raise UserError(f"SVHN {split} file not found: '{path}' ({hint})")
    try:
        mat = loadmat(path)
        x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    except (KeyError, ValueError, OSError, TypeError, NotImplementedError) as e:
        raise UserError(f"cannot read '{path}' as an SVHN .mat file with X and y ({type(e).__name__}: {e}): "
                        "download it again") from None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[2] != 3 or x.shape[3] != len(y):
        raise UserError(f"'{path}' is not SVHN: X is {x.dtype} {x.shape} with {len(y)} labels, expected "
                        "uint8 (32, 32, 3, N) (download it again)")
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise UserError(f"labels in '{path}' lie outside SVHN's 1..10 (found {y.min()}..{y.max()}): "
                        "wrong or corrupt file, download it again")
    return _dataset(x.transpose(3, 2, 0, 1), y % 10, 10, "svhn", tuple(str(i) for i in range(10)))


# ---------------------------------------------------------------- MNIST

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """One idx file (optionally gzipped): magic 0 0 <dtype> <ndim>, ndim big-endian sizes, data."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read '{path}' ({e}): the file is truncated or corrupt; download it again") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES:
        raise UserError(f"'{path}' is not an idx file (bad magic number {data[:4].hex()}): "
                        "use the original MNIST idx files")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"'{path}' is truncated inside its idx header: download it again")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise UserError(f"'{path}' holds {len(data) - header} data bytes but its header {dims} needs {expected}: "
                        "the file is truncated or corrupt; download it again")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def _find_idx(root: Path, prefix: str, kind: str) -> Path:
    rank = 3 if kind == "images" else 1
    names = [f"{prefix}-{kind}-idx{rank}-ubyte", f"{prefix}-{kind}.idx{rank}-ubyte"]
    for folder in (root, root / "raw", root / "MNIST" / "raw"):
        for name in names:
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
    raise UserError(f"MNIST file {names[0]} (or .gz) not found in '{root}': download it from "
                    "the MNIST site and put it there (gzipped or not)")


def load_mnist(root, split: str) -> ArrayDataset:
    """MNIST (or any idx dataset with 10 classes, e.g. Fashion-MNIST) as (N, 1, 28, 28) in [0, 1]."""
    _check_split(split)
    root = _existing_dir(root, "MNIST", "check the path, or download the four idx files into it")
    prefix = "train" if split == "train" else "t10k"
    images_path, labels_path = _find_idx(root, prefix, "images"), _find_idx(root, prefix, "labels")
    x, y = read_idx(images_path), read_idx(labels_path)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise UserError(f"'{images_path}' holds {x.dtype} {x.shape}, expected uint8 images (N, H, W)")
    if y.ndim != 1 or len(y) != len(x):
        raise UserError(f"'{labels_path}' holds labels of shape {y.shape} for {len(x)} images: "
                        "the image and label files do not belong together")
    y = y.astype(np.int64)
    _check_labels(y, 10, f"'{labels_path}'")
    return _dataset(x[:, None], y, 10, "mnist")


# ---------------------------------------------------------------- image folders

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_GRAY_MODES = ("1", "L", "LA")


def _subdirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_in(base: Path, classes: list[str]) -> list[tuple[Path, int]]:
    return [(f, label) for label, c in enumerate(classes) if (base / c).is_dir()
            for f in sorted((base / c).iterdir())
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode, im.size
    except OSError as e:
        raise UserError(f"cannot read image '{path}' ({e}): remove or replace the file") from None


def load_image_folder(root, split: str, size: int | None = None) -> ArrayDataset:
    """root/<split>/<class>/*.png|jpg (or root/<class>/* used for every split), classes sorted.

    Classes come from all split folders together so labels agree between train
    and test; images are L if every image is grayscale else RGB, chosen over all
    splits for the same reason.
    """
    from PIL import Image

    _check_split(split)
    layout = "root/<split>/<class>/*.png or root/<class>/*.png"
    root = _existing_dir(root, "image", f"check the path; expected {layout}")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise UserError(f"image size must be a positive integer, got {size!r}")
    split_dirs = [root / s for s in SPLITS if (root / s).is_dir()]
    if split_dirs and not (root / split).is_dir():
        raise UserError(f"no '{split}' folder in '{root}' although it has split folders: "
                        f"create {root / split}/<class>/ or drop the split folders")
    bases = split_dirs or [root]
    classes = sorted({c for b in bases for c in _subdirs(b)})
    if not classes:
        raise UserError(f"no class folders in '{root}': expected {layout}")
    files = {b: _images_in(b, classes) for b in bases}
    base = root / split if split_dirs else root
    if not files[base]:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders of '{base}': "
                        f"expected {layout}")
    headers = {f: _header(f) for fs in files.values() for f, _ in fs}
    mode = "L" if all(m in _GRAY_MODES for m, _ in headers.values()) else "RGB"
    if size is None:
        sizes = {s: f for f, (_, s) in headers.items()}
        if len(sizes) > 1:
            (s1, f1), (s2, f2) = list(sizes.items())[:2]
            raise UserError(f"images differ in size ({s1[0]}x{s1[1]} '{f1}', {s2[0]}x{s2[1]} '{f2}'): "
                            "pass a size to resize them all to size x size")
    pixels = []
    for f, _ in files[base]:
        try:
            with Image.open(f) as im:
                im = im.convert(mode)
        except OSError as e:
            raise UserError(f"cannot read image '{f}' ({e}): remove or replace the file") from None
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.BICUBIC)
        pixels.append(np.asarray(im, dtype=np.uint8))
    x = np.stack(pixels)
    x = x[:, None] if mode == "L" else x.transpose(0, 3, 1, 2)
    y = [label for _, label in files[base]]
    return _dataset(x, y, len(classes), "imagefolder", classes)


for _name, _help, _loader in (
        ("cifar10", "CIFAR-10, binary or python version", lambda cfg, split: load_cifar(cfg.root, split, num_classes=10)),
        ("cifar100", "CIFAR-100, binary or python version", lambda cfg, split: load_cifar(cfg.root, split, num_classes=100)),
        ("svhn", "SVHN cropped digits (*_32x32.mat)", lambda cfg, split: load_svhn(cfg.root, split)),
        ("mnist", "MNIST-style idx files, optionally gzipped", lambda cfg, split: load_mnist(cfg.root, split)),
        ("folder", "images in root/[train|test]/<class>/",
         lambda cfg, split: load_image_folder(cfg.root, split, size=cfg.image_size or None))):
    register_dataset(DatasetSpec(_name, "data", _help, load=lambda cfg, split, seed, f=_loader: f(cfg, split),
                                 keys=("root", "image_size") if _name == "folder" else ("root",), needs_root=True))
