"""A fused pair is recognised through the public Activation.computes, not plugin internals.

A third-party cost fuses with the built-in softmax, and a third-party softmax gets the
built-in log-likelihood's fused δ, without importing deltaw.plugins; an activation that
claims a function it does not compute is caught by the kit.
"""

import numpy as np
import pytest

import deltaw
from deltaw.core.base import STANDARD_ACTIVATIONS
from deltaw.testing import check_activation, check_cost


class SoftmaxCrossEntropy(deltaw.Cost):
    """A third party's categorical cross-entropy, fused with any softmax."""

    domain = "simplex"
    fused_calls = 0

    def value(self, a, y):
        return float(-deltaw.xlogy(y, deltaw.clip_probs(a)).sum(axis=-1).mean())

    def gradient(self, a, y):
        return -y / deltaw.clip_probs(a)

    def output_delta(self, z, a, y, activation):
        if activation.computes == "softmax":  # public: whoever wrote the softmax
            type(self).fused_calls += 1
            return a - y
        return super().output_delta(z, a, y, activation)


class FastSoftmax(deltaw.Activation):
    """A third party's softmax: says so, and gets every fused δ a cost has for softmax."""

    elementwise = False
    computes = "softmax"

    def forward(self, z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, z, a, grad):
        return a * (grad - (grad * a).sum(axis=-1, keepdims=True))


def test_a_third_party_cost_fuses_with_the_builtin_softmax(deltaw_registry):
    softmax = deltaw_registry.entry("activation", "softmax").cls()  # as a spec would build it
    assert softmax.computes == "softmax"
    check_cost(SoftmaxCrossEntropy)
    z = np.random.default_rng(0).standard_normal((4, 3))
    a, y = softmax.forward(z), np.eye(3)[[0, 2, 1, 1]]
    before = SoftmaxCrossEntropy.fused_calls
    delta = SoftmaxCrossEntropy().output_delta(z, a, y, softmax)
    assert SoftmaxCrossEntropy.fused_calls == before + 1
    assert np.array_equal(delta, a - y)


def test_a_third_party_softmax_gets_the_builtin_costs_fused_delta(deltaw_registry):
    check_activation(FastSoftmax)
    z = np.random.default_rng(1).standard_normal((4, 3))
    a, y = FastSoftmax().forward(z), np.eye(3)[[0, 2, 1, 1]]
    for name, fused in (("log-likelihood", a - y), ("kl-divergence", a - y)):
        cost = deltaw_registry.entry("cost", name).cls()
        assert np.array_equal(cost.output_delta(z, a, y, FastSoftmax()), fused), name
    check_cost(
        deltaw_registry.entry("cost", "log-likelihood").cls, output_activations=[FastSoftmax]
    )


def test_every_builtin_that_declares_a_function_computes_it(deltaw_registry):
    declared = {e.name: e.cls.computes for e in deltaw_registry.entries("activation")}
    assert {k: v for k, v in declared.items() if v} == {
        "identity": "identity",
        "sigmoid": "sigmoid",
        "tanh": "tanh",
        "softmax": "softmax",
    }
    assert set(STANDARD_ACTIVATIONS) == {"identity", "sigmoid", "tanh", "softmax"}


class ScaledSigmoid(deltaw.Activation):
    """2σ(z) − 1 (tanh(z/2)), wrongly declared as the sigmoid: a cost would fuse a − y."""

    computes = "sigmoid"

    def forward(self, z):
        return 2.0 * deltaw.sigmoid(z) - 1.0

    def derivative(self, z, a):
        return 0.5 * (1.0 - a * a)


class Typo(FastSoftmax):
    computes = "softmx"


def test_an_activation_claiming_a_function_it_does_not_compute_is_caught():
    with pytest.raises(
        AssertionError,
        match=r"^check_activation\(ScaledSigmoid\): declares computes = 'sigmoid' \(costs fuse "
        r"their δ by it\) but forward at z\[\d,\d\]=-?[\d.]+ is -?[\d.]+ but sigmoid\(z\) would",
    ):
        check_activation(ScaledSigmoid)
    with pytest.raises(AssertionError, match=r"declares computes = 'softmx'; use one of identity"):
        check_activation(Typo)
