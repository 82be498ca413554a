"""The MLflow tracker, offline against a temporary SQLite store, its runs queried back.

A run is one MLflow run (parameters, metrics per epoch, the folder as artifacts,
versions as tags); a resumed run continues it; a sweep is a parent run with a
nested run per trial, logged from the driver.
"""

from __future__ import annotations

import json
from pathlib import Path

import deltaw_mlflow
import mlflow
import pytest
import yaml
from mlflow import MlflowClient

import deltaw
from deltaw.runs.sweep import run_sweep
from deltaw.runs.train import resume_run, run_spec

SPEC = {
    "name": "tracked",
    "seed": 4,
    "data": {"name": "blobs", "samples": 200, "classes": 3},
    "network": {"layers": [2, 8, 3], "activation": "tanh", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 4, "batch_size": 20},
}


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


@pytest.fixture
def store(tmp_path, monkeypatch, deltaw_plugin):
    """The plugin registered, and a SQLite store of this test's own (as DELTAW_MLFLOW_URI)."""
    deltaw_plugin(deltaw_mlflow, name="mlflow")
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    for name in ("MLFLOW_TRACKING_URI", "DELTAW_MLFLOW_EXPERIMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DELTAW_MLFLOW_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def history(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def runs(name="tracked", **kwargs):
    return mlflow.search_runs(experiment_names=[name], output_format="list", **kwargs)


def assert_metrics_match(client, run_id, folder):
    rows = history(folder)
    for key in ("validation_accuracy", "training_cost", "lr"):
        logged = client.get_metric_history(run_id, key)
        assert [m.step for m in logged] == [r["epoch"] for r in rows]
        assert [m.value for m in logged] == pytest.approx([r[key] for r in rows])


def test_a_run_is_an_mlflow_run_with_params_metrics_artifacts_and_versions(tmp_path, store):
    result = run_spec(spec_file(tmp_path), ["optimizer.lr=0.4"], out=tmp_path / "runs")
    (run,) = runs()
    assert run.info.status == "FINISHED" and run.info.run_name == result.folder.name
    assert run.data.params["optimizer.lr"] == "0.4"
    assert run.data.params["network.layers"] == "[2, 8, 3]"
    assert run.data.params["cost.name"] == "log-likelihood"
    assert run.data.tags["deltaw.version"] == deltaw.__version__
    assert run.data.tags["deltaw_mlflow.version"] == "0.1.0"
    assert json.loads(run.data.tags["deltaw.overrides"]) == ["optimizer.lr=0.4"]
    assert run.data.tags["deltaw.status"] == "completed"
    client = MlflowClient(store)
    assert_metrics_match(client, run.info.run_id, result.folder)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"run.json", "metrics.jsonl", "resolved.yaml", "weights.npz", "curves.png"} <= artifacts
    link = json.loads((result.folder / "mlflow.json").read_text())
    assert link["run_id"] == run.info.run_id and link["epochs"] == 4
    # artifacts live beside the SQLite file
    assert run.info.artifact_uri.startswith((tmp_path / "store" / "mlartifacts").as_uri())


class CtrlC(deltaw.Callback):
    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch == 2:
            raise KeyboardInterrupt


def test_a_resumed_run_continues_its_mlflow_run(tmp_path, store):
    first = run_spec(spec_file(tmp_path), out=tmp_path / "runs", callbacks=[CtrlC()])
    assert first.status == "interrupted"
    (run,) = runs()
    assert run.info.status == "KILLED"
    again = resume_run(first.folder, ["training.epochs=6"])
    assert again.status == "completed"
    (same,) = runs()  # the same MLflow run, not a second one
    assert same.info.run_id == run.info.run_id and same.info.status == "FINISHED"
    assert_metrics_match(MlflowClient(store), run.info.run_id, first.folder)  # epochs 1..6, once
    assert same.data.params["training.epochs"] == "4"  # MLflow never changes a parameter …
    assert "training.epochs=6" in same.data.tags["deltaw.overrides"]  # … the resume says so


def sweep_file(tmp_path, executor):
    sweep = {"grid": {"optimizer.lr": [0.1, 1e30]}, "executor": executor, "workers": 2}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "sweep": sweep}))
    return path


@pytest.mark.parametrize("executor", ["serial", "local"])
def test_a_sweep_is_a_parent_run_with_a_nested_run_per_trial(tmp_path, store, executor):
    result = run_sweep(sweep_file(tmp_path, executor), out=tmp_path / "runs", plots=False)
    everything = runs()
    (parent,) = [r for r in everything if "mlflow.parentRunId" not in r.data.tags]
    nested = runs(filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    # trials train in-process with the serial executor: their run hooks log nothing themselves
    assert len(everything) == 1 + len(nested) == 3
    assert parent.info.status == "FINISHED" and parent.data.tags["deltaw.sweep"] == "true"
    assert parent.info.run_name == result.folder.name
    assert {a.path for a in MlflowClient(store).list_artifacts(parent.info.run_id)} >= {
        "sweep.json",
        "sweep.csv",
    }
    by_trial = {int(r.data.tags["deltaw.trial"]): r for r in nested}
    assert by_trial[1].data.params["optimizer.lr"] == "0.1"
    assert by_trial[1].info.status == "FINISHED"
    assert (
        by_trial[2].info.status == "FAILED" and by_trial[2].data.tags["deltaw.status"] == "diverged"
    )
    trial = result.folder / result.trials[0].folder
    assert_metrics_match(MlflowClient(store), by_trial[1].info.run_id, trial)
    assert json.loads((trial / "mlflow.json").read_text())["run_id"] == by_trial[1].info.run_id


def test_the_default_store_is_a_sqlite_file_under_runs(tmp_path, monkeypatch, deltaw_plugin):
    deltaw_plugin(deltaw_mlflow, name="mlflow")
    for name in ("MLFLOW_TRACKING_URI", "DELTAW_MLFLOW_URI", "DELTAW_MLFLOW_EXPERIMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DELTAW_MLFLOW_EXPERIMENT", "mine")
    result = run_spec(spec_file(tmp_path), out="runs", plots=False)
    db = tmp_path / "runs" / "mlflow.db"
    assert db.is_file()
    link = json.loads((result.folder / "mlflow.json").read_text())
    assert link["tracking_uri"] == f"sqlite:///{db}"
    (run,) = MlflowClient(link["tracking_uri"]).search_runs(
        [MlflowClient(link["tracking_uri"]).get_experiment_by_name("mine").experiment_id]
    )
    assert run.info.run_id == link["run_id"]
