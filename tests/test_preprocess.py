"""Input standardisation (``preprocess.standardize``): training statistics only, every split, stored
with the run for predict and load_run; and the stall message that looks at the inputs' scale."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import deltaw
from deltaw.cli import app
from deltaw.core.base import DataSplits, Split
from deltaw.core.preprocess import Standardizer
from deltaw.core.stall import unscaled_inputs
from deltaw.errors import DataError, TrainingError
from deltaw.runs.predict import evaluate, input_data, load_trained
from deltaw.runs.train import run_spec
from deltaw.spec.build import build
from deltaw.spec.loading import validate_spec

runner = CliRunner()


def table(tmp_path, rows=300, seed=0):
    """A CSV of three classes whose features live on very different scales (like real tables)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, rows)
    centres = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [-1.0, -1.0, 1.0]])
    x = centres[labels] + 0.4 * rng.standard_normal((rows, 3))
    x = x * [1.0, 400.0, 0.01] + [0.0, 1500.0, 0.0]  # one feature near 1500 ± 400
    x = np.column_stack([x, np.full(rows, 7.0)])  # and a constant one
    path = tmp_path / "table.csv"
    lines = ["a,b,c,const,label"] + [",".join(map(str, [*r, k])) for r, k in zip(x, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def spec_dict(path, **extra):
    return {
        "name": "table",
        "seed": 1,
        "data": {"name": "csv", "path": str(path), "one_hot": True, "validation": 0.2, "test": 0.2},
        "network": {"layers": [4, 8, 3], "activation": "tanh", "output_activation": "softmax"},
        "cost": "log-likelihood",
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 4, "batch_size": 10, "evaluate": ["training", "validation", "test"]},
        **extra,
    }


STANDARDIZE = {"preprocess": {"standardize": True}}


# -- the statistics ---------------------------------------------------------------------------


def test_statistics_come_from_the_training_split_and_apply_to_every_split(tmp_path):
    path = table(tmp_path)
    raw = build(validate_spec(spec_dict(path))).data
    exp = build(validate_spec(spec_dict(path, **STANDARDIZE)))
    prep, data = exp.preprocess, exp.data
    assert np.allclose(prep.mean, raw.train.x.mean(axis=0))
    assert np.allclose(prep.std[:3], raw.train.x.std(axis=0)[:3]) and prep.std[3] == 1.0
    assert np.allclose(data.train.x[:, :3].mean(axis=0), 0, atol=1e-12)
    assert np.allclose(data.train.x[:, :3].std(axis=0), 1)
    assert np.all(data.train.x[:, 3] == 0)  # a constant feature is shifted, not divided by 0
    for name in ("validation", "test"):  # the training statistics, not their own
        got, x = getattr(data, name).x, getattr(raw, name).x
        assert np.allclose(got, (x - raw.train.x.mean(axis=0)) / prep.std)
        assert not np.allclose(got[:, :3].mean(axis=0), 0, atol=1e-3)
    assert np.array_equal(data.train.y, raw.train.y) and data.info == raw.info


def test_standardizing_keeps_float32_and_leaves_the_inputs_alone():
    x = (np.random.default_rng(0).random((20, 3)) * [1, 100, 1000]).astype(np.float32)
    before = x.copy()
    prep = Standardizer.fit(x)
    out = prep.apply(x)
    assert out.dtype == np.float32 and prep.mean.dtype == np.float64
    assert np.array_equal(x, before)
    assert np.allclose(out.std(axis=0), 1, atol=1e-5)
    splits = prep.apply_splits(DataSplits(Split(x, x[:, :1]), test=Split(x[:5], x[:5, :1])))
    assert splits.validation is None and splits.test.x.dtype == np.float32
    with pytest.raises(ValueError, match="3 features"):
        prep.apply(x[:, :2])


def test_off_by_default_and_the_data_as_the_set_gives_it(tmp_path):
    exp = build(validate_spec(spec_dict(table(tmp_path))))
    assert exp.preprocess is None and exp.data.train.x[:, 1].mean() > 1000


# -- stored with the run: predict and load_run apply the same -----------------------------------


def test_a_run_stores_its_statistics_and_predict_applies_them(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict(table(tmp_path), **STANDARDIZE)))
    result = run_spec(spec, out=tmp_path / "runs", plots=False)
    folder = result.folder
    resolved = yaml.safe_load((folder / "resolved.yaml").read_text())
    assert resolved["preprocess"] == {"standardize": True}
    exp = build(validate_spec(spec_dict(table(tmp_path), **STANDARDIZE)))
    with np.load(folder / "preprocess.npz") as z:
        assert np.array_equal(z["mean"], exp.preprocess.mean)
        assert np.array_equal(z["std"], exp.preprocess.std)

    trained = load_trained(folder)
    data, _ = input_data(trained, None)  # the run's data set, as the set gives it
    assert data.train.x[:, 1].mean() > 1000
    final = result.history[-1]
    got = evaluate(trained, data)
    for split in ("training", "validation", "test"):
        assert got[split]["accuracy"] == pytest.approx(final[f"{split}_accuracy"], abs=1e-12)
        assert got[split]["cost"] == pytest.approx(final[f"{split}_cost"], rel=1e-9)

    run = deltaw.load_run(folder)
    x = data.test.x
    by_hand = run.network.feedforward(run.preprocess.apply(x))
    assert np.array_equal(run.predict(x).outputs, by_hand)
    assert run.evaluate((x, data.test.y))["data"]["accuracy"] == pytest.approx(
        final["test_accuracy"]
    )
    cli = runner.invoke(app, ["predict", str(folder), "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output)["splits"]["test"]["accuracy"] == pytest.approx(
        final["test_accuracy"]
    )


def test_predict_names_a_missing_statistics_file(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict(table(tmp_path), **STANDARDIZE)))
    folder = run_spec(spec, out=tmp_path / "runs", plots=False).folder
    (folder / "preprocess.npz").unlink()
    with pytest.raises(DataError, match=r"preprocess\.npz: no such file.*preprocess\.standardize"):
        load_trained(folder)


# -- the stall message looks at the inputs first ----------------------------------------------


def test_unscaled_inputs_are_told_from_scaled_ones():
    rng = np.random.default_rng(0)
    pixels = rng.random((500, 50))
    pixels[:, :5] = 0.0  # MNIST's border: constant
    pixels[:3, 5] = 1e-3  # and nearly constant pixels: a tiny std, which must not count
    assert unscaled_inputs(pixels) is None
    heavy = rng.standard_normal((500, 4))
    heavy[0, 1] = 15.0  # standardized data with an outlier is still scaled
    assert unscaled_inputs(Standardizer.fit(heavy).apply(heavy)) is None
    wide = np.column_stack([rng.random(500), 1000 + 300 * rng.random(500)])
    said = unscaled_inputs(wide, ["hue", "proline"])
    assert said is not None and "feature 1 ('proline')" in said and "mean 11" in said
    small = np.column_stack([rng.random(500) * s for s in (1.0, 1.0, 1.0, 0.01, 5.0)]) * 1.5
    assert unscaled_inputs(small) is None  # one 100× smaller: slow to learn, never saturating
    spread = np.column_stack([0.01 * rng.standard_normal((500, 4)), 3 * rng.standard_normal(500)])
    said = unscaled_inputs(spread)  # stds of 0.01 beside one of 3: the scales differ 300×
    assert said is not None and said.startswith("feature 4 ranges from")
    bytes_ = np.column_stack([pixels[:, 6:9], pixels[:, 9] * 900])  # a column of raw bytes
    assert unscaled_inputs(bytes_).startswith("feature 3 ranges from")


sklearn = pytest.importorskip("sklearn.datasets", reason="scikit-learn writes the real tables")


def real_table(tmp_path, loader):
    """scikit-learn's table as a CSV with a header of feature names and a class column."""
    d = loader()
    path = tmp_path / f"{loader.__name__}.csv"
    names = [n.replace(",", " ") for n in d.feature_names]
    rows = [",".join([*names, "class"])]
    rows += [
        ",".join([*(repr(float(v)) for v in r), str(int(k))]) for r, k in zip(d.data, d.target)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path, d.data.shape[1], len(d.target_names)


def real_spec(tmp_path, loader, **extra):
    """The issue's setting: [f, 16, classes], tanh, softmax, Adam 0.01 (the default cost)."""
    path, features, classes = real_table(tmp_path, loader)
    spec = {
        "name": loader.__name__,
        "seed": 0,
        "data": {"name": "csv", "path": str(path), "one_hot": True, "validation": 0.2},
        "network": {
            "layers": [features, 16, classes],
            "activation": "tanh",
            "output_activation": "softmax",
        },
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 60, "batch_size": 10},
        **extra,
    }
    file = tmp_path / f"{loader.__name__}.yaml"
    file.write_text(yaml.safe_dump(spec))
    return file


def test_the_wine_table_stalls_unscaled_and_the_message_says_so(tmp_path):
    spec = real_spec(tmp_path, sklearn.load_wine)
    with pytest.raises(TrainingError) as caught:
        run_spec(spec, out=tmp_path / "runs", plots=False)
    message = " ".join(str(caught.value).split())
    assert "training stalled" in message
    assert "The inputs are not scaled: feature 12 ('proline') ranges from 278 to 1680" in message
    assert "--set preprocess.standardize=true" in message
    assert "optimizer.lr=0.0001" not in message


def test_the_wine_table_standardized_trains_past_90_percent_without_a_stall(tmp_path):
    spec = real_spec(tmp_path, sklearn.load_wine, preprocess={"standardize": True})
    result = run_spec(spec, out=tmp_path / "runs", plots=False)
    assert result.status == "completed" and len(result.history) == 60
    assert result.history[-1]["validation_accuracy"] > 0.9


def test_the_breast_cancer_table_standardized_trains_past_90_percent(tmp_path):
    spec = real_spec(tmp_path, sklearn.load_breast_cancer, preprocess={"standardize": True})
    result = run_spec(spec, ["training.epochs=20"], out=tmp_path / "runs", plots=False)
    assert result.status == "completed"
    assert result.history[-1]["validation_accuracy"] > 0.9
