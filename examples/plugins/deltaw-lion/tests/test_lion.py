"""Tests of the Lion optimizer: deltaw's contract checks, Lion's own math, and a training run."""

from pathlib import Path

import deltaw_lion
import numpy as np
import pytest
from deltaw_lion import Lion

from deltaw.testing import check_optimizer

EXAMPLE = Path(__file__).resolve().parent.parent / "example.yaml"


def lion_step(param, grad, state, step, lr, beta1, beta2):
    """Chen et al. 2023, Algorithm 2, written out plainly (no weight decay: deltaw's own)."""
    m = state.get("m", np.zeros_like(param))
    update = np.sign(beta1 * m + (1 - beta1) * grad)
    state["m"] = beta2 * m + (1 - beta2) * grad
    return param - lr * update


def test_lion_keeps_the_optimizer_contract_and_follows_the_paper():
    check_optimizer(Lion, reference=lion_step)  # a class: several settings of its Params
    check_optimizer(Lion(lr=0.01, beta1=0.5, beta2=0.9), reference=lion_step)


def test_the_first_step_moves_every_coordinate_by_the_learning_rate_against_the_gradient():
    param = np.array([[1.0, -2.0], [0.5, 0.0]])
    grad = np.array([[0.3, -4.0], [0.0, 1e-9]])
    opt = Lion(lr=0.1)
    state = opt.init(param)
    opt.update(param, grad, state, 1, 0.1)
    # m = 0, so c = (1 − β₁)g and sign(c) = sign(g): |step| = η wherever g ≠ 0
    assert np.allclose(param, [[0.9, -1.9], [0.5, -0.1]])
    assert np.allclose(state["exp_avg"], 0.01 * grad)  # m = (1 − β₂)g


def test_the_step_follows_the_interpolated_momentum_not_the_new_gradient():
    opt = Lion(lr=1.0, beta1=0.9, beta2=0.99)
    param = np.zeros(1)
    state = {"exp_avg": np.array([1.0])}
    opt.update(param, np.array([-2.0]), state, 2, 1.0)
    # c = 0.9·1 + 0.1·(−2) = 0.7 > 0: a step down although the gradient points up
    assert param[0] == pytest.approx(-1.0)
    assert state["exp_avg"][0] == pytest.approx(0.99 - 0.02)


def test_lion_is_registered_and_trains_the_example(deltaw_plugin, deltaw_cli, tmp_path):
    deltaw_plugin(deltaw_lion, name="lion")
    shown = deltaw_cli("show", "optimizer", "lion")
    assert shown.exit_code == 0 and "Chen et al." in shown.output
    run = deltaw_cli(
        "run",
        EXAMPLE,
        "--out",
        tmp_path,
        "--quiet",
        "--set",
        "training.epochs=3",
        "--set",
        "data.samples=300",
    )
    assert run.exit_code == 0, run.output
