"""check_metric and check_dataset: every built-in passes at several settings; broken ones are
named."""

import numpy as np
import pytest
from pydantic import BaseModel, Field

import deltaw
from deltaw.plugins.datasets import Csv, Mnist, Npz
from deltaw.plugins.datasets.synthetic import Moons
from deltaw.plugins.metrics import Accuracy
from deltaw.registry import Registry
from deltaw.testing import check_dataset, check_metric
from tests.test_datasets import write_mnist


def builtin_entries(kind):
    reg = Registry()
    reg.load_builtins()
    return reg.entries(kind)


# -- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", builtin_entries("metric"), ids=lambda e: e.name)
def test_every_builtin_metric_passes_for_classes_and_yes_no_targets(entry):
    check_metric(entry.cls, targets=["one-hot", "binary"])


def test_the_cost_metric_also_passes_for_real_targets():
    check_metric(builtin_entries("metric")[1].cls, targets=["real"])  # cost: regression too


class MeanSquaredError(deltaw.Metric):
    """Lower is better, but it forgot to say so."""

    def compute(self, a, y, context):
        return float(np.mean((a - y) ** 2))


class Rounds(deltaw.Metric):
    def compute(self, a, y, context):
        np.round(a, out=a)  # changes the caller's outputs
        return float(np.mean(a.argmax(axis=1) == y.argmax(axis=1)))


class FirstRows(deltaw.Metric):
    """The first row's first output: depends on the order of the rows."""

    def compute(self, a, y, context):
        return float(a[0, 0])


class PerRow(deltaw.Metric):
    def compute(self, a, y, context):
        return (a.argmax(axis=1) == y.argmax(axis=1)).astype(float)  # an array, not a number


class Float64Only(deltaw.Metric):
    """Mean squared error that rounds anything but float64 inputs to one decimal."""

    higher_is_better = False

    def compute(self, a, y, context):
        if a.dtype != np.float64:
            a = a.round(1)
        return float(np.mean((a - y) ** 2))


class TopK(deltaw.Metric):
    """Top-k accuracy; k ≥ 1. At k = 3 of 3 classes every prediction is right."""

    class Params(BaseModel):
        k: int = Field(1, ge=1, le=3)

    def compute(self, a, y, context):
        top = np.argsort(-a, axis=1)[:, : self.params.k]
        return float(np.mean((top == y.argmax(axis=1)[:, None]).any(axis=1)))


@pytest.mark.parametrize(
    ("metric", "pattern"),
    [
        (
            MeanSquaredError,
            r"^check_metric\(MeanSquaredError\): perfect predictions \(a = y, one-hot targets\) "
            r"score 0 and random ones [\d.]+ \(draw 1 of 5\); with higher_is_better = True, "
            r"higher must be better .*; set higher_is_better = False$",
        ),
        (Rounds, r"compute changed its input a or y \(one-hot targets, float64\)"),
        (FirstRows, r"for the same rows in another order \(one-hot targets\)"),
        (PerRow, r"compute returned an array of shape \(60,\) \(one-hot targets, float64\)"),
        (Float64Only, r"compute gives [\d.]+ for float64 inputs but [\d.]+ for the same float32"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_broken_metric_is_named_by_the_check_it_fails(metric, pattern):
    with pytest.raises(AssertionError, match=pattern):
        check_metric(metric)


def test_a_metric_that_cannot_tell_perfect_from_random_at_some_setting_is_named():
    with pytest.raises(
        AssertionError,
        match=r"TopK\(k=3\), setting \d of \d\): perfect predictions .* score 1 and random ones 1 ",
    ):
        check_metric(TopK)
    check_metric(TopK(k=1))
    with pytest.raises(ValueError, match="targets must be some of"):
        check_metric(Accuracy, targets=["images"])


# -- data sets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [e for e in builtin_entries("dataset") if e.name not in ("csv", "npz", "mnist")],
    ids=lambda e: e.name,
)
def test_every_builtin_synthetic_set_passes_at_several_settings(entry):
    check_dataset(entry.cls)


def test_the_file_sets_pass_with_their_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((40, 3)), rng.integers(0, 3, 40)
    np.savez(tmp_path / "d.npz", x=x, y=labels)
    rows = [",".join(f"{v:.6f}" for v in row) + f",c{k}" for row, k in zip(x, labels)]
    (tmp_path / "d.csv").write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    for cls, path in ((Npz, "d.npz"), (Csv, "d.csv")):
        where = str(tmp_path / path)
        check_dataset(
            cls,
            settings=[
                {"path": where},
                {"path": where, "validation": 0.25, "test": 5, "shuffle": False},
                {"path": where, "validation": 8, "limit": 20, "scale": 0.5},
            ],
        )
    monkeypatch.delenv("DELTAW_MNIST_DIR", raising=False)
    write_mnist(tmp_path / "mnist", n_train=20, n_test=6)
    where = str(tmp_path / "mnist")
    check_dataset(
        Mnist,
        settings=[{"path": where, "validation": 5}, {"path": where, "validation": 0, "limit": 3}],
    )


class GlobalRandom(Moons):
    def points(self, labels, rng, shared=None):
        return np.random.standard_normal((len(labels), 2))  # numpy's global generator


class OwnGenerator(Moons):
    def points(self, labels, rng, shared=None):
        return np.random.default_rng().standard_normal((len(labels), 2))


class AlwaysFloat64(Moons):
    def load(self, rng, dtype):
        return super().load(rng, np.float64)


class Float32Draws(Moons):
    def load(self, rng, dtype):
        data = super().load(rng, dtype)
        if np.dtype(dtype) == np.float32:
            data.train.x[:] = rng.standard_normal(data.train.x.shape)  # other numbers in float32
        return data


class ColumnTargets(deltaw.Dataset):
    def load(self, rng, dtype):
        x = rng.standard_normal((10, 2)).astype(dtype)
        return deltaw.DataSplits(deltaw.Split(x, rng.integers(0, 3, 10).astype(dtype)))


class WrongWidth(Moons):
    def load(self, rng, dtype):
        data = super().load(rng, dtype)
        data.test = deltaw.Split(data.test.x[:, :1].copy(), data.test.y)
        return data


class SoftLabels(Moons):
    def load(self, rng, dtype):
        data = super().load(rng, dtype)
        data.train.y[:] = 0.5
        return data


class PathInInfo(Moons):
    def load(self, rng, dtype):
        data = super().load(rng, dtype)
        data.info["source"] = object()
        return data


@pytest.mark.parametrize(
    ("cls", "pattern"),
    [
        (GlobalRandom, r"load drew from numpy's global generator"),
        (OwnGenerator, r"two loads with the same seed give different training x \(float64\)"),
        (AlwaysFloat64, r"the training split's x \(float32 requested\) is float64"),
        (Float32Draws, r"the training x\[\d+,\d\] is -?[\d.]+ in float64 but -?[\d.]+ in float32"),
        (ColumnTargets, r"the training split's y \(float64 requested\) has shape \(10,\)"),
        (WrongWidth, r"the test split has 1 inputs and 2 targets per row, the training split 2"),
        (SoftLabels, r"info says 2 classes but the training split's y is not one-hot rows"),
        (PathInInfo, r"info is not JSON-able"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_broken_data_set_is_named_by_the_check_it_fails(cls, pattern):
    with pytest.raises(AssertionError, match=rf"^check_dataset\({cls.__name__}\b.*\): {pattern}"):
        check_dataset(cls)


def test_a_setting_the_set_refuses_with_a_clear_error_is_skipped_but_not_the_first():
    few = {"samples": 3, "validation": 1, "test": 1}  # one training point for two classes
    check_dataset(Moons, settings=[{}, few])
    with pytest.raises(deltaw.DeltawError, match="fewer than the 2 classes"):
        check_dataset(Moons, settings=[few, {}])
