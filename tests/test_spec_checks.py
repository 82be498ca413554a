"""No silently wrong experiment (issue 9 §3): finite floats, every problem in one pass,
validate checks what run checks, and memory is checked before it is allocated (§2)."""

import math
import types

import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

import deltaw
import deltaw.memory
from deltaw.cli import app
from deltaw.errors import DataError, SpecError
from deltaw.spec.build import build
from deltaw.spec.loading import load_spec, validate_spec

runner = CliRunner()

SPEC = {
    "name": "tiny",
    "seed": 1,
    "data": {"name": "blobs", "samples": 200, "classes": 3},
    "network": {"layers": [2, 6, 3], "activation": "tanh", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 2, "batch_size": 16},
}


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def problems(data, overrides=()):
    with pytest.raises(SpecError) as info:
        validate_spec(data, source="spec.yaml")
    return str(info.value)


# -- every float is finite -------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_plugin_parameter_must_be_finite(value):
    message = problems({**SPEC, "optimizer": {"name": "adam", "lr": value}})
    assert "optimizer.lr: Input should be a finite number (optimizer 'adam')" in message


@pytest.mark.parametrize(
    "where, value",
    [
        ({"training": {"weight_decay": math.inf}}, "training.weight_decay"),
        ({"training": {"clip": {"value": math.inf}}}, "training.clip.value"),
        ({"sweep": {"grid": {"optimizer.lr": [0.1, math.inf]}}}, "sweep.grid.optimizer.lr[1]"),
        ({"sweep": {"random": {"samples": 2, "params": {"x": {"range": [0, math.inf]}}}}}, "range"),
        ({"sweep": {"random": {"samples": 2, "params": {"x": {"choice": [math.nan]}}}}}, "choice"),
    ],
)
def test_the_spec_skeleton_refuses_inf_and_nan(where, value):
    message = problems({**SPEC, **where})
    assert value in message and "finite" in message


def test_inf_from_the_command_line_is_refused_too(tmp_path):
    result = runner.invoke(
        app, ["validate", str(spec_file(tmp_path)), "--set", "optimizer.lr=.inf"]
    )
    assert result.exit_code == 2 and "finite number" in result.output


class Bounded(deltaw.Optimizer):
    """An update rule with a parameter that may be infinite, and one that may not."""

    class Params(BaseModel):
        lr: float = 0.1
        clip: float = Field(math.inf, allow_inf_nan=True)  # declared: inf means "no clipping"
        decay: float = 0.0  # not declared: must be finite
        nested: dict[str, float] = Field(default_factory=dict)

    def update(self, param, grad, state, step, lr):
        param -= lr * np.clip(grad, -self.params.clip, self.params.clip)


class Anything(deltaw.Optimizer):
    """A rule whose model_config allows inf and nan everywhere."""

    class Params(BaseModel):
        model_config = ConfigDict(allow_inf_nan=True)
        lr: float = 0.1

    def update(self, param, grad, state, step, lr):
        param -= lr * grad


@deltaw.hookimpl
def register_optimizers(register):
    register("bounded", Bounded)
    register("anything", Anything)


def test_a_third_party_plugin_declares_which_parameters_may_be_infinite(deltaw_plugin):
    deltaw_plugin(types.SimpleNamespace(register_optimizers=register_optimizers), "third")
    ok = validate_spec({**SPEC, "optimizer": {"name": "bounded", "clip": math.inf}})
    assert ok.plugins["optimizer"].params.clip == math.inf
    message = problems({**SPEC, "optimizer": {"name": "bounded", "decay": math.inf}})
    assert "optimizer.decay: Input should be a finite number (optimizer 'bounded')" in message
    nested = problems({**SPEC, "optimizer": {"name": "bounded", "nested": {"a": math.nan}}})
    assert "optimizer.nested.a" in nested
    anything = validate_spec({**SPEC, "optimizer": {"name": "anything", "lr": math.inf}})
    assert anything.plugins["optimizer"].params.lr == math.inf


# -- every problem in one pass ---------------------------------------------------------------


def test_validate_lists_five_independent_problems_at_once(tmp_path):
    path = spec_file(
        tmp_path,
        colour="blue",  # 1: an unknown top-level key
        network={"layers": [2, 6, 3], "activation": "tanhh"},  # 2: an unknown plugin name
        optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9},  # 3: a parameter sgd lacks
        training={"epochs": 0},  # 4: a bad skeleton value
    )
    result = runner.invoke(app, ["validate", str(path), "--set", "optimizer.lr"])  # 5: no =VALUE
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "5 problems in the spec" in out
    assert "colour: unknown key" in out
    assert "Unknown activation 'tanhh' at network.activation" in out
    assert "optimizer.momentum: unknown key (optimizer 'sgd')" in out
    assert "training.epochs: Input should be greater than or equal to 1" in out
    assert "--set 'optimizer.lr': expected KEY=VALUE" in out


def test_plugins_are_resolved_when_the_skeleton_is_broken_or_sections_are_missing():
    message = problems({"network": "oops", "optimizer": {"name": "adamm"}, "metrics": ["acc"]})
    assert "data: required but missing" in message and "network: Input should be" in message
    assert "Unknown optimizer 'adamm'" in message and "Unknown metric 'acc'" in message
    assert "metrics[0]" in message


def test_a_malformed_reference_is_reported_once_by_the_skeleton():
    message = problems({**SPEC, "optimizer": {"lr": 1}, "training": {"epochs": 0}})
    assert message.count("optimizer") == 1 and "optimizer.name: required" in message


# -- validate checks what run checks ---------------------------------------------------------


def test_validate_refuses_a_monitor_that_run_would_refuse(tmp_path):
    callbacks = [{"name": "early-stopping", "monitor": "val_acc"}]
    path = spec_file(tmp_path, callbacks=callbacks)
    for args in (["validate", str(path)], ["validate", str(path), "--no-data"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "callbacks[0].monitor is 'val_acc'" in result.output
    run = runner.invoke(app, ["run", str(path), "-q", "--out", str(tmp_path / "runs")])
    assert run.exit_code == 2 and not (tmp_path / "runs").exists()


def test_validate_refuses_data_that_does_not_fit_the_network_as_run_does(tmp_path):
    path = spec_file(tmp_path, network={"layers": [3, 6, 3]})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 4 and "has 2 inputs and 3 targets" in result.output
    assert runner.invoke(app, ["validate", str(path), "--no-data"]).exit_code == 0


def test_validate_without_data_skips_loading_it(tmp_path, monkeypatch):
    path = spec_file(tmp_path, data={"name": "mnist", "path": str(tmp_path / "nowhere")})
    path.write_text(path.read_text().replace("[2, 6, 3]", "[784, 6, 10]"))
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 4
    assert runner.invoke(app, ["validate", str(path), "--no-data"]).exit_code == 0


# -- memory, before allocating ---------------------------------------------------------------


@pytest.fixture
def two_gib(monkeypatch):
    monkeypatch.setattr(deltaw.memory, "available_bytes", lambda: 2 * 2**30)


def test_a_layer_too_wide_for_memory_is_refused_before_allocating(tmp_path, two_gib, monkeypatch):
    def no_allocation(*args, **kwargs):
        raise AssertionError("the network was allocated")

    monkeypatch.setattr("deltaw.spec.build.Network", no_allocation)
    layers = [2, 10**9, 3]
    result = runner.invoke(app, ["validate", str(spec_file(tmp_path, network={"layers": layers}))])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in out
    assert "network.layers[1] = 1,000,000,000 units" in out
    assert "GiB of memory" in out and "2.0 GiB available" in out
    # at least (2·10⁹ + 3·10⁹ weights + 10⁹ + 3 biases) × 2 (gradients) × 8 B = 89.4 GiB
    need = float(out.split("would take ")[1].split(" GiB")[0].replace(",", ""))
    assert need > 89.4


def test_the_estimate_counts_the_optimizer_state_and_the_dtype(two_gib):
    spec = {**SPEC, "network": {"layers": [2, 8000, 8000, 3]}}  # 64M weights: 0.5 GiB a copy
    build(validate_spec(spec), load_data=False)  # sgd: weights + gradients = 1 GiB, fits
    with pytest.raises(SpecError, match="2 optimizer state array"):
        build(validate_spec({**spec, "optimizer": {"name": "adam"}}), load_data=False)
    adam32 = {**spec, "optimizer": {"name": "adam"}, "dtype": "float32"}
    build(validate_spec(adam32), load_data=False)  # float32 halves it


def test_a_synthetic_set_too_large_for_memory_is_refused_before_drawing(tmp_path, two_gib):
    data = {"name": "blobs", "samples": 10**12, "classes": 3}
    result = runner.invoke(app, ["run", str(spec_file(tmp_path, data=data)), "-q"])
    out = " ".join(result.output.split())
    assert result.exit_code == 4 and "samples = 1,000,000,000,000 points" in out
    assert "TiB of memory" in out and "Lower data.samples" in out
    blobs = deltaw.registry.get_registry().entry("dataset", "blobs").cls
    with pytest.raises(DataError, match="300 points of 1,000,000,000 features"):
        blobs(samples=300, features=10**9).load(np.random.default_rng(0), np.dtype("float64"))


def test_an_unforeseen_memory_error_is_a_message(tmp_path, monkeypatch):
    def oom(*args, **kwargs):
        raise MemoryError("Unable to allocate 5.1 TiB for an array")

    monkeypatch.setattr("deltaw.spec.build.Network", oom)
    result = runner.invoke(app, ["run", str(spec_file(tmp_path)), "-q", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Out of memory (Unable to allocate 5.1 TiB" in " ".join(result.output.split())


def test_load_spec_and_build_agree_on_a_valid_spec(tmp_path):
    resolved, _ = load_spec(spec_file(tmp_path))
    assert build(resolved).network.sizes == [2, 6, 3]
