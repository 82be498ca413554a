"""Spec files: formats, overrides, resolution, and one test per error class."""

import json

import numpy as np
import pytest
from pydantic import BaseModel, Field

import deltaw
from deltaw.errors import SpecError, UnknownNameError
from deltaw.registry import get_registry
from deltaw.spec.loading import load_spec, validate_spec
from deltaw.spec.overrides import apply_overrides, parse_override

BASE = {
    "name": "tiny",
    "data": {"name": "xor", "samples": 200},
    "network": {"layers": [2, 4, 2], "activation": "tanh", "output_activation": "sigmoid"},
    "cost": "cross-entropy",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 2, "batch_size": 10},
}


def write(tmp_path, data, name="spec.yaml"):
    import yaml

    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(data))
    else:
        path.write_text(yaml.safe_dump(data))
    return path


def messages(data):
    with pytest.raises(SpecError) as info:
        validate_spec(data, source="spec.yaml")
    return str(info.value)


def test_yaml_json_and_toml_specs_resolve_to_the_same_spec(tmp_path):
    yaml_spec, _ = load_spec(write(tmp_path, BASE))
    json_spec, _ = load_spec(write(tmp_path, BASE, "spec.json"))
    toml = tmp_path / "spec.toml"
    toml.write_text(
        'name = "tiny"\ncost = "cross-entropy"\n[data]\nname = "xor"\nsamples = 200\n'
        '[network]\nlayers = [2, 4, 2]\nactivation = "tanh"\noutput_activation = "sigmoid"\n'
        '[optimizer]\nname = "sgd"\nlr = 0.5\n[training]\nepochs = 2\nbatch_size = 10\n'
    )
    toml_spec, _ = load_spec(toml)
    assert yaml_spec.resolved() == json_spec.resolved() == toml_spec.resolved()


def test_resolved_spec_fills_in_every_plugin_default():
    resolved = validate_spec(BASE).resolved()
    assert resolved["optimizer"]["name"] == "sgd" and resolved["optimizer"]["lr"] == 0.5
    assert resolved["network"]["init"]["name"] == "nielsen"
    assert resolved["training"]["shuffle"] is True
    assert {m["name"] for m in resolved["metrics"]} == {"cost", "accuracy"}


def test_overrides_reach_nested_keys_and_turn_bare_names_into_mappings():
    data = apply_overrides(
        {"optimizer": "sgd", "training": {"epochs": 3}},
        [parse_override("optimizer.lr=0.25"), parse_override("training.epochs=7")],
    )
    assert data == {"optimizer": {"name": "sgd", "lr": 0.25}, "training": {"epochs": 7}}


def test_override_values_are_parsed_as_yaml_scalars_and_lists():
    assert parse_override("network.layers=[2, 8, 2]") == ("network.layers", [2, 8, 2])
    assert parse_override("training.shuffle=false") == ("training.shuffle", False)
    assert parse_override("name=run 1") == ("name", "run 1")


def test_override_without_equals_sign_is_an_error():
    with pytest.raises(SpecError, match="KEY=VALUE"):
        parse_override("optimizer.lr")


def test_unknown_plugin_name_names_kind_location_and_closest_names():
    text = messages({**BASE, "optimizer": {"name": "adamm"}})
    assert "Unknown optimizer 'adamm' at optimizer" in text
    assert "adam" in text and "deltaw plugins" in text


def test_unknown_name_is_an_unknown_name_error_from_the_registry():
    from deltaw.registry import get_registry

    with pytest.raises(UnknownNameError, match=r"network.activation"):
        get_registry().entry("activation", "sigmoidd", where="network.activation")


def test_bad_type_names_the_location_and_the_value():
    text = messages({**BASE, "training": {"epochs": "many"}})
    assert "training.epochs" in text and "'many'" in text


def test_out_of_range_plugin_parameter_names_the_plugin_and_the_bound():
    text = messages({**BASE, "optimizer": {"name": "adam", "beta1": 1.5}})
    assert "optimizer.beta1" in text and "1.5" in text and "adam" in text


def test_unknown_key_lists_the_accepted_keys():
    text = messages({**BASE, "trainig": {"epochs": 3}})
    assert "trainig: unknown key" in text and "training" in text
    text = messages({**BASE, "optimizer": {"name": "sgd", "learning_rate": 0.1}})
    assert "optimizer.learning_rate: unknown key" in text and "lr" in text


def test_every_error_is_reported_at_once_with_the_file_name():
    text = messages({**BASE, "optimizer": {"name": "sgd", "lr": -1}, "cost": "nope", "seed": "x"})
    assert text.startswith("spec.yaml:")
    assert "seed" in text  # the skeleton fails first: its errors are complete on their own
    text = messages({**BASE, "optimizer": {"name": "sgd", "lr": -1}, "cost": "nope"})
    assert "optimizer.lr" in text and "Unknown cost 'nope'" in text and "2 problems" in text


def test_plugin_without_parameters_rejects_parameters():
    text = messages({**BASE, "cost": {"name": "quadratic", "scale": 2}})
    assert "takes no parameters" in text and "scale" in text


def test_bad_file_errors_name_the_file(tmp_path):
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad.yaml: not valid YAML"):
        load_spec(bad)
    other = tmp_path / "spec.ini"
    other.write_text("x=1")
    with pytest.raises(SpecError, match=r"unsupported spec format '.ini'"):
        load_spec(other)
    listy = tmp_path / "list.json"
    listy.write_text("[1, 2]")
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec(listy)


def test_two_weight_decays_at_once_are_an_error():
    text = messages(
        {
            **BASE,
            "optimizer": {"name": "adamw", "weight_decay": 0.01},
            "training": {"weight_decay": 0.1},
        }
    )
    assert "training.weight_decay" in text and "adamw" in text and "Set one of them to 0" in text


def test_override_of_a_left_out_plugin_section_keeps_its_default_name():
    data = apply_overrides(
        {k: v for k, v in BASE.items() if k != "optimizer"}, [parse_override("optimizer.lr=0.25")]
    )
    assert data["optimizer"] == {"name": "deltaw:sgd", "lr": 0.25}  # a default is the built-in
    assert validate_spec(data).resolved()["optimizer"] == {"name": "sgd", "lr": 0.25}
    data = apply_overrides({"name": "x"}, [parse_override("training.clip.norm=1.0")])
    assert data["training"] == {"clip": {"norm": 1.0}}


class TopK(deltaw.Metric):
    """Fraction of rows whose target class is among the k largest outputs."""

    class Params(BaseModel):
        k: int = Field(1, ge=1, description="How many of the largest outputs count.")

    def compute(self, a, y, context):
        top = np.argsort(-a, axis=1)[:, : self.params.k]
        return float((top == y.argmax(axis=1)[:, None]).any(axis=1).mean())


class MetricsPlugin:
    @deltaw.hookimpl
    def register_metrics(self, register):
        register("top-k", TopK)
        register("accuracy", TopK)  # shares a built-in's name: `extra:accuracy` picks it


def test_two_metrics_recorded_under_one_key_are_rejected_naming_both_positions():
    text = messages({**BASE, "metrics": ["accuracy", "cost", {"name": "accuracy"}]})
    assert "1 problem in the spec" in text
    assert (
        "metrics[0] (accuracy) and metrics[2] (accuracy) are both recorded as <split>_accuracy"
        in text
    )
    assert "so one would overwrite the other" in text and "list each name once" in text


def test_the_same_metric_with_other_parameters_or_from_another_plugin_is_rejected_too():
    get_registry().register_plugin(MetricsPlugin(), "extra")
    text = messages({**BASE, "metrics": [{"name": "top-k", "k": 1}, {"name": "top-k", "k": 3}]})
    assert "metrics[0] ({name: top-k, k: 1}) and metrics[1] ({name: top-k, k: 3})" in text
    assert "sweep.grid: {metrics.0.<param>: [...]}" in text
    text = messages({**BASE, "metrics": ["deltaw:accuracy", "extra:accuracy"]})
    assert "metrics[0] (deltaw:accuracy) and metrics[1] (extra:accuracy)" in text
    spec = validate_spec(
        {**BASE, "metrics": ["cost", "deltaw:accuracy", {"name": "top-k", "k": 2}]}
    )
    assert [m.name for m in spec.spec.metrics] == ["cost", "deltaw:accuracy", "top-k"]
