"""deltaw predict needs only the plugins prediction uses.

A run trained with a third-party callback, schedule, optimizer link and initializer still
predicts once that package is gone: prediction resolves the network's activations, the
cost, the metrics, the regularizers and the data set, nothing else.
"""

import numpy as np
import pytest
import yaml

import deltaw
from deltaw.errors import SpecError
from deltaw.plugins.callbacks import EarlyStopping
from deltaw.plugins.initializers import GlorotNormal
from deltaw.plugins.schedules import Exponential
from deltaw.plugins.transforms import Centralize
from deltaw.registry import Registry
from deltaw.runs.predict import evaluate, input_data, load_trained
from deltaw.runs.train import run_spec


class Training:
    """A package of training-only plugins: gone by the time the run is used."""

    @deltaw.hookimpl
    def register_callbacks(self, register):
        register("patience", EarlyStopping)

    @deltaw.hookimpl
    def register_schedules(self, register):
        register("decay", Exponential)

    @deltaw.hookimpl
    def register_transforms(self, register):
        register("center", Centralize)

    @deltaw.hookimpl
    def register_initializers(self, register):
        register("glorot-again", GlorotNormal)


class Metrics:
    @deltaw.hookimpl
    def register_metrics(self, register):
        from deltaw.plugins.metrics import Accuracy

        register("hits", Accuracy)


SPEC = {
    "name": "plugins-gone",
    "seed": 3,
    "data": {"name": "moons", "samples": 120},
    "network": {
        "layers": [2, 5, 2],
        "activation": "tanh",
        "output_activation": "softmax",
        "init": "glorot-again",
    },
    "cost": "log-likelihood",
    "optimizer": {"name": "chain", "links": ["center", {"name": "sgd", "lr": 0.5}]},
    "schedule": {"name": "decay", "gamma": 0.9},
    "callbacks": [{"name": "patience", "patience": 3}],
    "metrics": ["accuracy", "hits", "cost"],
    "training": {"epochs": 3, "batch_size": 10},
}


def registry_with(*plugins):
    reg = Registry()
    reg.load_builtins()
    for i, plugin in enumerate(plugins):
        reg.register_plugin(plugin, f"p{i}")
    return reg


@pytest.fixture
def trained(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    result = run_spec(spec, out=tmp_path / "runs", registry=registry_with(Training(), Metrics()))
    assert result.status == "completed", result.message
    return result.folder


def test_a_run_predicts_after_its_training_only_plugins_are_gone(trained):
    full = registry_with(Training(), Metrics())
    run = load_trained(trained, full)
    before = evaluate(run, input_data(run, None, full)[0])
    reg = registry_with(Metrics())  # the callback, schedule, link and initializer are gone
    run = load_trained(trained, reg)
    data, where = input_data(run, None, reg)
    assert where == "the run's data set"
    after = evaluate(run, data)
    assert after == before
    assert set(after["validation"]) == {"accuracy", "hits", "cost", "samples"}
    w = np.load(trained / "weights.npz")
    assert np.array_equal(run.network.weights[0], w["w0"])  # the trained weights, not an init


def test_a_metric_plugin_prediction_reports_is_still_needed(trained):
    with pytest.raises(SpecError, match=r"Unknown metric 'hits' at metrics\[1\]"):
        load_trained(trained, registry_with())
