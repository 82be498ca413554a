"""deltaw.core.gradcheck: per-layer results, kinks, and a diagnosis that names the broken plugin."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deltaw
from deltaw.core.gradcheck import gradcheck, relative_error
from deltaw.core.network import Network
from deltaw.plugins.activations import ReLU, Sigmoid, Softmax, Tanh
from deltaw.plugins.costs import CrossEntropy, LogLikelihood, Quadratic
from deltaw.plugins.regularizers import L2


class WrongTanh(deltaw.Activation):
    """tanh with the derivative of the sigmoid-from-a formula: a(1 − a) instead of 1 − a²."""

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        return a * (1.0 - a)


class DoubledQuadratic(deltaw.Cost):
    """½‖a − y‖² whose gradient forgot the ½: 2(a − y)."""

    def value(self, a, y):
        return float(0.5 * np.sum((a - y) ** 2) / len(a))

    def gradient(self, a, y):
        return 2.0 * (a - y)


class BadFusedCrossEntropy(CrossEntropy):
    """Right value and gradient, but a fused δᴸ with the wrong sign."""

    def output_delta(self, z, a, y, activation):
        return y - a


class SlowCrossEntropy(CrossEntropy):
    """A right fused δᴸ = a − y with sigmoid, but a gradient off by a factor 1.5."""

    def gradient(self, a, y):
        return 1.5 * super().gradient(a, y)


class HalfL2(L2):
    def gradient(self, w, n):
        return 0.5 * super().gradient(w, n)


def _net(acts, sizes=(3, 4, 4, 2), seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    net = Network(list(sizes), acts, dtype=dtype)
    net.weights = [rng.normal(0, 0.8, W.shape).astype(dtype) for W in net.weights]
    net.biases = [rng.normal(0, 0.5, b.shape).astype(dtype) for b in net.biases]
    x = rng.normal(size=(3, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 3)]
    return net, x, y


def test_a_correct_network_passes_with_tiny_errors_in_every_layer():
    net, x, y = _net([Sigmoid(), Tanh(), Softmax()])
    report = gradcheck(net, LogLikelihood(), x, y)
    assert report.passed, report.diagnosis()
    assert [(p.layer, p.param) for p in report.params] == [
        (2, "w"),
        (2, "b"),
        (3, "w"),
        (3, "b"),
        (4, "w"),
        (4, "b"),
    ]
    assert all(p.max_error < 1e-7 for p in report.params)
    assert report.checked == sum(W.size + b.size for W, b in zip(net.weights, net.biases))
    assert "agrees" in report.diagnosis()


def test_a_float32_network_is_checked_in_float64_and_left_untouched():
    net, x, y = _net([Sigmoid(), Sigmoid(), Sigmoid()], dtype="float32")
    before = [p.copy() for p in net.params()]
    report = gradcheck(net, Quadratic(), x.astype(np.float32), y.astype(np.float32))
    assert report.passed, report.diagnosis()
    assert report.dtype == "float32"
    assert (
        max(p.max_error for p in report.params) < 1e-6
    )  # float32 arithmetic could not get near this
    assert all(np.array_equal(a, b) and a.dtype == np.float32 for a, b in zip(net.params(), before))


def test_a_wrong_hidden_derivative_is_pinned_on_its_layer_and_activation():
    net, x, y = _net([Sigmoid(), WrongTanh(), Sigmoid()])
    report = gradcheck(
        net,
        Quadratic(),
        x,
        y,
        layer_names=["sigmoid", "wrong-tanh", "sigmoid"],
        cost_name="quadratic",
    )
    assert not report.passed
    by = {(p.layer, p.param): p for p in report.params}
    assert by[(4, "w")].passed and by[(4, "b")].passed  # above the broken layer: still right
    assert (
        not by[(3, "w")].passed and not by[(2, "w")].passed
    )  # the broken layer and everything below it
    bad = [c for c in report.components if not c.passed]
    assert [(c.what, c.name, c.layer) for c in bad] == [("activation", "wrong-tanh", 3)]
    text = report.diagnosis()
    assert "layer 3's activation 'wrong-tanh'" in text
    assert "layers 3, 2" in text


def test_a_wrong_cost_gradient_is_blamed_on_the_output_layer_and_the_cost():
    net, x, y = _net([Sigmoid(), Sigmoid(), Sigmoid()])
    report = gradcheck(net, DoubledQuadratic(), x, y, cost_name="doubled")
    assert not report.passed
    assert not any(p.passed for p in report.params)  # δᴸ is wrong, so every layer is
    text = report.diagnosis()
    assert "output layer is wrong" in text and "'doubled'" in text
    assert "ratio 2" in text  # how wrong: backprop is twice the truth
    assert [c.what for c in report.components if not c.passed] == ["cost"]


def test_a_wrong_fused_output_delta_fails_while_its_gradient_is_right():
    net, x, y = _net([Tanh(), Tanh(), Sigmoid()])
    report = gradcheck(net, BadFusedCrossEntropy(), x, y, cost_name="bad-ce")
    assert not report.passed
    assert [c.what for c in report.components if not c.passed] == ["output delta"]


def test_a_wrong_gradient_behind_a_right_fused_delta_is_blamed_on_gradient_alone():
    net, x, y = _net([Tanh(), Tanh(), Sigmoid()])
    report = gradcheck(net, SlowCrossEntropy(), x, y, cost_name="slow-ce")
    assert all(p.passed for p in report.params)  # backprop uses the fused δ: every layer is right
    assert not report.passed
    assert [c.what for c in report.components if not c.passed] == ["cost"]
    fused = next(c for c in report.components if c.what == "output delta")
    assert fused.passed and "finite differences of value(forward(z), y)" in fused.check
    text = report.diagnosis()
    assert "cost 'slow-ce': gradient(a, y)/m gives" in text
    assert "Cost.gradient is wrong, but its fused output_delta with 'Sigmoid' is right" in text
    assert "output_delta(z, a, y)" not in text  # the fused method is not blamed


def test_parameters_at_a_declared_kink_are_reported_not_failed():
    net = Network(
        [3, 4, 2], [ReLU(), Sigmoid()]
    )  # all-zero weights: every z of the ReLU layer is exactly 0
    x = np.ones((2, 3))
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    net.weights[1][:] = 0.5
    report = gradcheck(net, Quadratic(), x, y)
    assert report.passed, report.diagnosis()
    assert report.params[0].at_kinks == 12 and report.params[1].at_kinks == 4
    assert "at a kink" in report.diagnosis()


def test_an_undeclared_kink_is_not_hidden():
    class PlainReLU(ReLU):
        kinks = ()

    net = Network([3, 4, 2], [PlainReLU(), Sigmoid()])
    net.weights[1][:] = 0.5
    report = gradcheck(net, Quadratic(), np.ones((2, 3)), np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert not report.passed  # the finite difference straddles the kink and disagrees


def test_per_param_checks_a_random_subset_of_large_arrays():
    net, x, y = _net([Sigmoid(), Sigmoid()], sizes=(20, 10, 2))
    report = gradcheck(net, Quadratic(), x, y, per_param=7, rng=np.random.default_rng(1))
    assert [p.checked for p in report.params] == [7, 7, 7, 2]
    assert len(set(report.params[0].indices)) == 7


def test_a_wrong_regularizer_gradient_is_reported():
    net, x, y = _net([Sigmoid(), Sigmoid(), Sigmoid()])
    ok = gradcheck(
        net, Quadratic(), x, y, regularizers=[L2(lmbda=5.0)], n=100, regularizer_names=["l2"]
    )
    assert ok.passed
    bad = gradcheck(
        net,
        Quadratic(),
        x,
        y,
        regularizers=[HalfL2(lmbda=5.0)],
        n=100,
        regularizer_names=["half-l2"],
    )
    assert [c.name for c in bad.components if not c.passed] == ["half-l2"]


def test_the_report_is_plain_json():
    net, x, y = _net([Sigmoid(), WrongTanh(), Sigmoid()])
    data = json.loads(json.dumps(gradcheck(net, Quadratic(), x, y).to_dict()))
    assert data["passed"] is False
    assert {
        "layer",
        "param",
        "checked",
        "max_error",
        "median_error",
        "worst",
        "worst_backprop",
        "worst_numeric",
        "at_kinks",
        "passed",
    } <= set(data["params"][0])
    assert data["diagnosis"].startswith("Backprop disagrees")


@pytest.mark.parametrize(
    ("got", "ref", "expected"),
    [(1.0, 1.0, 0.0), (2.0, 1.0, 0.5), (1e-12, 0.0, 1e-9), (0.0, 0.0, 0.0)],
)
def test_relative_error_is_relative_above_the_floor_and_absolute_below(got, ref, expected):
    assert relative_error(got, ref, floor=1e-3) == pytest.approx(expected)
