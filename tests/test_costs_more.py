"""Costs beyond the book's: hinge, squared-hinge, kl-divergence.

Values against independent formulas and PyTorch's documented numbers,
gradients against central finite differences (float64), the public contract
check, fused δ against the generic path, the kink handling of the gradient
checks, ``deltaw gradcheck`` and a tiny training run per cost.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from scipy.special import rel_entr
from typer.testing import CliRunner

import deltaw.testing
from deltaw.cli import app
from deltaw.core.gradcheck import gradcheck
from deltaw.core.network import Network
from deltaw.plugins.activations import Identity, Sigmoid, Softmax, Tanh
from deltaw.plugins.costs import Huber, KLDivergence, LogLikelihood
from deltaw.plugins.costs_margin import Hinge, SquaredHinge
from deltaw.registry import Registry
from deltaw.testing import check_cost

runner = CliRunner()
H = 1e-6  # central-difference step (float64)


def builtin(name):
    reg = Registry()
    reg.load_builtins()
    return reg.entry("cost", name).cls


def multi_margin_loss(x, target, p, margin):
    """PyTorch's MultiMarginLoss, sample by sample: Σ_{i≠y} max(0, margin − x[y] + x[i])^p / C."""
    losses = []
    for row, y in zip(x, target):
        terms = [max(0.0, margin - row[y] + row[i]) ** p for i in range(len(row)) if i != y]
        losses.append(sum(terms) / len(row))
    return sum(losses) / len(losses)  # reduction='mean'


def fd_gradient(cost, a, y):
    """∂C_x/∂a per row by central differences of m · value (value is the batch mean)."""
    m, fd = len(a), np.empty_like(a)
    for i in np.ndindex(a.shape):
        ap, am = a.copy(), a.copy()
        ap[i] += H
        am[i] -= H
        fd[i] = m * (cost.value(ap, y) - cost.value(am, y)) / (2 * H)
    return fd


def scores_away_from_the_margin(rng, m, n, margin=1.0, gap=0.05):
    """Scores and one-hot targets with every |margin − a_c + a_j| ≥ gap: no kink within H."""
    a = rng.normal(0, 1.5, (m, n))
    y = np.eye(n)[rng.integers(0, n, m)]
    while (Hinge(margin=margin).kink_distance(a, y) < gap / 2).any():
        near = Hinge(margin=margin).kink_distance(a, y) < gap / 2
        a[near] = rng.normal(0, 1.5, (int(near.sum()), n))
    return a, y


# -- the registry and the public contract -----------------------------------------------------


def test_the_new_costs_are_registered_under_hyphenated_names():
    assert builtin("hinge") is Hinge
    assert builtin("squared-hinge") is SquaredHinge
    assert builtin("kl-divergence") is KLDivergence


@pytest.mark.parametrize("cls", [Hinge, SquaredHinge, KLDivergence])
def test_each_passes_the_public_contract_check(cls):
    check_cost(cls)


def test_hinges_pass_the_contract_check_with_other_margins_and_a_tanh_output():
    for cost in (Hinge(margin=0.25), SquaredHinge(margin=2.0)):
        check_cost(cost, output_activations=[Identity(), Tanh()])


def test_margin_must_be_positive():
    with pytest.raises(ValidationError):
        Hinge(margin=0.0)
    with pytest.raises(ValidationError):
        SquaredHinge(margin=-1.0)


def test_kl_divergence_takes_no_parameters():
    with pytest.raises(TypeError):
        KLDivergence(eps=1e-3)


# -- values -----------------------------------------------------------------------------------

# PyTorch's MultiMarginLoss example: x = [[0.1, 0.2, 0.4, 0.8]], y = [3] gives 0.3250
X = np.array([[0.1, 0.2, 0.4, 0.8], [2.0, -1.0, 1.5, 0.0]])
Y = np.eye(4)[[3, 0]]


def test_hinge_value_is_pytorch_multi_margin_loss_by_hand():
    # row 1: (0.3 + 0.4 + 0.6)/4 = 0.325 (PyTorch's documented example)
    assert Hinge().value(X[:1], Y[:1]) == pytest.approx(0.325, abs=1e-15)
    # row 2: t = [·, −2, 0.5, −1] → 0.5/4 = 0.125; mean over the rows 0.225
    assert Hinge().value(X, Y) == pytest.approx(0.225, abs=1e-15)


def test_squared_hinge_value_is_multi_margin_loss_with_p_2_by_hand():
    # row 1: (0.09 + 0.16 + 0.36)/4 = 0.1525; row 2: 0.25/4 = 0.0625; mean 0.1075
    assert SquaredHinge().value(X[:1], Y[:1]) == pytest.approx(0.1525, abs=1e-15)
    assert SquaredHinge().value(X, Y) == pytest.approx(0.1075, abs=1e-15)


@pytest.mark.parametrize(("cls", "p"), [(Hinge, 1), (SquaredHinge, 2)])
@pytest.mark.parametrize("margin", [1.0, 0.3, 2.5])
def test_hinge_values_match_the_pytorch_formula_on_random_scores(cls, p, margin):
    rng = np.random.default_rng(int(10 * margin) + p)
    a = rng.normal(0, 1.5, (7, 5))
    labels = rng.integers(0, 5, 7)
    expected = multi_margin_loss(a.tolist(), labels.tolist(), p, margin)
    assert cls(margin=margin).value(a, np.eye(5)[labels]) == pytest.approx(expected, rel=1e-13)


def test_hinge_gradients_by_hand():
    # row 1: every wrong class violates the margin → 1/4 each, −3/4 for the true class
    # row 2: only class 2 (t = 0.5) violates → +1/4 there, −1/4 for class 0
    np.testing.assert_allclose(
        Hinge().gradient(X, Y), [[0.25, 0.25, 0.25, -0.75], [-0.25, 0.0, 0.25, 0.0]], atol=1e-15
    )
    # squared: (2/4)·t_j for violated j = [0.15, 0.2, 0.3], true class −0.65; row 2 ±0.25
    np.testing.assert_allclose(
        SquaredHinge().gradient(X, Y),
        [[0.15, 0.2, 0.3, -0.65], [-0.25, 0.0, 0.25, 0.0]],
        atol=1e-15,
    )


def test_hinge_is_zero_with_zero_gradient_once_every_margin_is_met():
    a = np.array([[3.0, 1.0, 1.9], [-1.0, 0.5, -2.0]])  # leads of 1.1 and 1.5 over the rest
    y = np.eye(3)[[0, 1]]
    for cost in (Hinge(), SquaredHinge()):
        assert cost.value(a, y) == 0.0
        assert not cost.gradient(a, y).any()


def test_at_the_kink_the_hinge_uses_the_subgradient_zero_and_each_side_has_its_slope():
    # t_1 = 1 − a_0 + a_1 = 0 exactly: PyTorch's backward counts only t > 0
    a, y = np.array([[1.5, 0.5, -3.0]]), np.eye(3)[[0]]
    np.testing.assert_array_equal(Hinge().gradient(a, y), [[0.0, 0.0, 0.0]])
    # one-sided differences: 1/3 when a_1 moves up (the term switches on), 0 when it moves down
    up, down, h = a.copy(), a.copy(), 1e-4
    up[0, 1] += h
    down[0, 1] -= h
    assert (Hinge().value(up, y) - Hinge().value(a, y)) / h == pytest.approx(1 / 3)
    assert (Hinge().value(a, y) - Hinge().value(down, y)) / h == 0.0
    assert Hinge().kink_distance(a, y)[0] == 0.0


def test_kl_divergence_by_hand_and_against_scipy():
    y = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    a = np.array([[0.25, 0.5, 0.25], [0.2, 0.7, 0.1]])
    # row 1: 0.5·ln 2 (the 0·ln 0 term is 0); row 2 (one-hot): −ln 0.7
    expected = (0.5 * math.log(2.0) - math.log(0.7)) / 2
    assert KLDivergence().value(a, y) == pytest.approx(expected, rel=1e-14)
    rng = np.random.default_rng(5)
    a, y = rng.dirichlet(np.ones(6), 8), rng.dirichlet(np.ones(6), 8)
    assert KLDivergence().value(a, y) == pytest.approx(rel_entr(y, a).sum(axis=1).mean(), rel=1e-13)


def test_kl_divergence_is_zero_at_a_equals_y_and_log_likelihood_minus_the_entropy_of_y():
    rng = np.random.default_rng(6)
    a, y = rng.dirichlet(np.ones(5), 4), rng.dirichlet(np.ones(5), 4)
    assert KLDivergence().value(y, y) == pytest.approx(0.0, abs=1e-15)
    entropy = float(-(y * np.log(y)).sum(axis=1).mean())
    assert KLDivergence().value(a, y) == pytest.approx(LogLikelihood().value(a, y) - entropy)
    np.testing.assert_array_equal(KLDivergence().gradient(a, y), LogLikelihood().gradient(a, y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_divergence_of_a_saturated_output_is_finite_without_warnings(dtype):
    a = np.array([[1.0, 0.0, 0.0]], dtype=dtype)
    y = np.array([[0.0, 0.5, 0.5]], dtype=dtype)
    with np.errstate(all="raise"):
        v = KLDivergence().value(a, y)
        g = KLDivergence().gradient(a, y)
    eps = deltaw.eps_for(dtype)
    assert v == pytest.approx(-math.log(eps) + math.log(0.5), rel=1e-6)
    assert g.dtype == dtype and np.isfinite(g).all()


# -- gradients against finite differences (float64) -------------------------------------------


@pytest.mark.parametrize(
    "cost", [Hinge(), SquaredHinge(), Hinge(margin=0.4), SquaredHinge(margin=3.0)]
)
def test_hinge_gradients_match_finite_differences_away_from_the_margin(cost):
    a, y = scores_away_from_the_margin(np.random.default_rng(1), 9, 5, cost.params.margin)
    assert Hinge(margin=cost.params.margin).kink_distance(a, y).min() >= 0.025
    np.testing.assert_allclose(cost.gradient(a, y), fd_gradient(cost, a, y), atol=1e-8)


def test_kl_gradient_matches_finite_differences_for_soft_and_unnormalised_targets():
    rng = np.random.default_rng(2)
    a = rng.dirichlet(np.ones(4), 6)
    for y in (rng.dirichlet(np.ones(4), 6), 0.5 * rng.dirichlet(np.ones(4), 6)):
        g = KLDivergence().gradient(a, y)
        np.testing.assert_allclose(g, fd_gradient(KLDivergence(), a, y), rtol=1e-6, atol=1e-8)


# -- fused δ --------------------------------------------------------------------------------


def fd_delta(cost, act, z, y):
    """∂C_x/∂z per row by central differences of m · value(σ(z), y)."""
    m, fd = len(z), np.empty_like(z)
    for i in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[i] += H
        zm[i] -= H
        fd[i] = m * (cost.value(act.forward(zp), y) - cost.value(act.forward(zm), y)) / (2 * H)
    return fd


@pytest.mark.parametrize("scale", [1.0, 0.5, 2.0])  # rows of y summing to 1, ½ and 2
def test_kl_with_softmax_fuses_delta_to_a_sum_y_minus_y_and_it_equals_the_generic_path(scale):
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, (5, 4))
    y = scale * rng.dirichlet(np.ones(4), 5)
    y[0] = scale * np.eye(4)[2]  # a one-hot row too
    sm, kl = Softmax(), KLDivergence()
    a = sm.forward(z)
    fused = kl.output_delta(z, a, y, sm)
    np.testing.assert_allclose(fused, a * y.sum(axis=1, keepdims=True) - y, atol=1e-15)
    np.testing.assert_allclose(fused, sm.backward(z, a, kl.gradient(a, y)), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fused, fd_delta(kl, sm, z, y), atol=1e-8)
    if scale == 1.0:
        np.testing.assert_allclose(fused, a - y, atol=1e-15)  # log-likelihood's δ
    else:
        assert np.abs(fused - (a - y)).max() > 0.1  # a − y would be wrong here


def test_kl_fuses_only_with_softmax_and_the_hinges_never_fuse():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(3, 4))
    y = np.eye(4)[[0, 2, 3]]
    for cost, act in [(KLDivergence(), Sigmoid()), (Hinge(), Identity()), (Hinge(), Softmax())]:
        a = act.forward(z)
        np.testing.assert_array_equal(
            cost.output_delta(z, a, y, act), act.backward(z, a, cost.gradient(a, y))
        )
    assert "output_delta" not in vars(Hinge) and "output_delta" not in vars(SquaredHinge)


# -- kinks in the gradient checks ---------------------------------------------------------------


def test_check_cost_draws_its_test_points_away_from_the_hinge_margin(monkeypatch):
    """With a wide gap most first draws are near the margin: they must be redrawn, not tolerated."""
    monkeypatch.setattr(deltaw.testing.costs, "KINK_GAP", 0.25)
    seen, calls = [], []

    class Spy(Hinge):
        def kink_distance(self, a, y):
            calls.append(1)
            return super().kink_distance(a, y)

        def gradient(self, a, y):
            seen.append(Hinge.kink_distance(self, a, y).min())  # not counted in calls
            return super().gradient(a, y)

    check_cost(Spy(), output_activations=[Identity()])
    assert seen and min(seen) >= 0.25
    assert len(calls) > 2  # some rows had to be redrawn


def test_check_cost_says_so_when_no_draw_can_avoid_the_kinks():
    class Everywhere(Hinge):
        def kink_distance(self, a, y):
            return np.zeros(len(a))

    with pytest.raises(ValueError, match="within 0.01 of a kink"):
        check_cost(Everywhere(), output_activations=[Identity()])


def _net_on_the_margin():
    """Zero weights, biases [1, 0, 0]: every output is [1, 0, 0], so with class 0 t_1 = t_2 = 0."""
    net = Network([2, 3], [Identity()])
    net.weights = [np.zeros((2, 3))]
    net.biases = [np.array([1.0, 0.0, 0.0])]
    x = np.random.default_rng(0).normal(size=(2, 2))
    return net, x, np.eye(3)[[0, 0]]


def test_gradcheck_reports_parameters_at_the_hinge_margin_instead_of_failing():
    net, x, y = _net_on_the_margin()
    report = gradcheck(net, Hinge(), x, y)
    assert report.passed, report.diagnosis()
    assert report.at_kinks > 0 and "at a kink" in report.diagnosis()

    class Undeclared(Hinge):
        def kink_distance(self, a, y):
            return None

    assert not gradcheck(net, Undeclared(), x, y).passed  # the kink is real: not declared, it fails


def test_gradcheck_with_hinge_away_from_the_margin_checks_everything():
    net, x, y = _net_on_the_margin()
    net.biases = [np.array([1.2, 0.5, -1.0])]  # t ≈ [·, 0.3, −1.2]: one violated margin
    net.weights = [np.random.default_rng(1).normal(0, 0.05, (2, 3))]
    report = gradcheck(net, Hinge(), x, y)
    assert report.passed and report.at_kinks == 0, report.diagnosis()
    assert max(abs(p.worst_backprop) for p in report.params) > 0.1  # real, non-zero gradients


# -- the command line -----------------------------------------------------------------------------

SENSIBLE = [
    ("hinge", "identity"),
    ("hinge", "tanh"),
    ("squared-hinge", "identity"),
    ("kl-divergence", "softmax"),
]


@pytest.mark.parametrize(("cost", "output"), SENSIBLE)
def test_deltaw_gradcheck_passes_and_checks_the_fused_delta_only_where_there_is_one(cost, output):
    result = runner.invoke(
        app,
        [
            "gradcheck",
            "--layers",
            "3,5,4",
            "--activation",
            "tanh",
            "--output-activation",
            output,
            "--cost",
            cost,
            "--samples",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True and data["cost"] == cost
    kinds = [c["what"] for c in data["components"]]
    assert "cost" in kinds and ("output delta" in kinds) == (cost == "kl-divergence")


TRAIN = {
    "name": "tiny",
    "seed": 2,
    "data": {"name": "blobs", "samples": 240, "classes": 3},
    "network": {"layers": [2, 8, 3], "activation": "tanh", "init": "glorot-uniform"},
    "optimizer": {"name": "sgd", "lr": 0.2},
    "training": {"epochs": 6, "batch_size": 16, "evaluate": ["training", "test"]},
}


@pytest.mark.parametrize(("cost", "output"), [p for p in SENSIBLE if p[1] != "tanh"])
def test_a_tiny_training_run_lowers_the_cost_and_classifies_the_blobs(tmp_path, cost, output):
    spec = {**TRAIN, "cost": cost, "network": {**TRAIN["network"], "output_activation": output}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    assert rows[-1]["training_cost"] < rows[0]["training_cost"]
    assert rows[-1]["test_accuracy"] > 0.8


def test_smooth_costs_declare_no_kinks_and_huber_declares_its_delta():
    a, y = np.array([[0.0, 2.0], [1.0, 1.0]]), np.array([[0.9, 0.0], [1.0, -0.5]])
    assert (
        KLDivergence().kink_distance(a, y) is None and LogLikelihood().kink_distance(a, y) is None
    )
    # |a − y| = [0.9, 2] and [0, 1.5]: distances to δ = 1 are [0.1, 1] and [1, 0.5]
    np.testing.assert_allclose(Huber().kink_distance(a, y), [0.1, 0.5])
