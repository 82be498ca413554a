"""Built-in initializers: the public contract check with each one's moments, plus their shapes."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from deltaw.plugins.initializers import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    Nielsen,
    NielsenLarge,
    Orthogonal,
)
from deltaw.registry import Registry
from deltaw.testing import check_initializer


def builtin_entries(kind):
    """Every built-in of a kind, from a registry with the built-ins only (new ones are covered
    automatically)."""
    reg = Registry()
    reg.load_builtins()
    return reg.entries(kind)


# Var(W) by the published formula, written out independently of the plugins' VarianceScaling.
EXPECTED_WEIGHT_VAR = {
    "nielsen-large": lambda n_in, n_out: 1.0,
    "nielsen": lambda n_in, n_out: 1.0 / n_in,
    "glorot-uniform": lambda n_in, n_out: (
        (2 * math.sqrt(6 / (n_in + n_out))) ** 2 / 12
    ),  # U(±l): l²/3
    "glorot-normal": lambda n_in, n_out: 2.0 / (n_in + n_out),
    "he-uniform": lambda n_in, n_out: (2 * math.sqrt(6 / n_in)) ** 2 / 12,
    "he-normal": lambda n_in, n_out: 2.0 / n_in,
    "lecun-normal": lambda n_in, n_out: 1.0 / n_in,
    "orthogonal": lambda n_in, n_out: 1.0 / max(n_in, n_out),  # unit columns (or rows)
    "zeros": lambda n_in, n_out: 0.0,
}
BIASES_STANDARD_NORMAL = {
    "nielsen-large",
    "nielsen",
}  # the book's; every other one starts biases at 0


def test_every_builtin_initializer_has_its_expected_moments_written_down():
    assert {e.name for e in builtin_entries("initializer")} == set(EXPECTED_WEIGHT_VAR)


@pytest.mark.parametrize("entry", builtin_entries("initializer"), ids=lambda e: e.name)
def test_every_builtin_initializer_passes_the_contract_check_with_its_published_moments(entry):
    var = EXPECTED_WEIGHT_VAR[entry.name]

    def with_gain(n_in, n_out, params):  # gain multiplies the standard deviation
        return getattr(params, "gain", 1.0) ** 2 * var(n_in, n_out)

    # a class: checked at its default gain and at gains near its bound (0.1, 3, 0.5)
    check_initializer(entry.cls, expected_mean=0.0, expected_var=with_gain)


@pytest.mark.parametrize("entry", builtin_entries("initializer"), ids=lambda e: e.name)
def test_biases_are_standard_normal_for_the_books_initializers_and_zero_otherwise(entry):
    b = entry.cls().biases(40_000, np.random.default_rng(3))
    assert b.shape == (40_000,)
    if entry.name in BIASES_STANDARD_NORMAL:
        assert abs(b.mean()) < 5 * math.sqrt(1 / 40_000)
        assert abs(b.var() - 1.0) < 5 * math.sqrt(2 / 40_000)
    else:
        assert not b.any()


@pytest.mark.parametrize(
    ("cls", "var"),
    [
        (GlorotUniform, lambda i, o: 2 / (i + o)),
        (GlorotNormal, lambda i, o: 2 / (i + o)),
        (HeUniform, lambda i, o: 2 / i),
        (HeNormal, lambda i, o: 2 / i),
        (LecunNormal, lambda i, o: 1 / i),
        (Orthogonal, lambda i, o: 1 / max(i, o)),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_gain_multiplies_the_standard_deviation(cls, var):
    gain = 5 / 3  # PyTorch's tanh gain
    check_initializer(
        cls(gain=gain), expected_mean=0.0, expected_var=lambda i, o: gain**2 * var(i, o)
    )


@pytest.mark.parametrize(
    ("cls", "limit"),
    [
        (GlorotUniform, lambda i, o: math.sqrt(6 / (i + o))),
        (HeUniform, lambda i, o: math.sqrt(6 / i)),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_uniform_initializers_stay_within_their_published_limit(cls, limit):
    w = cls().weights(300, 100, np.random.default_rng(0))
    assert np.abs(w).max() <= limit(300, 100)
    assert np.abs(w).max() > 0.99 * limit(300, 100)


@pytest.mark.parametrize(("fan_in", "fan_out"), [(50, 20), (20, 50), (30, 30)])
def test_orthogonal_weights_have_orthonormal_columns_or_rows_times_gain(fan_in, fan_out):
    w = Orthogonal(gain=2.0).weights(fan_in, fan_out, np.random.default_rng(0))
    gram = w.T @ w if fan_in >= fan_out else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(fan_in, fan_out)), atol=1e-12)


def test_the_books_initializers_use_fan_in_and_no_parameters():
    rng = np.random.default_rng(0)
    assert Nielsen().weights(400, 300, rng).std() == pytest.approx(1 / 20, rel=0.02)
    assert NielsenLarge().weights(400, 300, rng).std() == pytest.approx(1.0, rel=0.02)
    with pytest.raises(TypeError):
        Nielsen(gain=2.0)


def test_gain_must_be_positive_and_unknown_parameters_are_rejected():
    with pytest.raises(ValidationError):
        HeNormal(gain=0.0)
    with pytest.raises(ValidationError):
        GlorotUniform(mode="fan_out")
