"""deltaw.testing runs every check at several settings drawn from the plugin's own Params.

A slip that is invisible at the default parameters (a focal loss with γ = 2 written into
one term) must fail at another setting, and the message must name the setting.
"""

from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

import deltaw
from deltaw.testing import check_cost, param_settings


class Focal(deltaw.Cost):
    """Binary focal loss: C_x = −Σ_j [y (1 − p)^γ ln p + (1 − y) p^γ ln(1 − p)] (Lin et al.)."""

    domain = "unit"
    slip = False

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        gamma: float = Field(2.0, ge=0, description="focusing parameter γ")

    def value(self, a, y):
        p, g = deltaw.clip_probs(a), self.params.gamma
        c = -(y * (1 - p) ** g * np.log(p) + (1 - y) * p**g * np.log(1 - p))
        return float(c.sum(axis=-1).mean())

    def gradient(self, a, y):
        p, g = deltaw.clip_probs(a), self.params.gamma
        k = 2.0 if self.slip else g  # the slip: γ written as 2 in one term
        d1 = k * (1 - p) ** (g - 1) * np.log(p) - (1 - p) ** g / p  # ∂/∂p of the y = 1 term
        d0 = -g * p ** (g - 1) * np.log(1 - p) + p**g / (1 - p)  # ∂/∂p of the y = 0 term
        return y * d1 + (1 - y) * d0


class FocalWithASlip(Focal):
    slip = True


def test_a_correct_focal_loss_passes_at_every_setting():
    check_cost(Focal)


def test_a_slip_invisible_at_the_default_is_caught_at_another_setting_and_named():
    check_cost(FocalWithASlip(gamma=2.0))  # at γ = 2 the slip is exact: the old kit passed it
    with pytest.raises(AssertionError) as exc:
        check_cost(FocalWithASlip)
    message = str(exc.value)
    assert message.startswith("check_cost(FocalWithASlip(gamma=0.0), setting 2 of 4): gradient at")
    assert "finite differences of m·value" in message


class Everything(BaseModel):
    rate: float = Field(0.01, gt=0)
    beta: float = Field(0.9, ge=0, lt=1)
    steps: int = Field(10, ge=1)
    share: float = Field(0.5, gt=0, le=1)
    width: float = 1.5
    on: bool = False
    mode: Literal["a", "b", "c"] = "b"
    cap: int | None = Field(None, ge=2)
    name: str = "x"
    needed: float = Field(gt=0, le=4)


class Plugin(deltaw.Plugin):
    Params = Everything


def test_settings_are_the_defaults_then_values_near_each_bound_and_between():
    got = param_settings(Plugin)
    assert got == param_settings(Plugin)  # deterministic: no random draws
    assert [s["rate"] for s in got] == [0.01, 0.001, 0.03, 0.005]  # gt=0: toward 0, away, half
    assert [s["beta"] for s in got] == [0.9, 0.0, 0.95, 0.5]  # [0, 1): the bound, 5 % inside, mid
    assert [s["steps"] for s in got] == [10, 1, 28, 6]  # whole numbers
    assert [s["share"] for s in got] == [0.5, 0.05, 1.0, 0.5]
    assert [s["width"] for s in got] == [1.5, -1.5, 4.5, 2.25]  # unbounded: both signs
    assert [s["on"] for s in got] == [False, True, False, True]
    assert [s["mode"] for s in got] == ["b", "a", "c", "b"]
    assert [s["cap"] for s in got] == [None, 3, 2, 5]
    assert {s["name"] for s in got} == {"x"}  # text: the default only
    assert [s["needed"] for s in got] == [2.0, 0.2, 4.0, 2.0]  # required: from its bounds
    for s in got:
        Everything.model_validate(s)


class Either(BaseModel):
    every: int | None = Field(None, ge=1)
    best: bool = False

    @model_validator(mode="after")
    def _one(self):
        if self.every is None and not self.best:
            raise ValueError("set every or best")
        return self


class NeedsOne(deltaw.Plugin):
    Params = Either


class Nameless(deltaw.Plugin):
    class Params(BaseModel):
        path: str


def test_settings_a_cross_field_rule_refuses_are_replaced_and_text_cannot_be_invented():
    got = param_settings(NeedsOne)
    assert got and all(s["every"] is not None or s["best"] for s in got)
    assert len({repr(s) for s in got}) == len(got)
    assert param_settings(deltaw.Plugin) == [{}]
    assert len(param_settings(Plugin, n=2)) == 2
    with pytest.raises(TypeError, match=r"Nameless.Params.path is required .*\(str\)"):
        param_settings(Nameless)


def test_explicit_settings_are_used_and_an_instance_takes_none():
    with pytest.raises(AssertionError, match=r"FocalWithASlip\(gamma=0.5\), setting 2 of 2\)"):
        check_cost(FocalWithASlip, settings=[{"gamma": 2.0}, {"gamma": 0.5}])
    check_cost(FocalWithASlip, settings=[{"gamma": 2.0}])
    with pytest.raises(TypeError, match="settings apply to a class"):
        check_cost(Focal(), settings=2)
