"""The built-in data sets: MNIST's IDX reader, the synthetic sets, and the npz/csv readers.

Every test writes its own tiny files in tmp_path; only the test marked slow
reads the real MNIST, and only when DELTAW_MNIST_DIR is set.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import deltaw
import deltaw.plugins.datasets as datasets
from deltaw.core.network import Network
from deltaw.errors import DataError
from deltaw.plugins.datasets import (
    Blobs,
    Circles,
    Csv,
    Mnist,
    Moons,
    Npz,
    Spirals,
    Xor,
    csvfile,
    splits,
)
from deltaw.registry.manager import Registry

RNG = np.random.default_rng
DTYPES = [np.float32, np.float64]

# ---------------------------------------------------------------------------------------
# registration
# ---------------------------------------------------------------------------------------


def test_registers_every_dataset_through_the_public_hook():
    reg = Registry()
    reg.register_plugin(datasets, "datasets-under-test")
    assert reg.names("dataset") == sorted(
        ["mnist", "spirals", "moons", "circles", "xor", "blobs", "npz", "csv"]
    )
    for entry in reg.entries("dataset"):
        assert entry.summary, f"{entry.name} needs a one-line docstring summary"
        assert entry.cls.Params.model_config.get("extra") == "forbid"


# ---------------------------------------------------------------------------------------
# MNIST: tiny IDX files
# ---------------------------------------------------------------------------------------

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx(arr: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: 0x00 0x00 0x08 ndim, big-endian sizes, the bytes."""
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def write_mnist(
    folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = True, shape=(28, 28), seed: int = 0
) -> dict[str, np.ndarray]:
    """Four IDX files with random pixels (including 0 and 255) and labels 0–9; returns the
    arrays."""
    rng = RNG(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays["train_images"][0, 0, 0], arrays["train_images"][0, 0, 1] = 0, 255
    for key, arr in arrays.items():
        data = idx(arr)
        if gz:
            (folder / f"{NAMES[key]}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / NAMES[key]).write_bytes(data)
    return arrays


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No MNIST settings from the environment, and a HOME with no ~/.deltaw."""
    monkeypatch.delenv("DELTAW_MNIST_DIR", raising=False)
    monkeypatch.delenv("DELTAW_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gz", [True, False])
def test_mnist_shapes_scaling_one_hot_and_splits(tmp_path, no_env, gz, dtype):
    arrays = write_mnist(tmp_path / "m", gz=gz)
    data = Mnist(path=str(tmp_path / "m"), validation=4).load(RNG(0), dtype)
    assert [(k, s.x.shape, s.y.shape) for k, s in data.items()] == [
        ("training", (8, 784), (8, 10)),
        ("validation", (4, 784), (4, 10)),
        ("test", (5, 784), (5, 10)),
    ]
    for _, s in data.items():
        for a in (s.x, s.y):
            assert a.dtype == dtype and a.flags.c_contiguous
    images = arrays["train_images"].reshape(12, -1)
    np.testing.assert_allclose(data.train.x, images[:8] / 255, rtol=1e-6)
    assert data.train.x[0, 0] == 0 and data.train.x[0, 1] == 1
    # the validation split is the END of the training file, as in the book's mnist_loader
    np.testing.assert_allclose(data.validation.x, images[8:] / 255, rtol=1e-6)
    np.testing.assert_array_equal(data.validation.y.argmax(1), arrays["train_labels"][8:])
    np.testing.assert_array_equal(data.train.y.argmax(1), arrays["train_labels"][:8])
    np.testing.assert_array_equal(data.test.y.argmax(1), arrays["test_labels"])
    assert set(np.unique(data.train.y)) <= {0, 1} and (data.train.y.sum(1) == 1).all()
    assert (
        data.info["classes"] == 10
        and data.info["image_shape"] == [28, 28]
        and data.info["kind"] == "image"
    )


def test_mnist_limit_and_no_validation(tmp_path, no_env):
    arrays = write_mnist(tmp_path / "m")
    data = Mnist(path=str(tmp_path / "m"), validation=4, limit=3).load(RNG(0), np.float64)
    assert (len(data.train), len(data.validation), len(data.test)) == (3, 4, 5)
    np.testing.assert_array_equal(
        data.validation.y.argmax(1), arrays["train_labels"][8:]
    )  # limit does not move validation
    data = Mnist(path=str(tmp_path / "m"), validation=0).load(RNG(0), np.float64)
    assert data.validation is None and len(data.train) == 12


def test_mnist_validation_must_leave_training_images(tmp_path, no_env):
    write_mnist(tmp_path / "m")
    with pytest.raises(DataError, match="validation = 12"):
        Mnist(path=str(tmp_path / "m"), validation=12).load(RNG(0), np.float64)


def test_mnist_params_validate():
    with pytest.raises(ValidationError):
        Mnist(validation=-1)
    with pytest.raises(ValidationError):
        Mnist(limit=0)
    with pytest.raises(ValidationError):
        Mnist(unknown=1)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def _corrupt(folder: Path, case: str) -> Path:
    """Damage one file of a tiny MNIST folder; returns the file that is wrong."""
    labels = folder / "train-labels-idx1-ubyte"
    images = folder / "train-images-idx3-ubyte"
    if case == "bad magic":
        labels.write_bytes(
            idx(np.zeros((12, 2, 2), np.uint8))
        )  # an images file under a labels name
        return labels
    if case == "truncated data":
        _truncate(images)
        return images
    if case == "truncated header":
        labels.write_bytes(labels.read_bytes()[:6])
        return labels
    if case == "extra bytes":
        labels.write_bytes(labels.read_bytes() + b"\x00")
        return labels
    if case == "count mismatch":
        labels.write_bytes(idx(np.zeros(11, np.uint8)))
        return labels  # message names both files
    if case == "label out of range":
        labels.write_bytes(idx(np.full(12, 10, np.uint8)))
        return labels
    if case == "bad gzip":
        labels.unlink()
        gz = folder / "train-labels-idx1-ubyte.gz"
        gz.write_bytes(gzip.compress(idx(np.zeros(12, np.uint8)))[:-10])
        return gz
    if case == "not gzip":
        labels.unlink()
        gz = folder / "train-labels-idx1-ubyte.gz"
        gz.write_bytes(b"<html>not found</html>")
        return gz
    if case == "test image size":
        test = folder / "t10k-images-idx3-ubyte"
        test.write_bytes(idx(np.zeros((5, 27, 28), np.uint8)))
        return test
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "bad magic",
        "truncated data",
        "truncated header",
        "extra bytes",
        "count mismatch",
        "label out of range",
        "bad gzip",
        "not gzip",
        "test image size",
    ],
)
def test_mnist_corrupt_files_name_the_file(tmp_path, no_env, case):
    folder = tmp_path / "m"
    write_mnist(folder, gz=False)
    bad = _corrupt(folder, case)
    with pytest.raises(DataError) as err:
        Mnist(path=str(folder), validation=4).load(RNG(0), np.float64)
    assert str(bad) in str(err.value)


def test_mnist_missing_files_lists_every_place_looked_in_order(tmp_path, no_env, monkeypatch):
    monkeypatch.setenv("DELTAW_MNIST_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("DELTAW_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(DataError) as err:
        Mnist().load(RNG(0), np.float64)
    msg = str(err.value)
    first, second = str(tmp_path / "from-env"), str(tmp_path / "data" / "mnist")
    assert first in msg and second in msg and msg.index(first) < msg.index(second)
    assert "DELTAW_MNIST_DIR" in msg and "DELTAW_DATA_DIR" in msg
    for name in NAMES.values():
        assert name in msg
    assert "LeCun" in msg and "data.path" in msg


def test_mnist_missing_files_default_folder(tmp_path, no_env):
    with pytest.raises(DataError) as err:
        Mnist().load(RNG(0), np.float64)
    msg = str(err.value)
    assert str(tmp_path / "home" / ".deltaw" / "data" / "mnist") in msg
    assert "DELTAW_DATA_DIR is not set" in msg


def test_mnist_missing_files_with_path_looks_only_there(tmp_path, no_env, monkeypatch):
    write_mnist(tmp_path / "env")
    monkeypatch.setenv("DELTAW_MNIST_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError) as err:
        Mnist(path=str(tmp_path / "typo")).load(RNG(0), np.float64)
    msg = str(err.value)
    assert str(tmp_path / "typo") in msg and "data.path" in msg
    assert str(tmp_path / "env") not in msg  # not silently replaced by another copy


def test_mnist_incomplete_folder_names_the_missing_file(tmp_path, no_env):
    write_mnist(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as err:
        Mnist(path=str(tmp_path / "m")).load(RNG(0), np.float64)
    assert "incomplete" in str(err.value)


def test_mnist_folder_precedence(tmp_path, no_env, monkeypatch):
    # a different training-set size in each folder tells which one was read
    write_mnist(tmp_path / "spec", n_train=6)
    write_mnist(tmp_path / "env", n_train=7)
    write_mnist(tmp_path / "data" / "mnist", n_train=8)
    monkeypatch.setenv("DELTAW_DATA_DIR", str(tmp_path / "data"))

    def n_train(**kw) -> int:
        return len(Mnist(validation=0, **kw).load(RNG(0), np.float64).train)

    assert n_train() == 8  # $DELTAW_DATA_DIR/mnist
    monkeypatch.setenv("DELTAW_MNIST_DIR", str(tmp_path / "env"))
    assert n_train() == 7  # the env var beats the data folder
    assert n_train(path=str(tmp_path / "spec")) == 6  # data.path beats both
    monkeypatch.setenv("DELTAW_MNIST_DIR", str(tmp_path / "nowhere"))
    assert n_train() == 8  # an env folder without the files falls through to the data folder


def test_mnist_default_folder_under_home(tmp_path, no_env):
    write_mnist(tmp_path / "home" / ".deltaw" / "data" / "mnist", n_train=9)
    data = Mnist(validation=2).load(RNG(0), np.float64)
    assert len(data.train) == 7


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("DELTAW_MNIST_DIR"),
    reason="set DELTAW_MNIST_DIR to a folder with the real MNIST files",
)
def test_real_mnist():
    data = Mnist().load(RNG(0), np.float32)
    assert (len(data.train), len(data.validation), len(data.test)) == (50000, 10000, 10000)
    assert data.train.x.shape == (50000, 784) and data.train.y.shape == (50000, 10)
    assert int(data.train.y[0].argmax()) == 5  # the book's first training digit
    assert 0.0 <= data.train.x.min() and data.train.x.max() == 1.0


# ---------------------------------------------------------------------------------------
# synthetic sets
# ---------------------------------------------------------------------------------------

SYNTHETIC = [Spirals, Moons, Circles, Xor, Blobs]


@pytest.mark.parametrize("cls", SYNTHETIC)
def test_synthetic_same_seed_same_data_other_seed_other_data(cls):
    a = cls().load(RNG(7), np.float64)
    b = cls().load(RNG(7), np.float64)
    c = cls().load(RNG(8), np.float64)
    for (_, sa), (_, sb), (_, sc) in zip(a.items(), b.items(), c.items()):
        np.testing.assert_array_equal(sa.x, sb.x)
        np.testing.assert_array_equal(sa.y, sb.y)
        assert not np.array_equal(sa.x, sc.x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls", SYNTHETIC)
def test_synthetic_shapes_dtypes_balance_and_info(cls, dtype):
    data = cls(samples=600).load(RNG(0), dtype)
    k = data.info["classes"]
    assert data.info["kind"] == "2d" and data.info["input_dim"] == 2
    assert [(name, len(s)) for name, s in data.items()] == [
        ("training", 420),
        ("validation", 60),
        ("test", 120),
    ]
    for _, s in data.items():
        assert s.x.shape == (len(s), 2) and s.y.shape == (len(s), k)
        for a in (s.x, s.y):
            assert a.dtype == dtype and a.flags.c_contiguous
        assert np.isfinite(s.x).all() and np.abs(s.x).max() < 3
        counts = s.y.sum(0)
        assert counts.max() - counts.min() <= 1  # balanced classes
        assert (s.y.sum(1) == 1).all()


def test_synthetic_class_counts_and_sizes():
    data = Spirals(classes=5, samples=1000, validation=0, test=100).load(RNG(0), np.float64)
    assert data.validation is None and len(data.test) == 100 and len(data.train) == 900
    assert data.train.y.shape == (900, 5) and list(data.train.y.sum(0)) == [180] * 5
    data = Moons(samples=100, validation=0.5, test=0).load(RNG(0), np.float64)
    assert (len(data.train), len(data.validation), data.test) == (50, 50, None)


def test_blobs_in_more_dimensions():
    data = Blobs(classes=4, features=5).load(RNG(0), np.float32)
    assert data.train.x.shape[1] == 5 and data.train.y.shape[1] == 4
    assert data.info["kind"] == "tabular" and data.info["input_dim"] == 5
    assert Blobs(features=1).load(RNG(0), np.float64).train.x.shape[1] == 1


def test_xor_layouts_put_classes_in_the_right_quadrants():
    data = Xor(layout="quadrants").load(RNG(0), np.float64)  # no noise by default: exact quadrants
    same_sign = (data.train.x[:, 0] * data.train.x[:, 1]) > 0
    np.testing.assert_array_equal(same_sign, data.train.y[:, 0] == 1)
    data = Xor(noise=0.0).load(RNG(0), np.float64)
    assert set(np.abs(data.train.x).ravel()) == {0.5}


def test_synthetic_sizes_validate():
    with pytest.raises(DataError, match="for training"):
        Spirals(samples=10, validation=5, test=5).load(RNG(0), np.float64)
    for bad in (-0.1, 1.5, -3):
        with pytest.raises(ValidationError):
            Moons(test=bad)
    with pytest.raises(ValidationError):
        Circles(factor=1.0)
    with pytest.raises(ValidationError):
        Spirals(bogus=1)


class _Tanh(deltaw.Activation):
    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        return 1 - a * a


class _Softmax(deltaw.Activation):
    elementwise = False

    def forward(self, z):
        return deltaw.softmax(z)

    def backward(self, z, a, grad):
        return a * (grad - (grad * a).sum(axis=1, keepdims=True))


class _CrossEntropy(deltaw.Cost):
    def value(self, a, y):
        return float(-(y * np.log(deltaw.clip_probs(a))).sum(axis=1).mean())

    def output_delta(self, z, a, y, activation):
        return a - y


class _Init(deltaw.Initializer):
    def weights(self, fan_in, fan_out, rng):
        return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)


@pytest.mark.parametrize("cls", [Spirals, Moons, Circles, Xor])
def test_synthetic_sets_are_learnable_by_a_small_net(cls):
    """A [2, 32, k] tanh/softmax net with plain mini-batch SGD reaches ≥ 95% test accuracy."""
    rng = RNG(1)
    data = cls().load(rng, np.float64)
    k = data.info["classes"]
    net = Network([2, 32, k], [_Tanh(), _Softmax()])
    net.initialize(_Init(), rng)
    x, y = data.train.x, data.train.y
    for _ in range(60):
        order = rng.permutation(len(x))
        for i in range(0, len(x), 10):
            batch = order[i : i + 10]
            nabla_w, nabla_b = net.backprop(x[batch], y[batch], _CrossEntropy())
            for W, b, gw, gb in zip(net.weights, net.biases, nabla_w, nabla_b):
                W -= 0.5 * gw
                b -= 0.5 * gb
    accuracy = (net.feedforward(data.test.x).argmax(1) == data.test.y.argmax(1)).mean()
    assert accuracy >= 0.95


# ---------------------------------------------------------------------------------------
# npz
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_npz_round_trip_with_integer_labels(tmp_path, dtype):
    rng = RNG(0)
    x, labels = rng.normal(size=(50, 3)), rng.integers(0, 4, 50)
    np.savez(tmp_path / "d.npz", x=x, y=labels)
    data = Npz(path=str(tmp_path / "d.npz")).load(RNG(0), dtype)
    assert data.validation is None and data.test is None
    np.testing.assert_allclose(data.train.x, x.astype(dtype))
    np.testing.assert_array_equal(data.train.y.argmax(1), labels)
    assert (
        data.train.y.shape == (50, 4)
        and data.train.y.dtype == dtype
        and data.train.x.flags.c_contiguous
    )
    assert data.info["classes"] == 4 and data.info["task"] == "classification"


def test_npz_carves_validation_and_test_after_a_shuffle(tmp_path):
    x, y = np.arange(100.0)[:, None], np.arange(100) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    p = Npz(path=str(tmp_path / "d.npz"), validation=0.1, test=20, limit=50)
    a, b = p.load(RNG(3), np.float64), p.load(RNG(3), np.float64)
    assert (len(a.train), len(a.validation), len(a.test)) == (50, 10, 20)
    np.testing.assert_array_equal(a.test.x, b.test.x)  # the run's rng decides the shuffle
    rows = np.concatenate([a.validation.x, a.test.x]).ravel()
    assert len(set(rows)) == 30 and not np.array_equal(
        np.sort(a.test.x.ravel()), np.arange(80.0, 100.0)
    )
    # without shuffling the splits are the last rows, as in the book
    c = Npz(path=str(tmp_path / "d.npz"), test=20, shuffle=False).load(RNG(3), np.float64)
    np.testing.assert_array_equal(c.test.x.ravel(), np.arange(80.0, 100.0))


def test_npz_split_keys_and_custom_names(tmp_path):
    rng = RNG(0)
    np.savez(
        tmp_path / "k.npz",
        inputs_train=rng.integers(0, 256, (20, 4, 4), dtype=np.uint8),
        targets_train=np.arange(20) % 10,
        inputs_test=rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
        targets_test=np.arange(6),
    )
    data = Npz(path=str(tmp_path / "k.npz"), x_key="inputs", y_key="targets").load(
        RNG(0), np.float32
    )
    assert (
        data.train.x.shape == (20, 16) and data.test.x.shape == (6, 16) and data.validation is None
    )
    assert data.train.y.shape == (20, 10) and data.test.y.shape == (
        6,
        10,
    )  # one class count for both splits
    assert data.info["image_shape"] == [4, 4] and data.train.x.max() > 1
    scaled = Npz(path=str(tmp_path / "k.npz"), x_key="inputs", y_key="targets", scale=1 / 255).load(
        RNG(0), np.float32
    )
    np.testing.assert_allclose(scaled.train.x, data.train.x / 255, rtol=1e-6)
    with pytest.raises(DataError, match="already has a test split"):
        Npz(path=str(tmp_path / "k.npz"), x_key="inputs", y_key="targets", test=0.2).load(
            RNG(0), np.float32
        )


def test_npz_validation_keys(tmp_path):
    np.savez(
        tmp_path / "v.npz",
        x_train=np.ones((8, 2)),
        y_train=np.arange(8) % 2,
        x_validation=np.zeros((3, 2)),
        y_validation=np.array([0, 1, 2]),
    )
    data = Npz(path=str(tmp_path / "v.npz")).load(RNG(0), np.float64)
    assert len(data.validation) == 3 and data.test is None and data.train.y.shape == (8, 3)
    np.savez(
        tmp_path / "w.npz",
        x_train=np.ones((8, 2)),
        y_train=np.arange(8) % 2,
        x_test=np.zeros((3, 2)),
    )
    with pytest.raises(DataError, match="has 'x_test' but no 'y_test'"):
        Npz(path=str(tmp_path / "w.npz")).load(RNG(0), np.float64)


def test_npz_regression_targets_and_one_hot_switch(tmp_path):
    np.savez(tmp_path / "r.npz", x=np.ones((10, 2)), y=np.linspace(0, 1, 10))
    data = Npz(path=str(tmp_path / "r.npz")).load(RNG(0), np.float64)
    assert data.train.y.shape == (10, 1) and data.info["task"] == "regression"
    np.savez(tmp_path / "i.npz", x=np.ones((10, 2)), y=np.arange(10) % 2)
    assert Npz(path=str(tmp_path / "i.npz"), one_hot=False).load(
        RNG(0), np.float64
    ).train.y.shape == (10, 1)
    assert Npz(path=str(tmp_path / "i.npz"), classes=5).load(RNG(0), np.float64).train.y.shape == (
        10,
        5,
    )
    np.savez(tmp_path / "f.npz", x=np.ones((4, 2)), y=np.array([0.0, 1.0, 2.0, 1.0]))
    assert Npz(path=str(tmp_path / "f.npz"), one_hot=True).load(
        RNG(0), np.float64
    ).train.y.shape == (4, 3)


def test_npz_errors_name_the_file_and_list_keys(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, features=np.ones((4, 2)), labels=np.arange(4))
    with pytest.raises(DataError) as err:
        Npz(path=str(path)).load(RNG(0), np.float64)
    msg = str(err.value)
    assert str(path) in msg and "'features'" in msg and "'labels'" in msg and "x_key" in msg
    with pytest.raises(DataError, match="no 'targets'") as err:
        Npz(path=str(path), x_key="features", y_key="targets").load(RNG(0), np.float64)
    assert "'labels'" in str(err.value)
    np.savez(path, x=np.ones((4, 2)), y=np.arange(3))
    with pytest.raises(DataError, match="4 rows but 'y' has 3"):
        Npz(path=str(path)).load(RNG(0), np.float64)
    np.savez(path, x=np.array([[1.0, np.nan]]), y=np.arange(1))
    with pytest.raises(DataError, match="NaN"):
        Npz(path=str(path)).load(RNG(0), np.float64)
    np.savez(path, x=np.array([["a", "b"]]), y=np.arange(1))
    with pytest.raises(DataError, match="'x' has dtype"):
        Npz(path=str(path)).load(RNG(0), np.float64)
    np.savez(path, x=np.ones((3, 2)), y=np.array([0, -1, 2]))
    with pytest.raises(DataError, match="-1"):
        Npz(path=str(path)).load(RNG(0), np.float64)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(DataError, match=str(tmp_path / "junk.npz")):
        Npz(path=str(tmp_path / "junk.npz")).load(RNG(0), np.float64)
    with pytest.raises(DataError, match="does not exist"):
        Npz(path=str(tmp_path / "nope.npz")).load(RNG(0), np.float64)
    with pytest.raises(ValidationError):
        Npz()  # path is required


# ---------------------------------------------------------------------------------------
# csv
# ---------------------------------------------------------------------------------------

IRIS = """sepal_length,sepal_width,petal_length,petal_width,species
5.1,3.5,1.4,0.2,setosa
7.0,3.2,4.7,1.4,versicolor
6.3,3.3,6.0,2.5,virginica
4.9,3.0,1.4,0.2,setosa
6.4,3.2,4.5,1.5,versicolor
5.8,2.7,5.1,1.9,virginica
"""


@pytest.mark.parametrize("dtype", DTYPES)
def test_csv_header_and_text_classes(tmp_path, dtype):
    (tmp_path / "iris.csv").write_text(IRIS)
    data = Csv(path=str(tmp_path / "iris.csv"), target="species").load(RNG(0), dtype)
    assert data.train.x.shape == (6, 4) and data.train.y.shape == (6, 3)
    assert (
        data.train.x.dtype == dtype
        and data.train.y.dtype == dtype
        and data.train.x.flags.c_contiguous
    )
    assert data.info["labels"] == ["setosa", "versicolor", "virginica"]
    assert data.info["columns"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    np.testing.assert_array_equal(data.train.y.argmax(1), [0, 1, 2, 0, 1, 2])
    np.testing.assert_allclose(data.train.x[0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)
    # the default target is the last column
    assert Csv(path=str(tmp_path / "iris.csv")).load(RNG(0), dtype).info["targets"] == ["species"]


def test_csv_without_header_integer_labels_delimiter_and_splits(tmp_path):
    rows = [f"{i};{i * 2};{i % 3}" for i in range(30)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    p = Csv(
        path=str(tmp_path / "t.csv"), delimiter=";", target=2, one_hot=True, validation=0.2, test=6
    )
    data = p.load(RNG(0), np.float64)
    assert (len(data.train), len(data.validation), len(data.test)) == (18, 6, 6)
    assert data.train.y.shape == (18, 3) and data.train.x.shape == (18, 2)
    np.testing.assert_array_equal(data.train.y.argmax(1), data.train.x[:, 0].astype(int) % 3)
    # numeric targets stay numbers without one_hot; targets and features by index
    data = Csv(path=str(tmp_path / "t.csv"), delimiter=";", target=[0, 1], features=[2]).load(
        RNG(0), np.float64
    )
    assert (
        data.train.x.shape == (30, 1)
        and data.train.y.shape == (30, 2)
        and data.info["task"] == "regression"
    )


def test_csv_header_choice(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n1,0\n2,1\n")
    assert len(Csv(path=str(tmp_path / "h.csv")).load(RNG(0), np.float64).train) == 2
    with pytest.raises(DataError, match="row 1, column '0'"):
        Csv(path=str(tmp_path / "h.csv"), header=False).load(RNG(0), np.float64)
    (tmp_path / "n.csv").write_text("1,0\n2,1\n")
    assert len(Csv(path=str(tmp_path / "n.csv"), header=True).load(RNG(0), np.float64).train) == 1


def test_csv_errors_name_the_file_and_the_columns(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text(IRIS)
    with pytest.raises(DataError) as err:
        Csv(path=str(path), target="specie").load(RNG(0), np.float64)
    msg = str(err.value)
    assert (
        str(path) in msg
        and "'specie'" in msg
        and "'sepal_length'" in msg
        and "Did you mean 'species'" in msg
    )
    with pytest.raises(DataError, match="out of range"):
        Csv(path=str(path), target=9).load(RNG(0), np.float64)
    with pytest.raises(DataError, match=r"row 3, column 'sepal_width': 'n/a' is not a number"):
        path.write_text(IRIS.replace("7.0,3.2", "7.0,n/a"))
        Csv(path=str(path)).load(RNG(0), np.float64)
    with pytest.raises(DataError, match="an empty cell"):
        path.write_text(IRIS.replace("7.0,3.2", "7.0,"))
        Csv(path=str(path)).load(RNG(0), np.float64)
    path.write_text(IRIS.replace("4.9,3.0,1.4,0.2,setosa", "4.9,3.0,1.4,setosa"))
    with pytest.raises(DataError, match="row 5: 4 cells"):
        Csv(path=str(path)).load(RNG(0), np.float64)
    (tmp_path / "n.csv").write_text("1,2\n3,4\n")
    with pytest.raises(DataError, match="no header row"):
        Csv(path=str(tmp_path / "n.csv"), target="label").load(RNG(0), np.float64)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        Csv(path=str(tmp_path / "e.csv")).load(RNG(0), np.float64)
    with pytest.raises(DataError, match="does not exist"):
        Csv(path=str(tmp_path / "nope.csv")).load(RNG(0), np.float64)
    (tmp_path / "nan.csv").write_text("a,b\n1,0\n2,nan\n")
    with pytest.raises(DataError, match="'b' contain NaN"):
        Csv(path=str(tmp_path / "nan.csv")).load(RNG(0), np.float64)
    path.write_text(IRIS)
    with pytest.raises(DataError, match="both a target and a feature"):
        Csv(path=str(path), features=["species", "sepal_width"]).load(RNG(0), np.float64)
    with pytest.raises(DataError, match="holds text"):
        Csv(path=str(path), one_hot=False).load(RNG(0), np.float64)


# ---------------------------------------------------------------------------------------
# the steps of the csv reader and of the split assembly, one by one
# ---------------------------------------------------------------------------------------


def table_of(tmp_path: Path, text: str, header: bool | None = None) -> csvfile.Table:
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    rows = csvfile.read_rows(path, ",")
    return csvfile.make_table(path, rows, csvfile.has_header(rows) if header is None else header)


def test_read_rows_skips_blank_rows_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffa,b\n\n1,2\n , \n3,4\n".encode())
    assert csvfile.read_rows(path, ",") == [["a", "b"], ["1", "2"], ["3", "4"]]


def test_read_rows_refuses_empty_one_column_and_non_utf8_files(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\n  \n")
    with pytest.raises(DataError, match="is empty: it needs one row per sample"):
        csvfile.read_rows(path, ",")
    path.write_text("1;2\n3;4\n")
    with pytest.raises(DataError, match="single column with delimiter ','.*data.delimiter"):
        csvfile.read_rows(path, ",")
    assert csvfile.read_rows(path, ";") == [["1", "2"], ["3", "4"]]
    path.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(DataError, match="is not UTF-8 text"):
        csvfile.read_rows(path, ",")


@pytest.mark.parametrize(
    ("rows", "header"),
    [
        ([["x", "label"], ["1", "0"]], True),  # text above a number
        ([["x", "label"], ["1", "cat"]], True),  # one text-above-number cell is enough
        ([["1", "0"], ["2", "1"]], False),  # numbers only
        ([["a", "cat"], ["b", "dog"]], False),  # text above text: data, not names
        ([["x", "label"]], False),  # a single row is data
    ],
)
def test_has_header_is_text_above_a_number(rows, header):
    assert csvfile.has_header(rows) is header


def test_make_table_names_the_columns_strips_cells_and_counts_rows_from_the_file(tmp_path):
    table = table_of(tmp_path, " a , b ,c\n 1, 2 ,3\n4,5,6\n")
    assert table.header and table.names == ["a", "b", "c"] and table.width == 3
    assert table.first_line == 2 and table.cells.tolist() == [["1", "2", "3"], ["4", "5", "6"]]
    table = table_of(tmp_path, "1,2,3\n4,5,6\n")
    assert not table.header and table.names == ["0", "1", "2"] and table.first_line == 1
    with pytest.raises(DataError, match=r"t.csv, row 3: 2 cells, but the header has 3"):
        table_of(tmp_path, "a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match="row 2: 2 cells, but the first row has 3"):
        table_of(tmp_path, "1,2,3\n4,5\n")
    with pytest.raises(DataError, match="has a header row but no data rows"):
        table_of(tmp_path, "a,b\n", header=True)


def test_columns_by_name_or_index_and_features_default_to_the_other_columns(tmp_path):
    named = table_of(tmp_path, "a,b,c,d\n1,2,3,4\n")
    assert csvfile.choose_columns(named, "c", None) == ([2], [0, 1, 3])
    assert csvfile.choose_columns(named, [-1, "a"], ["b"]) == ([3, 0], [1])
    bare = table_of(tmp_path, "1,2,3\n4,5,6\n")
    assert csvfile.column_index(bare, "-1", "target") == 2  # a digit string is an index
    with pytest.raises(DataError, match="no header row, so target column 'y' cannot be found"):
        csvfile.column_index(bare, "y", "target")
    with pytest.raises(DataError, match=r"has 3 columns \(0 to 2\), so data.features = 3 is out"):
        csvfile.column_index(bare, 3, "features")
    with pytest.raises(DataError, match=r"no column 'dd' \(data.target\).*Did you mean 'd'"):
        csvfile.column_index(named, "dd", "target")
    with pytest.raises(DataError, match="'a' are both a target and a feature"):
        csvfile.choose_columns(named, "a", ["a", "b"])
    with pytest.raises(DataError, match="needs at least one target and one input column"):
        csvfile.choose_columns(named, [], None)


def test_inputs_are_finite_numbers_and_a_bad_cell_is_named_by_row_and_column(tmp_path):
    table = table_of(tmp_path, "a,b,y\n1,2.5,0\n3,-4e1,1\n")
    x = csvfile.read_inputs(table, [0, 1])
    assert x.dtype == np.float64 and x.tolist() == [[1.0, 2.5], [3.0, -40.0]]
    table = table_of(tmp_path, "a,b,y\n1,2,0\n3,,1\n")
    with pytest.raises(DataError, match="row 3, column 'b': an empty cell is not a number"):
        csvfile.read_inputs(table, [0, 1])
    table = table_of(tmp_path, "a,b,y\n1,inf,0\n3,4,1\n")
    with pytest.raises(DataError, match="column 'b': contains NaN or infinite values"):
        csvfile.read_inputs(table, [0, 1])


def test_a_text_target_column_is_class_names_in_sorted_order(tmp_path):
    table = table_of(tmp_path, "x,kind\n1,dog\n2,cat\n3,dog\n")
    y, names = csvfile.read_targets(table, [1], one_hot=None)
    assert names == ["cat", "dog"] and y.tolist() == [1, 0, 1]
    with pytest.raises(DataError, match="holds text \\(class names\\), which only works with"):
        csvfile.read_targets(table, [1], one_hot=False)
    table = table_of(tmp_path, "x,kind\n1,dog\n2,\n3,cat\n")
    with pytest.raises(DataError, match="row 3, column 'kind': an empty target cell"):
        csvfile.read_targets(table, [1], one_hot=None)
    y, names = csvfile.read_targets(table_of(tmp_path, "x,y\n1,0.5\n2,1\n"), [1], one_hot=None)
    assert names is None and y.shape == (2, 1) and y[:, 0].tolist() == [0.5, 1.0]


def test_class_labels_must_be_whole_numbers_from_zero(tmp_path):
    src = tmp_path / "d.npz"
    assert splits.class_labels(src, np.array([[2.0], [0.0]]), "y").tolist() == [2, 0]
    for bad, shown in ((np.array([0, 1.5]), r"1\.5"), (np.array([1, -1]), "-1")):
        with pytest.raises(
            DataError, match=rf"labels 0, 1, 2, …, but the targets \(y\) contain .*{shown}"
        ):
            splits.class_labels(src, bad, "y")
    with pytest.raises(DataError, match="are not numbers, so they cannot be class labels"):
        splits.class_labels(src, np.array(["a", "b"]), "y")


@pytest.mark.parametrize(
    ("y", "one_hot", "names", "want"),
    [
        (np.array([0, 2, 1]), None, None, True),  # 1-D integers are labels
        (np.array([[0], [1]]), None, None, False),  # a column of integers stays numbers
        (np.array([0.0, 1.0]), None, None, False),  # floats stay numbers
        (np.array([0, 1]), None, ["a", "b"], True),  # class names
        (np.array([0.0, 1.0]), True, None, True),  # asked for
        (np.array([0, 1]), False, None, False),  # refused
    ],
)
def test_wants_one_hot(y, one_hot, names, want):
    assert splits.wants_one_hot(y, one_hot, names) is want


def test_class_targets_use_one_class_count_for_every_split(tmp_path):
    src, p = tmp_path / "d.npz", Npz.Params(path="d.npz")
    found = {
        "training": (np.zeros((3, 1)), np.array([0, 1, 1]), "'x'/'y'"),
        "test": (np.zeros((2, 1)), np.array([3, 0]), "'x_test'/'y_test'"),
    }
    ys, classes = splits.class_targets(src, found, p, np.dtype(np.float32))
    assert classes == 4 and ys["training"].shape == (3, 4) and ys["test"].dtype == np.float32
    assert ys["test"].argmax(1).tolist() == [3, 0]
    with pytest.raises(DataError, match="data.classes is 3 but the targets contain the label 3"):
        splits.class_targets(src, found, Npz.Params(path="d.npz", classes=3), np.dtype("f8"))
    with pytest.raises(DataError, match="data.classes only applies to one-hot targets"):
        splits.class_targets(
            src, found, Npz.Params(path="d", one_hot=False, classes=4), np.dtype("f8")
        )
    found["training"] = (np.zeros((2, 1)), np.eye(2), "'x'/'y'")
    with pytest.raises(DataError, match=r"one label per row, but the targets \('x'/'y'\) have"):
        splits.class_targets(src, found, Npz.Params(path="d", one_hot=True), np.dtype("f8"))


def test_carve_takes_test_then_validation_off_the_end_and_limit_keeps_the_first_rows(tmp_path):
    x, y = np.arange(10.0).reshape(10, 1), np.arange(10)
    p = Npz.Params(path="d", validation=0.2, test=3, shuffle=False, limit=4)
    parts = splits.carve(tmp_path, x, y, p, RNG(0))
    assert parts["test"][1].tolist() == [7, 8, 9] and parts["validation"][1].tolist() == [5, 6]
    assert parts["training"][1].tolist() == [0, 1, 2, 3]
    shuffled = splits.carve(tmp_path, x, y, Npz.Params(path="d", test=3), RNG(5))
    order = RNG(5).permutation(10)  # the run's rng, used once
    assert shuffled["test"][1].tolist() == order[7:].tolist()
    assert shuffled["training"][1].tolist() == order[:7].tolist()
    assert list(splits.carve(tmp_path, x, y, Npz.Params(path="d"), RNG(0))) == ["training"]
    with pytest.raises(
        DataError, match=r"training rows \(10\) cannot give 5 validation and 5 test"
    ):
        splits.carve(tmp_path, x, y, Npz.Params(path="d", validation=5, test=5), RNG(0))


def test_a_split_the_file_has_is_not_carved_again(tmp_path):
    found = {"training": (np.zeros(2), np.zeros(2), "a"), "test": (np.zeros(1), np.zeros(1), "b")}
    splits.check_no_second_split(tmp_path, found, Npz.Params(path="d", validation=0.1))
    with pytest.raises(DataError, match=r"already has a test split \(b\), so data.test = 0.2"):
        splits.check_no_second_split(tmp_path, found, Npz.Params(path="d", test=0.2))


def test_data_info_describes_the_training_split(tmp_path):
    train = deltaw.Split(np.zeros((3, 2)), np.zeros((3, 3)))
    info = splits.data_info(tmp_path / "d.csv", train, 3, ["a", "b", "c"], {"columns": ["u", "v"]})
    assert info == {
        "source": str(tmp_path / "d.csv"),
        "input_dim": 2,
        "outputs": 3,
        "task": "classification",
        "kind": "2d",
        "classes": 3,
        "labels": ["a", "b", "c"],
        "columns": ["u", "v"],
    }
    assert (
        splits.data_info(tmp_path, deltaw.Split(np.zeros((1, 5)), np.zeros((1, 1))), None)["task"]
        == "regression"
    )


# MNIST as mirrors ship it (issue 9 §3)
# ---------------------------------------------------------------------------------------


def _respell(folder: Path, spell) -> None:
    for path in list(folder.iterdir()):
        target = folder / spell(path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)


@pytest.mark.parametrize(
    "spell",
    [
        lambda n: n.replace("-idx", ".idx"),  # train-images.idx3-ubyte (Kaggle, many mirrors)
        lambda n: n.replace("-", "_"),
        lambda n: n.upper(),
        lambda n: f"{n.removesuffix('.gz').replace('-idx', '.idx')}/{n.replace('-idx', '.idx')}",
    ],
    ids=["dots", "underscores", "upper-case", "folder-per-file"],
)
@pytest.mark.parametrize("gz", [True, False])
def test_mnist_accepts_the_spellings_of_mirrors(tmp_path, no_env, spell, gz):
    arrays = write_mnist(tmp_path / "m", gz=gz)
    _respell(tmp_path / "m", spell)
    data = Mnist(path=str(tmp_path / "m"), validation=2).load(RNG(0), np.float64)
    assert len(data.train) == 10 and len(data.test) == 5
    assert np.allclose(data.test.x[0], arrays["test_images"][0].reshape(-1) / 255)


def test_mnist_missing_files_name_the_near_misses_that_are_there(tmp_path, no_env):
    write_mnist(tmp_path / "m", gz=False)
    _respell(tmp_path / "m", lambda n: f"{n}.zip" if n.startswith("t10k") else n)
    with pytest.raises(DataError) as err:
        Mnist(path=str(tmp_path / "m")).load(RNG(0), np.float64)
    msg = str(err.value)
    assert "missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in msg
    assert "'t10k-images-idx3-ubyte.zip' (for t10k-images-idx3-ubyte)" in msg
    assert "'t10k-labels-idx1-ubyte.zip' (for t10k-labels-idx1-ubyte)" in msg


def test_mnist_none_found_still_names_near_misses(tmp_path, no_env):
    write_mnist(tmp_path / "m", gz=False)
    _respell(tmp_path / "m", lambda n: n.replace("ubyte", "ubyt"))
    with pytest.raises(DataError, match="none of the four files") as err:
        Mnist(path=str(tmp_path / "m")).load(RNG(0), np.float64)
    assert "'train-images-idx3-ubyt' (for train-images-idx3-ubyte)" in str(err.value)
