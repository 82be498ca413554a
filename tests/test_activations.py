"""Built-in activations: the public contract checks, reference values, and stability."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from deltaw.plugins.activations import (
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from deltaw.registry import Registry
from deltaw.testing import check_activation


def builtin_entries(kind):
    """Every built-in of a kind, from a registry with the built-ins only (new ones are
    covered automatically)."""
    reg = Registry()
    reg.load_builtins()
    return reg.entries(kind)


@pytest.mark.parametrize("entry", builtin_entries("activation"), ids=lambda e: e.name)
def test_every_builtin_activation_passes_the_public_contract_check(entry):
    check_activation(entry.cls)


@pytest.mark.parametrize(
    "act", [LeakyReLU(alpha=0.2), ELU(alpha=0.5), GELU(approximate="tanh")], ids=repr
)
def test_non_default_parameters_pass_the_contract_check(act):
    check_activation(act)


# -- reference values -----------------------------------------------------------------------

Z = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])


def sigmoid_ref(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize(
    ("act", "expected"),
    [
        (Identity(), Z),
        (Sigmoid(), sigmoid_ref(Z)),
        (Tanh(), np.tanh(Z)),
        (ReLU(), np.array([[0.0, 0.0, 0.0, 0.5, 3.0]])),
        (LeakyReLU(), np.array([[-0.02, -0.005, 0.0, 0.5, 3.0]])),
        (ELU(), np.array([[math.exp(-2) - 1, math.exp(-0.5) - 1, 0.0, 0.5, 3.0]])),
        (Softplus(), np.log1p(np.exp(Z))),
        (SiLU(), Z * sigmoid_ref(Z)),
        # z·Φ(z), from mpmath at 30 digits
        (
            GELU(),
            np.array(
                [
                    [
                        -0.04550026389635841,
                        -0.15426876936299345,
                        0.0,
                        0.34573123063700655,
                        2.9959503059051097,
                    ]
                ]
            ),
        ),
        (
            GELU(approximate="tanh"),
            0.5 * Z * (1 + np.tanh(math.sqrt(2 / math.pi) * (Z + 0.044715 * Z**3))),
        ),
        (Softmax(), np.exp(Z) / np.exp(Z).sum()),
    ],
    ids=lambda v: repr(v) if not isinstance(v, np.ndarray) else "",
)
def test_forward_matches_the_textbook_formula(act, expected):
    np.testing.assert_allclose(act.forward(Z), expected, rtol=1e-12, atol=1e-15)


def test_leaky_relu_default_slope_is_pytorchs_0_01():
    assert LeakyReLU().params.alpha == 0.01


def test_gelu_default_is_the_exact_erf_form_like_pytorch():
    assert GELU().params.approximate == "none"
    # Φ(1) = ½(1 + erf(1/√2)) = 0.841344746068543
    assert GELU().forward(np.array([1.0]))[0] == pytest.approx(0.8413447460685429, rel=1e-15)


@pytest.mark.parametrize("act", [ReLU(), LeakyReLU(alpha=0.1)], ids=repr)
def test_relu_family_derivative_at_the_kink_is_the_left_slope(act):
    z = np.zeros((1, 1))
    expected = 0.0 if isinstance(act, ReLU) else 0.1
    assert act.derivative(z, act.forward(z))[0, 0] == expected


def test_activations_with_a_corner_at_zero_declare_it_as_a_kink():
    assert ReLU.kinks == LeakyReLU.kinks == ELU.kinks == (0.0,)
    assert Sigmoid.kinks == Softplus.kinks == ()


def test_softplus_derivative_is_the_sigmoid():
    z = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(
        Softplus().derivative(z, Softplus().forward(z)), sigmoid_ref(z), rtol=1e-14
    )


def test_swish_is_the_same_activation_as_silu():
    entries = {e.name: e.cls for e in builtin_entries("activation")}
    assert entries["swish"] is entries["silu"] is SiLU


def test_softmax_backward_is_the_jacobian_vector_product():
    rng = np.random.default_rng(1)
    z, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a = Softmax().forward(z)
    for i in range(3):
        jac = np.diag(a[i]) - np.outer(a[i], a[i])  # ∂a_j/∂z_k, symmetric
        np.testing.assert_allclose(
            Softmax().backward(z, a, g)[i], g[i] @ jac, rtol=1e-12, atol=1e-15
        )


def test_softmax_declares_itself_not_elementwise_and_rows_sum_to_one():
    assert Softmax.elementwise is False
    a = Softmax().forward(np.random.default_rng(2).standard_normal((5, 7)))
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-14)


# -- numerical stability (pytest turns RuntimeWarning into errors) --------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_at_plus_minus_1000_and_below_every_normal_number_in_the_tail(dtype):
    z = np.array([[-1000.0, 1000.0]], dtype=dtype)
    a = Sigmoid().forward(z)
    assert a.dtype == dtype
    tiny = np.finfo(dtype).tiny  # σ(−1000) ≈ e^{−1000} is below it: a subnormal or 0 are both right
    assert 0.0 <= a[0, 0] < tiny and a[0, 1] == 1.0
    assert np.all(np.abs(Sigmoid().derivative(z, a)) < tiny)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_the_plain_formula_wherever_it_is_a_normal_number(dtype):
    z = np.linspace(-80.0, 80.0, 1601).astype(dtype)
    expected = 1.0 / (1.0 + np.exp(-z.astype(np.float64)))
    np.testing.assert_allclose(
        Sigmoid().forward(z), expected.astype(dtype), rtol=4 * np.finfo(dtype).eps
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_at_plus_minus_1000(dtype):
    z = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]], dtype=dtype)
    a = Softmax().forward(z)
    assert a.dtype == dtype
    np.testing.assert_array_equal(a, np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]], dtype=dtype))
    assert np.all(np.isfinite(Softmax().backward(z, a, np.ones_like(z))))


@pytest.mark.parametrize(
    "act", [Softplus(), ELU(), SiLU(), GELU(), GELU(approximate="tanh")], ids=repr
)
def test_exponential_activations_do_not_overflow_at_1000(act):
    z = np.array([[-1000.0, 1000.0]], dtype=np.float32)
    a = act.forward(z)
    np.testing.assert_allclose(a[0, 1], 1000.0)
    assert np.all(np.isfinite(act.derivative(z, a)))


# -- parameters ------------------------------------------------------------------------------


def test_parameters_are_validated():
    with pytest.raises(ValidationError):
        GELU(approximate="sigmoid")
    with pytest.raises(ValidationError):
        LeakyReLU(alpha=-0.1)
    with pytest.raises(ValidationError):
        ELU(alpah=1.0)  # unknown keys are rejected, not ignored


def test_activations_without_hyper_parameters_take_none():
    with pytest.raises(TypeError):
        Sigmoid(alpha=1.0)
