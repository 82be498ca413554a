"""The pytest fixtures expose the kit: deltaw_check, and deltaw_plugin(..., check=True)."""

import numpy as np
import pytest

import deltaw
from deltaw.plugins.costs import Quadratic
from deltaw.plugins.schedules import Step
from deltaw.testing import check_plugin, check_registered


class HalfQuadratic(Quadratic):
    """A cost whose gradient forgot the ½ of its value: 2 × too large."""

    def value(self, a, y):
        return 0.5 * super().value(a, y)


class Hits(deltaw.Metric):
    def compute(self, a, y, context):
        return float(np.mean(a.argmax(axis=1) == y.argmax(axis=1)))


class Good:
    """One package, several kinds."""

    @deltaw.hookimpl
    def register_metrics(self, register):
        register("hits", Hits)

    @deltaw.hookimpl
    def register_schedules(self, register):
        register("steps", Step)


class Broken(Good):
    @deltaw.hookimpl
    def register_costs(self, register):
        register("half", HalfQuadratic)


def test_deltaw_check_runs_the_check_of_the_plugins_kind(deltaw_check):
    deltaw_check(Hits)
    deltaw_check.schedule(Step, epochs=12)
    assert deltaw_check.settings(Step)[0] == {"step_size": 2, "gamma": 0.1}
    with pytest.raises(AssertionError, match=r"^check_cost\(HalfQuadratic\): gradient at"):
        deltaw_check(HalfQuadratic)
    with pytest.raises(TypeError, match="is no deltaw plugin"):
        deltaw_check(object)


def test_deltaw_plugin_registers_and_checks_every_class_in_one_go(deltaw_plugin):
    deltaw_plugin(Good(), name="good", check=True)
    with pytest.raises(AssertionError, match=r"^check_cost\(HalfQuadratic\)"):
        deltaw_plugin(Broken(), name="broken", check=True)


def test_check_registered_names_what_it_checked_and_takes_options_per_name(deltaw_check):
    assert check_registered(Good(), "good") == ["metric:hits", "schedule:steps"]
    assert deltaw_check.registered(Good(), "good", options={"steps": {"epochs": 6}}) == [
        "metric:hits",
        "schedule:steps",
    ]
    with pytest.raises(AssertionError, match="HalfQuadratic"):
        check_registered(Broken(), "broken")
    check_plugin(Quadratic())
