"""Built-in costs: the public contract checks, hand-computed values, fused deltas, clipping."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from deltaw.plugins.activations import Identity, Sigmoid, Softmax, Tanh
from deltaw.plugins.costs import MSE, CrossEntropy, Huber, LogLikelihood, Quadratic
from deltaw.registry import Registry
from deltaw.testing import check_cost


def builtin_entries(kind):
    """Every built-in of a kind, from a registry with the built-ins only (new ones are
    covered automatically)."""
    reg = Registry()
    reg.load_builtins()
    return reg.entries(kind)


@pytest.mark.parametrize("entry", builtin_entries("cost"), ids=lambda e: e.name)
def test_every_builtin_cost_passes_the_public_contract_check(entry):
    check_cost(entry.cls)


def test_real_valued_costs_also_pass_with_a_tanh_output():
    for cost in (Quadratic(), MSE(), Huber(delta=0.3)):
        check_cost(cost, output_activations=[Tanh()])


# -- hand-computed values -------------------------------------------------------------------

A = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 1.0]])
Y = np.array([[0.0, 2.0, 0.0], [1.0, 1.0, 1.0]])  # errors [1, 0, 0] and [2, 3, 0]


def test_quadratic_is_half_the_squared_error_averaged_over_rows():
    # ½·1 = 0.5 and ½·(4 + 9) = 6.5 → mean 3.5
    assert Quadratic().value(A, Y) == 3.5
    np.testing.assert_array_equal(Quadratic().gradient(A, Y), A - Y)


def test_mse_is_the_mean_over_outputs_without_a_half_like_pytorch():
    # (1/3)·1 and (1/3)·13 → mean 7/3; ∂/∂a = 2(a − y)/3
    assert MSE().value(A, Y) == pytest.approx(7 / 3, rel=1e-15)
    np.testing.assert_allclose(MSE().gradient(A, Y), 2 * (A - Y) / 3, rtol=1e-15)


def test_huber_is_quadratic_inside_delta_linear_outside_and_summed_over_outputs():
    a, y = np.array([[0.5, -2.0, 3.0]]), np.zeros((1, 3))
    assert Huber().value(a, y) == pytest.approx(0.125 + 1.5 + 2.5)  # ½·0.25, 1·(2 − ½), 1·(3 − ½)
    assert Huber(delta=2.0).value(a, y) == pytest.approx(
        0.125 + 2.0 + 4.0
    )  # ½·0.25, ½·4, 2·(3 − 1)
    np.testing.assert_array_equal(Huber().gradient(a, y), [[0.5, -1.0, 1.0]])
    assert Huber().params.delta == 1.0


def test_cross_entropy_sums_binary_entropies_over_outputs():
    a, y = np.array([[0.8, 0.3], [0.1, 0.6]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    expected = -(math.log(0.8) + math.log(0.7) + math.log(0.9) + math.log(0.6)) / 2
    assert CrossEntropy().value(a, y) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(CrossEntropy().gradient(a, y), (a - y) / (a * (1 - a)), rtol=1e-14)


def test_log_likelihood_is_minus_log_of_the_true_class_probability():
    a = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert LogLikelihood().value(a, y) == pytest.approx(
        -(math.log(0.7) + math.log(0.5)) / 2, rel=1e-14
    )
    np.testing.assert_allclose(LogLikelihood().gradient(a, y), -y / a)


def test_values_are_python_floats():
    for cost, a, y in [
        (Quadratic(), A, Y),
        (CrossEntropy(), A / 5, Y / 3),
        (LogLikelihood(), A / 5, Y / 3),
    ]:
        assert type(cost.value(a.astype(np.float32), y.astype(np.float32))) is float


# -- saturation: clipping, 0·ln 0 (pytest turns RuntimeWarning into errors) -------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_of_perfect_saturated_outputs_is_zero_without_warnings(dtype):
    a = np.array([[0.0, 1.0]], dtype=dtype)
    assert CrossEntropy().value(a, a.copy()) == pytest.approx(0.0, abs=1e-6)
    assert LogLikelihood().value(a, a.copy()) == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.isfinite(CrossEntropy().gradient(a, a.copy())))


@pytest.mark.parametrize(("dtype", "eps"), [(np.float64, 1e-12), (np.float32, 1e-7)])
def test_completely_wrong_saturated_output_costs_minus_log_eps_of_its_dtype(dtype, eps):
    a, y = np.array([[0.0, 1.0]], dtype=dtype), np.array([[1.0, 0.0]], dtype=dtype)
    upper = float(dtype(1.0) - dtype(eps))  # 1 − ε, rounded in the dtype
    assert CrossEntropy().value(a, y) == pytest.approx(
        -math.log(eps) - math.log(1.0 - upper), rel=1e-5
    )
    assert LogLikelihood().value(a, y) == pytest.approx(-math.log(eps), rel=1e-5)
    assert np.all(np.isfinite(LogLikelihood().gradient(a, y)))


# -- fused output deltas ----------------------------------------------------------------------

Z = np.array([[-30.0, -1.0, 0.5, 40.0]])


def test_cross_entropy_with_sigmoid_gives_a_minus_y_even_when_saturated():
    a, y = Sigmoid().forward(Z), np.array([[1.0, 0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(CrossEntropy().output_delta(Z, a, y, Sigmoid()), a - y)
    # the generic path would lose the saturated units: σ'(40) underflows to 0
    assert CrossEntropy().output_delta(Z, a, y, Sigmoid())[0, 3] == pytest.approx(1.0)


def test_log_likelihood_with_softmax_gives_a_minus_y():
    a, y = Softmax().forward(Z), np.array([[0.0, 1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(LogLikelihood().output_delta(Z, a, y, Softmax()), a - y)


def test_quadratic_with_identity_gives_a_minus_y():
    np.testing.assert_array_equal(Quadratic().output_delta(A, A, Y, Identity()), A - Y)


def test_unfused_pairs_fall_back_to_the_generic_path():
    z = np.array([[0.3, 0.2, 1.5]])  # tanh outputs in (0, 1), so cross-entropy applies
    a, y = Tanh().forward(z), np.array([[0.1, 0.9, 0.4]])
    for cost in (Quadratic(), CrossEntropy()):
        expected = cost.gradient(a, y) * (1 - a * a)
        np.testing.assert_allclose(cost.output_delta(z, a, y, Tanh()), expected, rtol=1e-14)
    np.testing.assert_allclose(
        Quadratic().output_delta(z, a, y, Sigmoid()), (a - y) * a * (1 - a), rtol=1e-14
    )


def test_huber_delta_must_be_positive():
    with pytest.raises(ValidationError):
        Huber(delta=0.0)
