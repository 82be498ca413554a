"""Tests of deltaw-extras: deltaw's contract checks, the formulas by hand, and a training run."""

from pathlib import Path

import deltaw_extras
import numpy as np
import pytest
from deltaw_extras import Checkerboard, LogCosh, Mish, Softsign

from deltaw.testing import check_activation, check_cost

EXAMPLE = Path(__file__).resolve().parent.parent / "example.yaml"


def test_log_cosh_keeps_the_cost_contract():
    check_cost(LogCosh)


def test_log_cosh_is_ln_cosh_and_finite_far_from_the_target():
    a, y = np.array([[0.3, -1.2, 4.0]]), np.zeros((1, 3))
    assert LogCosh().value(a, y) == pytest.approx(np.log(np.cosh(a)).sum())
    assert LogCosh().value(np.array([[1000.0]]), np.zeros((1, 1))) == pytest.approx(
        1000.0 - np.log(2.0)
    )


@pytest.mark.parametrize("activation", [Mish, Softsign])
def test_activations_keep_the_activation_contract(activation):
    check_activation(activation)


def test_mish_and_softsign_by_hand():
    z = np.array([[-2.0, 0.0, 1.5]])
    assert np.allclose(Mish().forward(z), z * np.tanh(np.log1p(np.exp(z))))
    assert np.allclose(Softsign().forward(z), [[-2 / 3, 0.0, 0.6]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_checkerboard_colours_points_by_the_parity_of_their_square(dtype):
    data = Checkerboard(samples=400, cells=2).load(np.random.default_rng(0), np.dtype(dtype))
    assert (len(data.train), len(data.validation), len(data.test)) == (280, 40, 80)
    x, y = data.train.x, data.train.y
    assert x.dtype == dtype and y.dtype == dtype and x.shape == (280, 2) and y.shape == (280, 2)
    same_sign = (x[:, 0] > 0) == (
        x[:, 1] > 0
    )  # 2×2 board: class 0 where both coordinates agree in sign
    assert np.array_equal(y.argmax(axis=1) == 0, same_sign)


def test_checkerboard_is_drawn_from_the_seed():
    def draw(seed):
        return Checkerboard().load(np.random.default_rng(seed), np.dtype("float64")).train.x

    assert np.array_equal(draw(1), draw(1)) and not np.array_equal(draw(1), draw(2))


def test_the_plugin_registers_every_name_and_trains_the_example(
    deltaw_plugin, deltaw_cli, tmp_path
):
    info = deltaw_plugin(deltaw_extras, name="extras")
    assert sorted(info.registers) == [
        ("activation", "mish"),
        ("activation", "softsign"),
        ("cost", "log-cosh"),
        ("dataset", "checkerboard"),
    ]
    run = deltaw_cli(
        "run",
        EXAMPLE,
        "--out",
        tmp_path,
        "--quiet",
        "--set",
        "training.epochs=2",
        "--set",
        "data.samples=300",
    )
    assert run.exit_code == 0, run.output
