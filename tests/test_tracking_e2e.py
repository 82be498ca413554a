"""End to end, as a user meets it: the MLflow example plugin installed with `deltaw install` into a
fresh virtual environment passes its own tests, and a sweep run there appears in the SQLite store
as a parent run with a nested run per trial — logged by the driver only, though the trials train
in worker processes that load the plugin too (issue 11, "Done when").

Offline, as tests/test_plugins_e2e.py: the venv sees the environment's packages (mlflow among
them) and pip uses no index.
"""

from __future__ import annotations

import json

import pytest
import yaml
from test_plugins_e2e import EXAMPLES, ROOT, Venv, copy_tree

pytestmark = pytest.mark.slow

SPEC = {
    "name": "e2e-tracked",
    "seed": 3,
    "data": {"name": "blobs", "samples": 200, "classes": 2},
    "network": {"layers": [2, 6, 2], "activation": "tanh", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 3, "batch_size": 20},
    "sweep": {"grid": {"optimizer.lr": [0.1, 0.5, 2.0]}, "executor": "local", "workers": 2},
}


def test_the_mlflow_example_installs_passes_its_tests_and_logs_a_sweep_as_nested_runs(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    venv = Venv(tmp_path)
    deltaw_src = copy_tree(
        ROOT, tmp_path / "src" / "deltaw", "pyproject.toml", "README.md", "LICENSE", "deltaw"
    )
    venv.run(venv.python, "-m", "pip", "install", "-q", "--no-deps", deltaw_src)
    package = copy_tree(EXAMPLES / "deltaw-mlflow", tmp_path / "src" / "deltaw-mlflow")
    installed = venv.cli("install", package)
    assert "Plugin 'mlflow' (deltaw-mlflow 0.1.0) loaded: " in installed.stderr
    assert "hook deltaw_trial_end" in installed.stderr
    plugins = {p["name"]: p for p in json.loads(venv.cli("plugins", "--json").stdout)["plugins"]}
    assert {"deltaw_run_start", "deltaw_sweep_start"} <= set(plugins["mlflow"]["hooks"])

    tests = venv.run(
        venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", package / "tests", check=False
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    venv.cli("sweep", spec, "--no-plots")  # from tmp_path: the default store runs/mlflow.db
    store = tmp_path / "runs" / "mlflow.db"
    assert store.is_file()
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("e2e-tracked")
    everything = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in everything if "mlflow.parentRunId" not in r.data.tags]
    nested = client.search_runs(
        [experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    # the workers loaded the plugin too, but only the driver logged: 1 parent + 3 trials, no more
    assert len(everything) == 4 and len(nested) == 3
    assert sorted(float(r.data.params["optimizer.lr"]) for r in nested) == [0.1, 0.5, 2.0]
    assert {r.info.status for r in [parent, *nested]} == {"FINISHED"}
    for r in nested:
        steps = [m.step for m in client.get_metric_history(r.info.run_id, "validation_accuracy")]
        assert steps == [1, 2, 3]
        assert r.data.tags["deltaw_mlflow.version"] == "0.1.0"
