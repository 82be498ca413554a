"""The whole network's backprop against central finite differences, for every built-in.

Every built-in cost is paired with every built-in output activation whose
outputs fit the cost's ``domain`` (any output for "real" costs, outputs in
(0, 1) for "unit", rows summing to 1 for "simplex"); every built-in hidden
activation is checked under two outputs. The list comes from the registry, so
a new built-in is covered without touching this file. Costs that fuse δᴸ
(``output_delta``) are checked both fused and through the generic
∇ₐC ⊙ σ'(z) path. Float64, random points away from the activations' kinks
and the cost's (``kink_distance``: the hinge at its margin).
"""

from __future__ import annotations

import numpy as np
import pytest

from deltaw.core.base import Activation, Cost, overrides, uses_derivative
from deltaw.core.network import Network
from deltaw.registry import Registry

TOL = 1e-6
EPS = 1e-5
KINK_MARGIN = 1e-3  # redraw the network if a z or an output comes this close to a declared kink


def _builtins() -> Registry:
    reg = Registry()
    reg.load_builtins()
    return reg


BUILTINS = _builtins()
ACTIVATIONS = BUILTINS.names("activation")
COSTS = BUILTINS.names("cost")


def _activation(name: str) -> Activation:
    return BUILTINS.entry("activation", name).cls()


def _cost(name: str) -> Cost:
    return BUILTINS.entry("cost", name).cls()


def _fits(domain: str, act: Activation) -> bool:
    """Do the activation's outputs, over a wide range of z, lie in the cost's domain?"""
    z = np.random.default_rng(0).normal(0, 5, (50, 3))
    a = act.forward(z)
    if domain == "unit":
        return bool(np.all((a > 0) & (a < 1)))
    if domain == "simplex":
        return bool(np.all(a > 0) and np.allclose(a.sum(axis=1), 1.0))
    return True


PAIRS = [
    (c, o)
    for c in COSTS
    for o in ACTIVATIONS
    if _fits(getattr(_cost(c), "domain", "real"), _activation(o))
]
FUSED = [c for c in COSTS if overrides(_cost(c), Cost, "output_delta")]


class Generic(Cost):
    """The same cost without its fused output_delta: δᴸ through the output activation's backward."""

    def __init__(self, inner: Cost) -> None:
        super().__init__()
        self.inner = inner

    def value(self, a, y):
        return self.inner.value(a, y)

    def gradient(self, a, y):
        return self.inner.gradient(a, y)


def _network(
    hidden: str, output: str, seed: int, cost: Cost | None = None
) -> tuple[Network, np.ndarray, np.ndarray]:
    """A [3, 4, 4, 3] float64 network and 3 samples, redrawn until nothing sits near a kink."""
    for attempt in range(50):
        rng = np.random.default_rng(seed * 100 + attempt)
        net = Network([3, 4, 4, 3], [_activation(hidden), _activation(hidden), _activation(output)])
        net.weights = [rng.normal(0, 0.8, W.shape) for W in net.weights]
        net.biases = [rng.normal(0, 0.5, b.shape) for b in net.biases]
        x = rng.normal(size=(3, 3))
        y = np.eye(3)[rng.integers(0, 3, 3)]
        zs, acts = net.forward(x)
        d = cost.kink_distance(acts[-1], y) if cost is not None else None
        if all(
            abs(z - k).min() > KINK_MARGIN for act, z in zip(net.activations, zs) for k in act.kinks
        ) and (d is None or d.min() > KINK_MARGIN):
            return net, x, y
    raise AssertionError("could not draw a network away from kinks")


def _max_error(net: Network, cost: Cost, x: np.ndarray, y: np.ndarray) -> tuple[float, str]:
    """Largest |bp − fd| / max(|bp|, |fd|, 1e-3·max(1, C)) over every parameter, and where."""
    nabla_w, nabla_b = net.backprop(x, y, cost)
    floor = 1e-3 * max(1.0, abs(cost.value(net.feedforward(x), y)))
    worst, where = 0.0, ""
    for l in range(net.num_layers):
        for name, p, g in (("W", net.weights[l], nabla_w[l]), ("b", net.biases[l], nabla_b[l])):
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + EPS
                up = cost.value(net.feedforward(x), y)
                p[idx] = old - EPS
                down = cost.value(net.feedforward(x), y)
                p[idx] = old
                fd = (up - down) / (2 * EPS)
                err = abs(g[idx] - fd) / max(abs(g[idx]), abs(fd), floor)
                if not err <= worst:
                    worst, where = (
                        err,
                        f"{name}[{l}]{list(idx)}: backprop {g[idx]:.6g},"
                        f" finite differences {fd:.6g}",
                    )
    return worst, where


def test_every_cost_has_at_least_one_output_activation_to_pair_with():
    assert {c for c, _ in PAIRS} == set(COSTS)
    assert ("log-likelihood", "softmax") in PAIRS and ("cross-entropy", "sigmoid") in PAIRS
    assert ("log-likelihood", "identity") not in PAIRS  # identity outputs are not probabilities


@pytest.mark.parametrize(("cost", "output"), PAIRS, ids=[f"{c}-{o}" for c, o in PAIRS])
def test_backprop_matches_finite_differences_for_each_cost_and_output_activation(cost, output):
    net, x, y = _network("tanh", output, seed=len(cost) + len(output), cost=_cost(cost))
    err, where = _max_error(net, _cost(cost), x, y)
    assert err < TOL, f"{cost} with {output} output: relative error {err:.2e} at {where}"


@pytest.mark.parametrize(
    ("cost", "output"), [p for p in PAIRS if p[0] in FUSED], ids=lambda v: str(v)
)
def test_fused_output_delta_and_generic_path_both_match_finite_differences(cost, output):
    net, x, y = _network("sigmoid", output, seed=3, cost=_cost(cost))
    fused, generic = _cost(cost), Generic(_cost(cost))
    err_fused, where = _max_error(net, fused, x, y)
    err_generic, where_g = _max_error(net, generic, x, y)
    assert err_fused < TOL, f"fused: {where}"
    assert err_generic < TOL, f"generic: {where_g}"
    np.testing.assert_allclose(
        net.backprop(x, y, fused)[0][-1], net.backprop(x, y, generic)[0][-1], rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("hidden", ACTIVATIONS)
@pytest.mark.parametrize(
    ("cost", "output"), [("quadratic", "sigmoid"), ("log-likelihood", "softmax")]
)
def test_backprop_matches_finite_differences_for_every_hidden_activation(hidden, cost, output):
    net, x, y = _network(hidden, output, seed=len(hidden))
    err, where = _max_error(net, _cost(cost), x, y)
    assert err < TOL, f"hidden {hidden}: relative error {err:.2e} at {where}"


def test_the_check_itself_catches_a_wrong_derivative():
    class HalfSlopeTanh(Activation):
        def forward(self, z):
            return np.tanh(z)

        def derivative(self, z, a):
            return 0.5 * (1.0 - a * a)  # wrong by a factor of 2

    net, x, y = _network("tanh", "sigmoid", seed=1)
    net.activations[0] = HalfSlopeTanh()
    err, _ = _max_error(net, _cost("quadratic"), x, y)
    assert err > 0.1


# -- BP2: which of its methods the network asks of an activation ------------------------------


class Tanh(Activation):
    """tanh that records which of its methods the network called."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        self.calls.append("derivative")
        return 1.0 - a * a


class FastTanh(Tanh):
    """Elementwise, with its own (here: equal) backward, as a plugin might write for speed."""

    def backward(self, z, a, grad):
        self.calls.append("backward")
        return grad * (1.0 - a * a)


class DeclaredNonElementwise(Tanh):
    elementwise = False  # keeps the base backward, which is grad ⊙ derivative


@pytest.mark.parametrize(
    ("hidden", "fast", "calls"),
    [(Tanh, True, ["derivative"]), (FastTanh, False, ["backward"])],
    ids=["base-backward", "own-backward"],
)
def test_bp2_takes_the_fused_path_only_for_an_elementwise_activation_keeping_the_base_backward(
    hidden, fast, calls
):
    net, x, y = _network("tanh", "sigmoid", seed=2)
    plain = net.backprop(x, y, _cost("quadratic"))
    net.activations[0] = act = hidden()
    assert uses_derivative(act) is fast
    got = net.backprop(x, y, _cost("quadratic"))
    assert act.calls == calls  # an activation's own backward is called, never bypassed
    for a, b in zip(plain[0] + plain[1], got[0] + got[1]):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)


def test_the_declared_elementwise_flag_decides_not_the_class_layout():
    assert uses_derivative(_activation("sigmoid"))
    assert not uses_derivative(_activation("softmax"))  # elementwise = False, own backward
    assert not uses_derivative(DeclaredNonElementwise())  # the flag alone sends it to backward
    net, x, y = _network("tanh", "sigmoid", seed=2)
    plain = net.backprop(x, y, _cost("quadratic"))
    net.activations[0] = DeclaredNonElementwise()
    got = net.backprop(x, y, _cost("quadratic"))
    for a, b in zip(plain[0] + plain[1], got[0] + got[1]):
        assert np.array_equal(a, b)  # grad ⊙ σ'(z) in place or not: the same numbers


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
def test_backprop_without_buffers_returns_gradients_in_the_dtype_the_forward_pass_used(x_dtype):
    net = Network([3, 4, 3], [_activation("tanh"), _activation("sigmoid")], dtype=np.float32)
    net.weights = [np.full(W.shape, 0.1, np.float32) for W in net.weights]
    x = np.linspace(-1, 1, 6).reshape(2, 3).astype(x_dtype)
    y = np.eye(3, dtype=x_dtype)[[0, 2]]
    nabla_w, nabla_b = net.backprop(x, y, _cost("quadratic"))
    assert {g.dtype for g in nabla_w + nabla_b} == {np.dtype(x_dtype)}
