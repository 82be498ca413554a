"""deltaw.core.explain: the path sum, backprop and the nudged cost agree, and paths are counted
exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from deltaw.core.base import Activation, Cost
from deltaw.core.explain import check_weight, comparison_costs, count_paths, explain, method_cost
from deltaw.core.network import Network
from deltaw.registry import Registry


def _builtins() -> Registry:
    reg = Registry()
    reg.load_builtins()
    return reg


BUILTINS = _builtins()


def _activation(name: str) -> Activation:
    return BUILTINS.entry("activation", name).cls()


def _cost(name: str) -> Cost:
    return BUILTINS.entry("cost", name).cls()


ELEMENTWISE = [n for n in BUILTINS.names("activation") if _activation(n).elementwise]
OUTPUT_FOR = {
    "real": "tanh",
    "unit": "sigmoid",
    "simplex": "softmax",
}  # an output that fits each cost domain
COSTS = [(c, OUTPUT_FOR[getattr(_cost(c), "domain", "real")]) for c in BUILTINS.names("cost")]


def _random(
    hidden: list[str], output: str, sizes: list[int], seed: int
) -> tuple[Network, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    net = Network(sizes, [_activation(h) for h in hidden] + [_activation(output)])
    net.weights = [rng.normal(0, 0.9, W.shape) for W in net.weights]
    net.biases = [rng.normal(0, 0.5, b.shape) for b in net.biases]
    return net, rng.normal(size=sizes[0]), np.eye(sizes[-1])[rng.integers(sizes[-1])]


def _every_weight(sizes: list[int]):
    for l in range(2, len(sizes) + 1):
        for j in range(1, sizes[l - 1] + 1):
            for k in range(1, sizes[l - 2] + 1):
                yield l, j, k


def _close(a: float, b: float, tol: float = 1e-10) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-300) or a == b


@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_path_sum_equals_backprop_for_every_elementwise_activation(hidden):
    sizes = [2, 3, 3, 2]
    for seed in range(3):
        net, x, y = _random([hidden, hidden], "sigmoid", sizes, seed)
        for l, j, k in _every_weight(sizes):
            e = explain(net, _cost("quadratic"), x, y, l, j, k)
            assert e.paths.listed and e.paths.count == math.prod(sizes[l:])
            assert _close(e.paths.total, e.backprop), (
                hidden,
                seed,
                (l, j, k),
                e.paths.total,
                e.backprop,
            )


@pytest.mark.parametrize(("cost", "output"), COSTS, ids=[c for c, _ in COSTS])
def test_path_sum_equals_backprop_for_every_cost(cost, output):
    sizes = [3, 3, 2, 3]
    net, x, y = _random(["tanh", "sigmoid"], output, sizes, seed=len(cost))
    for l, j, k in _every_weight(sizes):
        e = explain(net, _cost(cost), x, y, l, j, k)
        assert _close(e.paths.total, e.backprop), (cost, (l, j, k), e.paths.total, e.backprop)


def test_softmax_cross_terms_are_paths_and_sum_to_backprop():
    sizes = [2, 3, 4]
    net, x, y = _random(["sigmoid"], "softmax", sizes, seed=5)
    e = explain(net, _cost("log-likelihood"), x, y, 2, 2, 1, top=1000)
    assert e.paths.count == 4 * 4  # z of the output layer (4) times a of the output layer (4)
    crossed = [p for p in e.paths.top if p.nodes[-2][2] != p.nodes[-1][2]]
    assert len(crossed) == 12 and "→a[3]" in crossed[0].label()
    assert _close(e.paths.total, e.backprop)
    assert _close(sum(p.product for p in e.paths.top), e.backprop)


def test_a_softmax_hidden_layer_is_handled_too():
    sizes = [2, 3, 3, 2]
    net, x, y = _random(["softmax", "tanh"], "sigmoid", sizes, seed=2)
    for l, j, k in _every_weight(sizes):
        e = explain(net, _cost("cross-entropy"), x, y, l, j, k)
        assert _close(e.paths.total, e.backprop)


def test_every_layer_of_edges_after_the_weight_carries_the_whole_derivative():
    sizes = [3, 4, 3, 2]
    net, x, y = _random(["tanh", "tanh"], "sigmoid", sizes, seed=9)
    e = explain(net, _cost("quadratic"), x, y, 2, 3, 2)
    assert e.edges[0] is not None and np.count_nonzero(e.edges[0]) == 1
    for E in e.edges:
        assert E.sum() == pytest.approx(e.backprop, rel=1e-12)


def test_nudging_the_weight_converges_to_the_derivative_at_first_order():
    net, x, y = _random(["sigmoid"], "sigmoid", [2, 3, 2], seed=4)
    e = explain(net, _cost("quadratic"), x, y, 2, 1, 2, dw=0.1, steps=4)
    gaps = [abs(n.error) for n in e.nudges]
    for big, small in zip(gaps, gaps[1:]):
        assert 5 < big / small < 20  # ten times smaller Δw, about ten times smaller gap
    assert abs(e.numeric - e.backprop) < 1e-9
    assert e.changes[0].dz[0] == pytest.approx(
        x[1] * 0.1
    )  # only z[2][1] moves directly, by a[1][2]·Δw
    assert np.all(e.changes[0].dz[1:] == 0)


def test_chain_rule_rates_match_the_change_of_every_neuron():
    net, x, y = _random(["tanh", "tanh"], "sigmoid", [2, 3, 3, 2], seed=6)
    e = explain(net, _cost("quadratic"), x, y, 2, 2, 1, dw=1e-6)
    for change in e.changes:
        np.testing.assert_allclose(change.da / e.dw, change.derivative, rtol=1e-4, atol=1e-9)


def test_the_cap_stops_listing_but_still_counts_and_sums_every_path():
    sizes = [2, 6, 6, 6, 3]
    net, x, y = _random(["tanh"] * 3, "sigmoid", sizes, seed=1)
    listed = explain(net, _cost("quadratic"), x, y, 2, 1, 1)
    capped = explain(net, _cost("quadratic"), x, y, 2, 1, 1, max_paths=100)
    assert capped.paths.count == listed.paths.count == 6 * 6 * 3
    assert not capped.paths.listed and capped.paths.top == []
    assert _close(capped.paths.total, capped.backprop)
    assert _close(listed.paths.total, capped.paths.total)


def test_top_paths_are_the_largest_and_their_factors_multiply_to_the_product():
    net, x, y = _random(["sigmoid"], "sigmoid", [2, 4, 3], seed=8)
    e = explain(net, _cost("quadratic"), x, y, 2, 2, 1, top=3)
    assert len(e.paths.top) == 3
    products = [abs(p.product) for p in e.paths.top]
    assert products == sorted(products, reverse=True)
    for p in e.paths.top:
        assert math.prod(p.factors) == pytest.approx(p.product, rel=1e-12)
        assert len(p.factors) == e.paths.factors_per_path


def test_counting_paths_and_multiply_adds():
    assert count_paths([784, 30, 10], 2, [True, True]) == 10
    assert count_paths([784, 30, 30, 30, 30, 10], 2, [True] * 5) == 30**3 * 10
    assert count_paths([2, 3, 4], 2, [True, False]) == 16  # softmax output: z and a neuron
    book = method_cost([784, 30, 10])
    assert book.weights == 784 * 30 + 30 * 10
    assert (
        book.backprop_multiply_adds == 2 * book.weights + 30 * 10
    )  # forward + BP4, plus BP2 for layer 3
    deep = method_cost([784, 30, 30, 30, 30, 10])
    assert deep.ratio > 1e5 > book.ratio
    notes = [c.note for c in comparison_costs([2, 3, 3, 2])]
    assert notes[:3] == ["this one", "deeper", "wider"] and "book ch. 1" in notes


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        ((1, 1, 1), "layer 1 is the input"),
        ((5, 1, 1), "from 2 to 4"),
        ((3, 4, 1), "neurons 1 to 3"),
        ((2, 1, 3), "neurons 1 to 2"),
    ],
)
def test_a_weight_outside_the_network_is_refused_with_the_valid_range(weight, message):
    with pytest.raises(ValueError, match=message):
        check_weight([2, 3, 3, 2], *weight)


def test_the_explanation_is_plain_json():
    net, x, y = _random(["sigmoid"], "softmax", [2, 3, 2], seed=0)
    data = json.loads(json.dumps(explain(net, _cost("log-likelihood"), x, y, 3, 1, 2).to_dict()))
    assert data["weight"] == {
        "label": "w[3][1][2]",
        "l": 3,
        "j": 1,
        "k": 2,
        "value": pytest.approx(net.weights[1][1, 0]),
        "array": "weights[1]",
        "index": [1, 0],
    }
    assert set(data["compare"]["values"]) == {"finite difference", "path sum", "backprop"}
    assert data["paths"]["count"] == 2 and len(data["backprop"]["deltas"]) == 2
