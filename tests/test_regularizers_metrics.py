"""Built-in regularizers (the book's L2 and L1) and metrics (accuracy, total cost)."""

import numpy as np
import pytest
from pydantic import ValidationError

import deltaw
from deltaw.plugins.costs import Quadratic
from deltaw.plugins.metrics import Accuracy, TotalCost
from deltaw.plugins.regularizers import L1, L2
from deltaw.registry import Registry
from deltaw.testing import check_regularizer


def builtin_entries(kind):
    """Every built-in of a kind, from a registry with the built-ins only (new ones are covered
    automatically)."""
    reg = Registry()
    reg.load_builtins()
    return reg.entries(kind)


EXAMPLE_PARAMS = {"l2": {"lmbda": 5.0}, "l1": {"lmbda": 5.0}}  # built-ins with required parameters


@pytest.mark.parametrize("entry", builtin_entries("regularizer"), ids=lambda e: e.name)
def test_every_builtin_regularizer_passes_the_public_contract_check(entry):
    check_regularizer(entry.cls(**EXAMPLE_PARAMS.get(entry.name, {})))
    check_regularizer(entry.cls)  # λ is required: settings from its bound, 0 included


W1 = np.array([[1.0, -2.0], [0.5, 0.0]])
W2 = np.array([[3.0], [-1.0]])


def test_l2_penalty_and_gradient_follow_the_book():
    # (λ/2n)·Σw² = (5/20)·(1 + 4 + 0.25 + 0 + 9 + 1)
    assert L2(lmbda=5.0).penalty([W1, W2], n=10) == pytest.approx(0.25 * 15.25)
    np.testing.assert_array_equal(L2(lmbda=5.0).gradient(W1, n=10), 0.5 * W1)


def test_l1_penalty_and_gradient_follow_the_book():
    # (λ/n)·Σ|w| = (5/10)·(1 + 2 + 0.5 + 0 + 3 + 1); sgn(0) = 0
    assert L1(lmbda=5.0).penalty([W1, W2], n=10) == pytest.approx(0.5 * 7.5)
    np.testing.assert_array_equal(
        L1(lmbda=5.0).gradient(W1, n=10), 0.5 * np.array([[1, -1], [1, 0]])
    )


def test_l2_with_plain_sgd_is_the_books_weight_decay():
    eta, lmbda, n, grad_c0 = 0.5, 5.0, 1000, np.array([[0.1, -0.2], [0.3, 0.4]])
    w = W1 - eta * (grad_c0 + L2(lmbda=lmbda).gradient(W1, n))
    np.testing.assert_allclose(w, (1 - eta * lmbda / n) * W1 - eta * grad_c0, rtol=1e-15)


@pytest.mark.parametrize("cls", [L2, L1])
def test_lmbda_is_required_and_non_negative(cls):
    with pytest.raises(ValidationError):
        cls()
    with pytest.raises(ValidationError):
        cls(lmbda=-1.0)


@pytest.mark.parametrize("cls", [L2, L1])
def test_gradient_keeps_float32(cls):
    assert cls(lmbda=1.0).gradient(W1.astype(np.float32), n=3).dtype == np.float32


# -- metrics ---------------------------------------------------------------------------------

CTX = deltaw.EvalContext(cost=Quadratic())


def test_accuracy_compares_argmax_of_outputs_and_one_hot_targets():
    a = np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    y = np.eye(3)[[1, 0, 1, 2]]
    assert Accuracy().compute(a, y, CTX) == 0.5
    assert Accuracy().compute(a, np.array([1, 0, 1, 2]), CTX) == 0.5  # class indices work too


def test_accuracy_of_a_single_output_unit_thresholds_at_one_half():
    a = np.array([[0.9], [0.2], [0.51], [0.49]])
    y = np.array([[1.0], [0.0], [0.0], [1.0]])
    assert Accuracy().compute(a, y, CTX) == 0.5


def test_cost_metric_is_the_books_total_cost_and_lower_is_better():
    a, y = np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])
    ctx = deltaw.EvalContext(cost=Quadratic(), penalty=0.25)
    assert TotalCost().compute(a, y, ctx) == 2.5 + 0.25
    assert TotalCost.higher_is_better is False
    assert Accuracy.higher_is_better is True


def test_metrics_are_registered_as_accuracy_and_cost():
    registered = {e.name: e.cls for e in builtin_entries("metric")}
    assert registered["accuracy"] is Accuracy and registered["cost"] is TotalCost
