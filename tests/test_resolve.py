"""Plugin references are resolved once, by one function: validation, build and the probe share
it."""

from collections import Counter

import numpy as np
import pytest

import deltaw.runs.probe as probe
import deltaw.spec.resolve as resolving
from deltaw.errors import ParamsError, SpecError, UnknownNameError
from deltaw.registry import Registry, get_registry
from deltaw.spec.build import build
from deltaw.spec.loading import validate_spec
from deltaw.spec.models import PluginRef, Spec
from deltaw.spec.resolve import ResolvedSpec, resolve

BASE = {
    "name": "tiny",
    "seed": 3,
    "data": {"name": "xor", "samples": 40},
    "network": {"layers": [2, 4, 2], "activation": "tanh", "output_activation": "sigmoid"},
    "cost": "cross-entropy",
    "optimizer": {"name": "adam", "lr": 0.01},
    "regularizers": [{"name": "l2", "lmbda": 0.5}],
    "schedule": {"name": "step", "step_size": 2},
    "callbacks": [{"name": "early-stopping", "patience": 3}],
    "training": {"epochs": 2, "batch_size": 10},
}


@pytest.fixture
def lookups(monkeypatch):
    """Every registry look-up, counted by (kind, location)."""
    get_registry()  # loaded before counting: loading itself looks nothing up
    seen: Counter = Counter()
    real = Registry.entry

    def counting(self, kind_name, name, where=None):
        seen[(kind_name, where)] += 1
        return real(self, kind_name, name, where)

    monkeypatch.setattr(Registry, "entry", counting)
    return seen


def same_experiment(a, b):
    assert a.spec == b.spec and a.plugins_used == b.plugins_used
    for x, y in zip(a.network.params(), b.network.params()):
        np.testing.assert_array_equal(x, y)
    assert [name for name, _ in a.data.items()] == [name for name, _ in b.data.items()]
    for (_, x), (_, y) in zip(a.data.items(), b.data.items()):
        np.testing.assert_array_equal(x.x, y.x)
        np.testing.assert_array_equal(x.y, y.y)
    assert type(a.cost) is type(b.cost)
    assert (type(a.optimizer), a.optimizer.params) == (type(b.optimizer), b.optimizer.params)
    assert [r.params for r in a.regularizers] == [r.params for r in b.regularizers]
    assert {k: type(m) for k, m in a.metrics.items()} == {k: type(m) for k, m in b.metrics.items()}
    assert a.schedule.params == b.schedule.params
    assert [c.params for c in a.callbacks] == [c.params for c in b.callbacks]
    assert a.shuffle_rng.bit_generator.state == b.shuffle_rng.bit_generator.state


def test_a_plugin_reference_is_plain_data_that_validation_leaves_as_written():
    assert PluginRef.__private_attributes__ == {}
    resolved = validate_spec(BASE)
    assert resolved.spec == Spec.model_validate(BASE)
    assert resolved.spec.optimizer.model_dump() == {"name": "adam", "lr": 0.01}
    assert resolved.plugins["optimizer"].params.beta1 == 0.9  # the default lives in the resolution


def test_validation_looks_every_name_up_once_and_build_never_again(lookups):
    resolved = validate_spec(BASE)
    locations = [where for _, where, _ in resolved.spec.plugin_refs()]
    assert list(resolved.plugins) == locations
    assert sorted(lookups.values()) == [1] * len(locations)
    before = sum(lookups.values())
    build(resolved)
    build(resolved, load_data=False)
    assert sum(lookups.values()) == before


def test_validation_resolves_through_the_one_function(monkeypatch):
    calls = []

    def recording(registry, kind, location, ref, source="<spec>"):
        calls.append((kind, location, ref.name, source))
        return resolve(registry, kind, location, ref, source)

    monkeypatch.setattr(resolving, "resolve", recording)
    validate_spec(BASE, source="s.yaml")
    assert calls[:2] == [
        ("dataset", "data", "xor", "s.yaml"),
        ("activation", "network.activation", "tanh", "s.yaml"),
    ]
    assert len(calls) == len(Spec.model_validate(BASE).plugin_refs())


def test_an_unvalidated_spec_builds_the_same_experiment_as_a_validated_one(lookups):
    plain = build(Spec.model_validate(BASE))  # resolved on the way, each reference once
    assert sorted(lookups.values()) == [1] * len(Spec.model_validate(BASE).plugin_refs())
    same_experiment(plain, build(validate_spec(BASE)))


def test_an_unvalidated_spec_with_bad_references_reports_them_all_when_built():
    spec = Spec.model_validate(
        {**BASE, "cost": "nope", "optimizer": {"name": "adam", "lr": -1, "beta9": 0}}
    )
    with pytest.raises(SpecError) as info:
        build(spec, source="mine.yaml")
    text = str(info.value)
    assert text.startswith("mine.yaml: 3 problems in the spec:")
    assert "Unknown cost 'nope' at cost." in text
    assert "optimizer.lr: Input should be greater than 0 (optimizer 'adam'); got -1." in text
    assert "optimizer.beta9: unknown key (optimizer 'adam'); accepted keys here:" in text


def test_a_resolution_keeps_the_name_as_written_and_knows_its_plugin():
    ref = PluginRef.model_validate({"name": "deltaw:momentum", "lr": 0.1})
    found = resolve(get_registry(), "optimizer", "optimizer", ref, "s.yaml")
    assert (found.kind, found.location, found.name) == ("optimizer", "optimizer", "deltaw:momentum")
    assert found.qualified == "deltaw:momentum" and found.cls is found.entry.cls
    assert found.dump() == {"name": "deltaw:momentum", **found.params.model_dump(mode="json")}
    one, two = found.build(), found.build()
    assert one is not two and type(one) is found.cls and one.params.lr == 0.1


def test_resolve_says_what_is_wrong_with_each_reference():
    registry = get_registry()
    with pytest.raises(UnknownNameError, match="Unknown cost 'nope' at --cost"):
        resolve(registry, "cost", "--cost", PluginRef(name="nope"))
    bare = PluginRef.model_validate({"name": "sigmoid", "alpha": 1})
    with pytest.raises(ParamsError) as info:
        resolve(registry, "activation", "network.activation", bare, "s.yaml")
    expected = "network.activation: activation 'sigmoid' takes no parameters, got alpha."
    assert str(info.value) == expected and info.value.problems == [expected]
    bad = PluginRef.model_validate({"name": "l2", "lmbda": "x"})
    with pytest.raises(ParamsError) as info:
        resolve(registry, "regularizer", "regularizers[0]", bad, "s.yaml")
    assert str(info.value).startswith("s.yaml: 1 problem in the spec:\n  - regularizers[0].lmbda:")
    assert len(info.value.problems) == 1


def test_the_probe_resolves_its_options_through_the_same_function(monkeypatch):
    assert probe.resolve is resolving.resolve
    calls = []

    def recording(registry, kind, location, ref, source="<spec>"):
        calls.append((kind, location, ref.name))
        return resolve(registry, kind, location, ref, source)

    monkeypatch.setattr(probe, "resolve", recording)
    p = probe.from_layers(
        "2,3,2", activation="{name: leaky-relu, alpha: 0.2}", cost="cross-entropy"
    )
    assert calls == [
        ("activation", "--activation", "leaky-relu"),
        ("cost", "--cost", "cross-entropy"),
        ("initializer", "--init", "deltaw:nielsen"),  # a default is always the built-in
    ]
    assert p.layer_names == ["leaky-relu(alpha=0.2)", "leaky-relu(alpha=0.2)"]
    assert p.network.activations[0].params.alpha == 0.2


def test_the_probe_words_a_bad_option_like_before():
    with pytest.raises(SpecError) as info:
        probe.from_layers("2,3,2", activation="{name: sigmoid, alpha: 1}")
    assert str(info.value) == "--activation: activation 'sigmoid' takes no parameters, got alpha."
    with pytest.raises(SpecError) as info:
        probe.from_layers("2,3,2", activation="{name: leaky-relu, alpha: x}")
    assert str(info.value).startswith(
        "--activation: 1 problem in the spec:\n  - --activation.alpha: "
    )


def test_a_resolved_spec_is_frozen_plain_data():
    resolved = validate_spec(BASE)
    assert isinstance(resolved, ResolvedSpec)
    with pytest.raises(AttributeError):
        resolved.spec = Spec.model_validate(BASE)
    assert [r.location for r in resolved.listed("regularizers")] == ["regularizers[0]"]
    assert resolved.resolved()["schedule"] == resolved.plugins["schedule"].dump()


def test_a_params_error_keeps_its_problems_across_processes():
    import pickle

    error = pickle.loads(pickle.dumps(ParamsError("s.yaml: 2 problems", ["a: x.", "b: y."])))
    assert (str(error), error.problems, error.exit_code) == (
        "s.yaml: 2 problems",
        ["a: x.", "b: y."],
        2,
    )
