"""On-disk dataset readers and 2-D toys, checked against tiny files in the official formats."""

from __future__ import annotations

import gzip
import pickle
import pickletools

import numpy as np
import pytest
from formats_fixtures import (write_cifar10_binary, write_cifar10_python, write_cifar100_binary,
                              write_cifar100_python, write_image_folder, write_malicious_pickle,
                              write_mnist_idx, write_svhn_mat)

from igebm.data.formats import (load_cifar, load_image_folder, load_mnist, load_svhn, read_idx,
                                restricted_loads)
from igebm.data.toy2d import TOY_KINDS, load_toy2d, sample_toy
from igebm.errors import UserError


def as_uint8(ds) -> np.ndarray:
    pixels = np.round(ds.x * 255)
    assert np.allclose(ds.x * 255, pixels, atol=1e-3), "pixels are not k/255"
    return pixels.astype(np.uint8)


def assert_loaded(ds, x, y, *, num_classes):
    assert ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.x.shape == x.shape and ds.levels == 256 and ds.num_classes == num_classes
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0
    np.testing.assert_array_equal(as_uint8(ds), x)
    np.testing.assert_array_equal(ds.y, y)


# ---------------------------------------------------------------- CIFAR

CIFAR_WRITERS = {
    "10-binary": (write_cifar10_binary, 10, "cifar-10-batches-bin"),
    "10-python-py2": (write_cifar10_python, 10, "cifar-10-batches-py"),
    "10-python-py3": (lambda d: write_cifar10_python(d, py2=False), 10, "cifar-10-batches-py"),
    "100-binary": (write_cifar100_binary, 100, "cifar-100-binary"),
    "100-python-py2": (write_cifar100_python, 100, "cifar-100-python"),
    "100-python-py3": (lambda d: write_cifar100_python(d, py2=False), 100, "cifar-100-python"),
}


@pytest.mark.parametrize("variant", CIFAR_WRITERS)
def test_cifar_reads_both_splits_exactly(tmp_path, variant):
    write, k, _ = CIFAR_WRITERS[variant]
    w = write(tmp_path)
    train, test = load_cifar(tmp_path, "train", k), load_cifar(tmp_path, "test", k)
    assert_loaded(train, w[0], w[1], num_classes=k)
    assert_loaded(test, w.x_test, w.y_test, num_classes=k)
    assert train.shape == (3, 32, 32) and train.data_range == (0.0, 1.0)
    assert len(train.class_names) == k and train.class_names[0] in ("airplane", "class00")


@pytest.mark.parametrize("variant", CIFAR_WRITERS)
def test_cifar_found_from_parent_folder(tmp_path, variant):
    write, k, subdir = CIFAR_WRITERS[variant]
    w = write(tmp_path / subdir)
    assert_loaded(load_cifar(tmp_path, "train", k), w[0], w[1], num_classes=k)


def test_cifar_py2_fixture_is_a_python2_pickle(tmp_path):
    """The fixture must look like the original files: bytes stored as Py2 str, no _codecs calls."""
    write_cifar10_python(tmp_path)
    ops = list(pickletools.genops((tmp_path / "data_batch_1").read_bytes()))
    names = {op.name for op, _, _ in ops}
    assert "BINSTRING" in names and "SHORT_BINSTRING" in names and "BINBYTES" not in names
    globals_ = {arg for op, arg, _ in ops if op.name == "GLOBAL"}
    assert globals_ == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}


def test_cifar_partial_training_batches(tmp_path):
    w = write_cifar10_binary(tmp_path, n_per_batch=5, batches=1)
    assert_loaded(load_cifar(tmp_path, "train"), w[0], w[1], num_classes=10)


def test_cifar_missing_and_empty_folders(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(UserError, match="nope"):
        load_cifar(missing, "train")
    with pytest.raises(UserError, match=r"data_batch_1\.bin.*cifar-10-binary\.tar\.gz"):
        load_cifar(tmp_path, "train")
    write_cifar10_binary(tmp_path)
    with pytest.raises(UserError, match=r"CIFAR-100 not found.*train\.bin"):
        load_cifar(tmp_path, "train", num_classes=100)
    with pytest.raises(UserError, match="10 or 100"):
        load_cifar(tmp_path, "train", num_classes=20)
    with pytest.raises(UserError, match="'train' or 'test'"):
        load_cifar(tmp_path, "valid")


def test_cifar_missing_split_file(tmp_path):
    write_cifar10_binary(tmp_path)
    (tmp_path / "test_batch.bin").unlink()
    with pytest.raises(UserError, match=r"test split missing.*test_batch\.bin"):
        load_cifar(tmp_path, "test")


def test_cifar_truncated_binary(tmp_path):
    write_cifar10_binary(tmp_path)
    path = tmp_path / "data_batch_2.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(UserError, match=r"data_batch_2\.bin.*truncated"):
        load_cifar(tmp_path, "train")


def test_cifar_truncated_pickle(tmp_path):
    write_cifar10_python(tmp_path)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(UserError, match="test_batch.*truncated or corrupt"):
        load_cifar(tmp_path, "test")


# ---------------------------------------------------------------- pickles

@pytest.mark.parametrize("via", ["eval", "os.system"])
def test_malicious_pickle_is_refused_not_run(tmp_path, via):
    marker = write_malicious_pickle(tmp_path / "data_batch_1", via=via)
    with pytest.raises(UserError, match=r"refusing to unpickle .*(eval|system).*data_batch_1.*malicious"):
        load_cifar(tmp_path, "train")
    assert not marker.exists()


def test_malicious_fixture_really_is_live(tmp_path):
    """Guard against a toothless fixture: an unrestricted unpickler does run the payload."""
    marker = write_malicious_pickle(tmp_path / "evil.pkl", via="eval")
    pickle.loads((tmp_path / "evil.pkl").read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_loads_round_trips_plain_arrays(protocol):
    obj = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), "f": np.float32(1.5), "l": [1, 2],
           "s": {1, 2}, "t": (np.arange(3.0), "x")}
    back = restricted_loads(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(back[b"data"], obj[b"data"])
    assert back["f"] == 1.5 and back["l"] == [1, 2] and back["s"] == {1, 2}
    np.testing.assert_array_equal(back["t"][0], np.arange(3.0))


def test_restricted_loads_refuses_arbitrary_classes():
    with pytest.raises(UserError, match=r"refusing to unpickle collections\.OrderedDict"):
        restricted_loads(pickle.dumps(__import__("collections").OrderedDict(a=1)))


# ---------------------------------------------------------------- SVHN

def test_svhn_reads_both_splits_and_maps_10_to_0(tmp_path):
    w = write_svhn_mat(tmp_path, n=6, n_test=4)
    train, test = load_svhn(tmp_path, "train"), load_svhn(tmp_path, "test")
    assert_loaded(train, w[0], w[1], num_classes=10)
    assert_loaded(test, w.x_test, w.y_test, num_classes=10)
    assert train.y[0] == 0 and train.y.max() <= 9


def test_svhn_missing_and_bad_file(tmp_path):
    with pytest.raises(UserError, match="train_32x32.mat"):
        load_svhn(tmp_path, "train")
    (tmp_path / "test_32x32.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(UserError, match="test_32x32.mat"):
        load_svhn(tmp_path, "test")


# ---------------------------------------------------------------- MNIST

@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_both_splits(tmp_path, gz):
    w = write_mnist_idx(tmp_path, n=7, gz=gz, n_test=4)
    train, test = load_mnist(tmp_path, "train"), load_mnist(tmp_path, "test")
    assert train.shape == (1, 28, 28)
    assert_loaded(train, w[0], w[1], num_classes=10)
    assert_loaded(test, w.x_test, w.y_test, num_classes=10)


def test_mnist_torchvision_layout(tmp_path):
    w = write_mnist_idx(tmp_path / "MNIST" / "raw", gz=True)
    assert_loaded(load_mnist(tmp_path, "test"), w.x_test, w.y_test, num_classes=10)


def test_mnist_bad_files(tmp_path):
    with pytest.raises(UserError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, "train")
    write_mnist_idx(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte"
    good = images.read_bytes()
    images.write_bytes(good[:-10])
    with pytest.raises(UserError, match="truncated"):
        load_mnist(tmp_path, "train")
    images.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(UserError, match="bad magic"):
        load_mnist(tmp_path, "train")
    bad_gz = tmp_path / "x-idx1-ubyte.gz"
    bad_gz.write_bytes(gzip.compress(good)[:30])
    with pytest.raises(UserError, match="truncated or corrupt"):
        read_idx(bad_gz)


def test_mnist_images_and_labels_must_match(tmp_path):
    write_mnist_idx(tmp_path, n=5)
    other = tmp_path / "other"
    write_mnist_idx(other, n=6)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes((other / "train-labels-idx1-ubyte").read_bytes())
    with pytest.raises(UserError, match="do not belong together"):
        load_mnist(tmp_path, "train")


# ---------------------------------------------------------------- image folders

def test_image_folder_with_splits(tmp_path):
    w = write_image_folder(tmp_path, n_per_class=2, size=(8, 6))
    train, test = load_image_folder(tmp_path, "train"), load_image_folder(tmp_path, "test")
    assert train.shape == (3, 6, 8)
    assert_loaded(train, w[0], w[1], num_classes=3)
    assert_loaded(test, w.x_test, w.y_test, num_classes=3)
    assert train.class_names == ("cat", "dog", "frog")


def test_image_folder_without_splits_and_grayscale(tmp_path):
    w = write_image_folder(tmp_path, n_per_class=3, classes=("b", "a"), splits=(), mode="L")
    ds = load_image_folder(tmp_path, "test")
    assert ds.shape == (1, 6, 8) and ds.class_names == ("a", "b")
    assert_loaded(ds, w[0], w[1], num_classes=2)


def test_image_folder_classes_agree_across_splits(tmp_path):
    write_image_folder(tmp_path, classes=("a", "b", "c"), splits=("train",))
    write_image_folder(tmp_path, classes=("a", "c"), splits=("test",))
    test = load_image_folder(tmp_path, "test")
    assert test.class_names == ("a", "b", "c") and set(test.y) == {0, 2}


def test_image_folder_sizes(tmp_path):
    from PIL import Image

    write_image_folder(tmp_path, size=(8, 6))
    Image.new("RGB", (5, 5)).save(tmp_path / "train" / "cat" / "odd.png")
    with pytest.raises(UserError, match="pass a size"):
        load_image_folder(tmp_path, "train")
    ds = load_image_folder(tmp_path, "train", size=4)
    assert ds.x.shape == (7, 3, 4, 4)


def test_image_folder_errors(tmp_path):
    with pytest.raises(UserError, match="nowhere"):
        load_image_folder(tmp_path / "nowhere", "train")
    with pytest.raises(UserError, match="no class folders"):
        load_image_folder(tmp_path, "train")
    write_image_folder(tmp_path, splits=("train",))
    with pytest.raises(UserError, match="no 'test' folder"):
        load_image_folder(tmp_path, "test")
    (tmp_path / "train" / "cat" / "broken.png").write_bytes(b"garbage")
    with pytest.raises(UserError, match="broken.png"):
        load_image_folder(tmp_path, "train")


# ---------------------------------------------------------------- 2-D toys

@pytest.mark.parametrize("kind", TOY_KINDS)
def test_toy_samples_are_finite_deterministic_and_scaled(kind):
    a = sample_toy(kind, 2000, np.random.default_rng(3))
    b = sample_toy(kind, 2000, np.random.default_rng(3))
    assert a.shape == (2000, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert np.quantile(np.abs(a), 0.99) < 4.5 and a.std() > 0.5


def test_load_toy2d_contract_and_split_streams():
    train, test = load_toy2d("moons", 100, "train"), load_toy2d("moons", 100, "test")
    assert train.shape == (2,) and train.num_classes == 0 and train.data_range is None and train.levels == 0
    assert (train.y == 0).all()
    assert not np.allclose(train.x, test.x)
    np.testing.assert_array_equal(train.x, load_toy2d("moons", 100, "train").x)
    assert not np.allclose(train.x, load_toy2d("moons", 100, "train", seed=1).x)


def test_8gaussians_mass_sits_on_eight_centres():
    x = sample_toy("8gaussians", 8000, np.random.default_rng(0))
    angles = np.arange(8) * np.pi / 4
    centres = (4 / np.sqrt(2)) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    dist = np.linalg.norm(x[:, None] - centres[None], axis=2)
    assert (dist.min(axis=1) < 1.5).mean() > 0.99  # std is 0.35: 1.5 is > 4 std
    share = np.bincount(dist.argmin(axis=1), minlength=8) / len(x)
    assert np.all(np.abs(share - 1 / 8) < 0.03)


def test_rings_and_checkerboard_shapes():
    rings = sample_toy("rings", 4000, np.random.default_rng(0))
    radius = np.linalg.norm(rings, axis=1)
    assert (np.abs(radius[:, None] - 0.75 * np.arange(1, 5)).min(axis=1) < 0.3).mean() > 0.99
    board = sample_toy("checkerboard", 4000, np.random.default_rng(0))
    parity = (np.floor(board[:, 0] / 2) + np.floor(board[:, 1] / 2)) % 2
    assert np.all(parity == parity[0]) and np.abs(board).max() <= 4


def test_unknown_toy_kind():
    with pytest.raises(UserError, match="8gaussians.*pinwheel"):
        sample_toy("spiral", 10, np.random.default_rng(0))
    with pytest.raises(UserError, match="'train' or 'test'"):
        load_toy2d("moons", 10, "val")
