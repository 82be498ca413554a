"""The JSON Schema of a spec: every example spec validates, and each plugin reference is checked
against that plugin's own parameters (a discriminated union by name)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import jsonschema
import pytest
from pydantic import BaseModel, ConfigDict, Field

import deltaw
from deltaw.registry import Registry
from deltaw.spec.loading import load_spec, read_spec_file
from deltaw.spec.schema import spec_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PLUGIN_PACKAGES = {
    "lion": ("deltaw-lion", "deltaw_lion"),
    "extras": ("deltaw-extras", "deltaw_extras"),
}


def example_specs() -> list[Path]:
    """Every spec file under examples/ (YAML, JSON, TOML), whoever adds it; not package metadata."""
    found = [
        p for suffix in ("*.yaml", "*.yml", "*.json", "*.toml") for p in EXAMPLES.rglob(suffix)
    ]
    return sorted(p for p in found if p.name != "pyproject.toml" and "__pycache__" not in p.parts)


def with_example_plugins() -> Registry:
    """Built-ins plus both example plugin packages, imported from their folders as if installed."""
    reg = Registry()
    reg.load_builtins()
    for plugin, (folder, module) in PLUGIN_PACKAGES.items():
        reg.register_plugin(
            importlib.import_module(module), plugin, distribution=folder, version="0.1.0"
        )
    return reg


@pytest.fixture(scope="module", autouse=True)
def _example_packages_importable():
    with pytest.MonkeyPatch.context() as mp:
        for folder, _ in PLUGIN_PACKAGES.values():
            mp.syspath_prepend(str(EXAMPLES / "plugins" / folder / "src"))
        yield
    for _, module in PLUGIN_PACKAGES.values():
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def registry():
    """Shared by the tests that only read it."""
    return with_example_plugins()


@pytest.fixture
def own_registry():
    """For tests that register or remove names."""
    return with_example_plugins()


@pytest.fixture(scope="module")
def validator(registry):
    schema = spec_schema(registry)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator, data) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)
    ]


def test_there_are_example_specs_including_ones_for_the_example_plugins():
    names = {p.relative_to(EXAMPLES).as_posix() for p in example_specs()}
    assert {
        "nielsen/chapter1.yaml",
        "plugins/deltaw-lion/example.yaml",
        "plugins/deltaw-extras/example.yaml",
    } <= names


@pytest.mark.parametrize("path", example_specs(), ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_every_example_spec_validates_against_the_schema_and_with_deltaw(path, registry, validator):
    data = read_spec_file(path)
    assert errors(validator, data) == []
    load_spec(path, registry=registry)  # the schema and deltaw's own validation agree


def test_the_schema_is_draft_2020_12_and_names_its_plugins(registry):
    schema = spec_schema(registry)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (
        "lion (deltaw-lion 0.1.0)" in schema["description"]
        and "deltaw (built-in)" in schema["description"]
    )
    assert "PluginRef" not in json.dumps(schema)


def test_each_plugin_reference_is_a_union_discriminated_by_name(registry):
    ref = spec_schema(registry)["$defs"]["OptimizerRef"]
    bare, mapping = ref["anyOf"]
    assert {"adam", "lion", "deltaw:adam", "lion:lion", "deltaw-lion:lion"} <= set(bare["enum"])
    assert mapping["discriminator"]["propertyName"] == "name"
    assert mapping["discriminator"]["mapping"]["lion"] == "#/$defs/optimizer.lion.lion"
    assert len(mapping["oneOf"]) == len(registry.names("optimizer"))


SPEC = {"data": {"name": "moons"}, "network": {"layers": [2, 3, 2]}}


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"optimizer": {"name": "lion", "beta1": 1.5}}, "optimizer", "not valid"),
        ({"optimizer": {"name": "adam", "bta1": 0.5}}, "optimizer", "not valid"),
        ({"optimizer": "adma"}, "optimizer", "not valid"),
        (
            {"cost": {"name": "log-cosh", "delta": 1.0}},
            "cost",
            "not valid",
        ),  # log-cosh takes no parameters
        ({"data": {"name": "checkerboard", "cells": 1}}, "data", "not valid"),
        (
            {"network": {"layers": [2, 2], "activation": {"name": "mish", "alpha": 1}}},
            "network.activation",
            "not valid",
        ),
        ({"regularizers": [{"name": "l2", "lmbda": -1}]}, "regularizers.0", "not valid"),
        ({"training": {"epochs": 0}}, "training.epochs", "less than the minimum"),
        ({"optimiser": "sgd"}, "", "Additional properties"),
    ],
    ids=[
        "plugin-param-out-of-range",
        "unknown-param",
        "unknown-name",
        "params-to-a-plugin-without-any",
        "dataset-param",
        "activation-param",
        "regularizer-in-a-list",
        "skeleton-field",
        "misspelt-section",
    ],
)
def test_the_schema_rejects_what_deltaw_rejects_at_the_right_place(
    validator, change, where, message
):
    found = errors(validator, {**SPEC, **change})
    assert any(e.startswith(f"{where}:") and message in e for e in found), found


@pytest.mark.parametrize(
    "change",
    [
        {"optimizer": "lion"},
        {"optimizer": {"name": "lion", "lr": 0.01, "beta1": 0.5}},
        {"optimizer": {"name": "deltaw-lion:lion"}},
        {"optimizer": "deltaw:sgd"},
        {
            "cost": "log-cosh",
            "network": {
                "layers": [2, 2],
                "activation": "mish",
                "output_activation": {"name": "softsign"},
            },
        },
        {"data": {"name": "checkerboard", "cells": 5, "noise": 0.1}},
        {"sweep": {"grid": {"optimizer.lr": [0.1, 1.0]}, "executor": {"name": "serial"}}},
    ],
    ids=[
        "bare-name",
        "mapping",
        "distribution-qualified",
        "builtin-qualified",
        "activations-and-cost",
        "dataset",
        "sweep-executor",
    ],
)
def test_the_schema_accepts_bare_qualified_and_parameterised_references(
    validator, registry, change
):
    data = {**SPEC, **change}
    assert errors(validator, data) == []
    from deltaw.spec.loading import validate_spec

    validate_spec(data, registry=registry)


def test_a_bare_name_is_accepted_exactly_when_the_plugin_has_no_required_parameter(
    registry, validator
):
    from deltaw.spec.resolve import params_model

    defs = validator.schema["$defs"]
    for entry in registry.entries():
        ref = jsonschema.Draft202012Validator(
            defs[f"{entry.kind.capitalize()}Ref"] | {"$defs": defs}
        )
        model = params_model(entry.cls)
        required = model is not None and any(f.is_required() for f in model.model_fields.values())
        assert ref.is_valid(entry.name) is not required, entry.qualified
        assert ref.is_valid({"name": entry.name}) is not required, entry.qualified


def test_a_name_two_plugins_share_is_only_accepted_qualified(own_registry):
    import types

    from deltaw.plugins.optimizers import SGD

    @deltaw.hookimpl
    def register_optimizers(register):
        register("lion", SGD)

    own_registry.register_plugin(
        types.SimpleNamespace(register_optimizers=register_optimizers),
        "fork",
        distribution="deltaw-fork",
        version="1",
    )
    v = jsonschema.Draft202012Validator(spec_schema(own_registry))
    assert errors(v, {**SPEC, "optimizer": "lion"})
    assert errors(v, {**SPEC, "optimizer": {"name": "lion"}})
    assert errors(v, {**SPEC, "optimizer": "fork:lion"}) == []
    assert errors(v, {**SPEC, "optimizer": {"name": "lion:lion", "beta2": 0.9}}) == []
    assert errors(v, {**SPEC, "optimizer": {"name": "fork:lion", "beta2": 0.9}})  # SGD has no beta2


def test_parameters_json_schema_cannot_describe_are_accepted_rather_than_rejected(own_registry):
    import types
    from collections.abc import Callable

    class Weird(deltaw.Metric):
        """A metric with a parameter type JSON Schema cannot express."""

        class Params(BaseModel):
            model_config = ConfigDict(arbitrary_types_allowed=True)
            fn: Callable[[float], float] | None = Field(None)

        def compute(self, a, y, context):
            return 0.0

    @deltaw.hookimpl
    def register_metrics(register):
        register("weird", Weird)

    own_registry.register_plugin(types.SimpleNamespace(register_metrics=register_metrics), "weird")
    v = jsonschema.Draft202012Validator(spec_schema(own_registry))
    assert errors(v, {**SPEC, "metrics": ["accuracy", {"name": "weird", "fn": None}]}) == []


def test_a_kind_with_no_registered_name_accepts_nothing(own_registry):
    for name in list(own_registry.names("callback")):
        own_registry._entries["callback"].pop(name)
    v = jsonschema.Draft202012Validator(spec_schema(own_registry))
    assert errors(v, {**SPEC, "callbacks": ["early-stopping"]})
    assert errors(v, {**SPEC, "callbacks": []}) == []
