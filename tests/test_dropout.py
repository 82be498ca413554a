"""Dropout: the gradient of the thinned network, inverted scaling, evaluation untouched, seeds
and resume, float32, and the spec that turns it on."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import deltaw
from deltaw.core.base import Callback, DataSplits, Split
from deltaw.core.dropout import DropoutMasks, dropout_rates
from deltaw.core.network import Network
from deltaw.core.training import Trainer
from deltaw.errors import SpecError
from deltaw.plugins.activations import ReLU, Sigmoid, Softmax, Tanh
from deltaw.plugins.costs import CrossEntropy, LogLikelihood, Quadratic
from deltaw.plugins.initializers import Nielsen
from deltaw.plugins.metrics import Accuracy
from deltaw.plugins.optimizers import SGD, Adam
from deltaw.runs.checkpoint import load_run_checkpoint
from deltaw.runs.train import resume_run, run_spec
from deltaw.spec.build import build, seeds
from deltaw.spec.loading import validate_spec

EPS, TOL = 1e-6, 1e-6


def net_of(acts, sizes=(5, 7, 6, 3), dropout=(0.5, 0.3), dtype=np.float64, seed=0):
    net = Network(list(sizes), acts, dtype=dtype, dropout=list(dropout))
    net.initialize(Nielsen(), np.random.default_rng(seed))  # W ~ N(0, 1/n_in): no saturation
    return net


def batch(rows=8, n_in=5, n_out=3, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (rows, n_in)).astype(dtype)
    y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, rows)]
    return x, y


# -- the gradient of the thinned network ------------------------------------------------------


@pytest.mark.parametrize(
    "hidden, output, cost",
    [
        (Sigmoid, Sigmoid, Quadratic),  # the book's chapter 1, elementwise BP2
        (Tanh, Sigmoid, CrossEntropy),  # a fused δᴸ
        (ReLU, Softmax, LogLikelihood),
        (Softmax, Softmax, LogLikelihood),  # a non-elementwise hidden σ: the mask goes before σ'
    ],
)
def test_backprop_with_a_fixed_mask_is_the_gradient_of_the_thinned_network(hidden, output, cost):
    """Central differences of C(ã(W)) with the masks held fixed: dropout's gradient is exact."""
    net = net_of([hidden(), hidden(), output()])
    x, y = batch()
    masks, _ = DropoutMasks(net.dropout, [7, 6], len(x), net.dtype, np.random.default_rng(2)).draw(
        len(x)
    )
    assert 0 < (masks[0] == 0).sum() < masks[0].size  # some units dropped, some kept
    masks = [m.copy() for m in masks]
    c = cost()

    def loss() -> float:
        return float(c.value(net.forward_dropout(x, masks)[1][-1], y))

    nabla_w, nabla_b = net.backprop_dropout(x, y, c, masks)
    for params, grads in ((net.weights, nabla_w), (net.biases, nabla_b)):
        for p, g in zip(params, grads):
            numeric = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + EPS
                up = loss()
                p[i] = old - EPS
                down = loss()
                p[i] = old
                numeric[i] = (up - down) / (2 * EPS)
            assert np.allclose(g, numeric, atol=TOL, rtol=1e-5), np.abs(g - numeric).max()


def test_a_dropped_unit_gets_no_gradient_and_rate_zero_is_plain_backprop():
    net = net_of([Sigmoid(), Sigmoid(), Sigmoid()])
    x, y = batch()
    masks = [np.full((8, 7), 2.0), np.ones((8, 6))]
    masks[0][:, 3] = 0.0  # unit 3 of the first hidden layer dropped for every sample
    nabla_w, _ = net.backprop_dropout(x, y, Quadratic(), masks)
    assert np.all(nabla_w[0][:, 3] == 0) and np.all(nabla_w[1][3, :] == 0)
    ones = [np.ones((8, 7)), np.ones((8, 6))]
    plain = net.backprop(x, y, Quadratic())
    for a, b in zip(net.backprop_dropout(x, y, Quadratic(), ones)[0], plain[0]):
        assert np.array_equal(a, b)


# -- inverted scaling -------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_masks_keep_the_mean_activation_in_expectation(rate):
    """E[mask] = p · (1/p) = 1, so E[ã] = a: evaluation needs no scaling."""
    rows, width = 20000, 40
    masks, _ = DropoutMasks([rate], [width], rows, np.float64, np.random.default_rng(0)).draw(rows)
    mask = masks[0]
    p = 1 - rate
    assert set(np.unique(mask)) == {0.0, 1 / p}
    sd = np.sqrt(rate / p / (rows * width))  # sd of the mean of rows·width masks
    assert abs(mask.mean() - 1) < 5 * sd
    assert abs((mask == 0).mean() - rate) < 0.01
    a = np.random.default_rng(1).random((rows, width))  # activations: ã has a's column means
    assert np.allclose((a * mask).mean(axis=0), a.mean(axis=0), atol=0.05)


def test_masks_are_drawn_into_the_same_buffers_in_the_networks_dtype():
    m = DropoutMasks([0.5, 0.0], [4, 3], 6, np.float32, np.random.default_rng(0))
    first, dropped = m.draw(6)
    again, dropped_again = m.draw(6)
    assert all(a is b for a, b in zip(first, again)) and dropped is dropped_again
    assert all(k.dtype == np.float32 for k in [*first, *dropped])
    assert np.all(first[1] == 1)  # a rate-0 layer keeps every unit
    short, _ = m.draw(4)  # the last mini-batch: views of the same buffers
    assert short[0].base is first[0] and short[0].shape == (4, 4)


# -- evaluation and the paths without dropout -------------------------------------------------


def test_evaluation_uses_the_whole_network_and_draws_nothing():
    acts = [Tanh(), Tanh(), Sigmoid()]
    a, b = net_of(acts), net_of(acts, dropout=(0.0, 0.0))
    x, _ = batch(rows=30)
    assert np.array_equal(a.feedforward(x), b.feedforward(x))
    trainer = Trainer(
        a, Quadratic(), SGD(lr=1.0), epochs=1, batch_size=5, rng=np.random.default_rng(0)
    )
    state = trainer.dropout_rng.bit_generator.state
    data = DataSplits(Split(x, batch(rows=30)[1]))
    trainer.metrics = {"accuracy": Accuracy()}
    trainer.evaluate(data)
    assert trainer.dropout_rng.bit_generator.state == state


def test_without_dropout_the_epoch_uses_the_networks_own_backprop():
    """No mask code on the path: the update calls Network.backprop itself."""
    net = net_of([Tanh(), Tanh(), Sigmoid()], dropout=(0.0, 0.0))
    trainer = Trainer(
        net, Quadratic(), SGD(lr=1.0), epochs=1, batch_size=5, rng=np.random.default_rng(0)
    )
    assert trainer._backprop() == net.backprop and trainer.dropout_rng is None
    with_dropout = Trainer(
        net_of([Tanh(), Tanh(), Sigmoid()]), Quadratic(), SGD(lr=1.0), epochs=1, batch_size=5,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert with_dropout._backprop() != with_dropout.network.backprop


# -- reproducible from the seed ---------------------------------------------------------------


def train(seed=0, dropout=(0.5, 0.3), dropout_rng=None, dtype=np.float64, epochs=3):
    net = net_of([Tanh(), Tanh(), Softmax()], dropout=dropout, dtype=dtype, seed=seed)
    x, y = batch(rows=47, dtype=dtype, seed=seed + 7)  # 47 rows: the last mini-batch is short
    trainer = Trainer(
        net,
        LogLikelihood(),
        Adam(lr=0.01),
        epochs=epochs,
        batch_size=10,
        rng=np.random.default_rng(seed + 1),
        dropout_rng=dropout_rng,
    )
    trainer.fit(DataSplits(Split(x, y)))
    return trainer


def test_the_same_seed_draws_the_same_masks_and_gives_the_same_weights():
    a = train(dropout_rng=np.random.default_rng(5))
    b = train(dropout_rng=np.random.default_rng(5))
    c = train(dropout_rng=np.random.default_rng(6))
    plain = train(dropout=(0.0, 0.0))
    for wa, wb, wc, wp in zip(
        a.network.weights, b.network.weights, c.network.weights, plain.network.weights
    ):
        assert np.array_equal(wa, wb)
        assert not np.array_equal(wa, wc) and not np.array_equal(wa, wp)
    d, e = train(), train()  # no dropout_rng: spawned from the shuffling seed, still reproducible
    assert all(np.array_equal(p, q) for p, q in zip(d.network.weights, e.network.weights))


def test_seeds_keeps_the_first_three_streams_and_adds_an_independent_fourth():
    old = [np.random.default_rng(s) for s in np.random.SeedSequence(7).spawn(3)]
    new = seeds(7)
    for o, n in zip(old, new[:3]):
        assert np.array_equal(o.random(5), n.random(5))
    assert not any(np.array_equal(new.dropout.random(5), g.random(5)) for g in seeds(7)[:3])


def test_a_float32_network_with_dropout_stays_float32():
    seen: list[str] = []

    class Check(Callback):
        def on_batch_end(self, trainer, epoch, batch):
            for p in [*trainer.network.params(), *(v for s in trainer.state for v in s.values())]:
                if p.dtype != np.float32:
                    seen.append(str(p.dtype))

    net = net_of([Tanh(), Tanh(), Softmax()], dtype=np.float32)
    x, y = batch(rows=47, dtype=np.float32)
    trainer = Trainer(
        net, LogLikelihood(), Adam(lr=0.01), epochs=2, batch_size=10,
        rng=np.random.default_rng(0), callbacks=[Check()],
    )  # fmt: skip
    trainer.fit(DataSplits(Split(x, y)))
    assert seen == [] and trainer.step == 10
    masks, dropped = DropoutMasks(
        net.dropout, [7, 6], 10, net.dtype, np.random.default_rng(0)
    ).draw(10)
    zs, acts, inputs = net.forward_dropout(x[:10], masks, dropped)
    assert {a.dtype for a in [*zs, *acts, *inputs]} == {np.dtype(np.float32)}
    grads = net.backprop_dropout(x[:10], y[:10], LogLikelihood(), masks, dropped)
    assert {g.dtype for g in [*grads[0], *grads[1]]} == {np.dtype(np.float32)}


# -- validation -------------------------------------------------------------------------------


def test_network_checks_its_rates():
    assert dropout_rates(0.5, 2) == [0.5, 0.5] and dropout_rates([0.1, 0.0], 2) == [0.1, 0.0]
    with pytest.raises(ValueError, match="2 hidden layers"):
        Network([2, 3, 3, 1], [Tanh()] * 3, dropout=[0.5])
    with pytest.raises(ValueError, match="0 ≤ rate < 1"):
        Network([2, 3, 1], [Tanh()] * 2, dropout=1.0)
    with pytest.raises(ValueError, match="needs a hidden layer"):
        Network([2, 1], [Tanh()], dropout=0.5)


def spec_dict(**network):
    return {
        "name": "dropout",
        "seed": 3,
        "data": {"name": "moons", "samples": 200, "noise": 0.2},
        "network": {"layers": [2, 12, 8, 2], "activation": "tanh", "output_activation": "softmax",
                    "dropout": 0.3, **network},
        "cost": "log-likelihood",
        "optimizer": {"name": "adam", "lr": 0.02},
        "training": {"epochs": 5, "batch_size": 16},
    }  # fmt: skip


@pytest.mark.parametrize(
    "dropout, message",
    [
        (1.0, r"network\.dropout: .*1\.0 is not a dropout rate.*0 ≤ rate < 1"),
        ([0.5, -0.1], r"-0\.1 is not a dropout rate"),
        ([0.5], r"network\.dropout: 1 rate for layers \[2, 12, 8, 2\], which has 2 hidden layers"),
        ("half", r"'half' is not a dropout rate"),
    ],
)
def test_a_bad_dropout_in_a_spec_is_named(dropout, message):
    with pytest.raises(SpecError, match=message):
        validate_spec(spec_dict(dropout=dropout))


def test_a_spec_with_dropout_builds_a_network_that_drops_units():
    exp = build(validate_spec(spec_dict(dropout=[0.2, 0.4])))
    assert exp.network.dropout == [0.2, 0.4]
    assert exp.trainer().dropout_rng is exp.dropout_rng
    assert build(validate_spec(spec_dict(dropout=0.3))).network.dropout == [0.3, 0.3]


# -- resumable bit for bit --------------------------------------------------------------------


class CtrlC(deltaw.Callback):
    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch = epoch, batch

    def on_epoch_end(self, trainer, epoch, metrics):
        if self.batch is None and epoch == self.epoch:
            raise KeyboardInterrupt

    def on_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


def weights(folder):
    with np.load(folder / "weights.npz") as z:
        return {k: z[k] for k in z.files}


def history(folder):
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.endswith("_time")} for r in rows]


@pytest.mark.parametrize("interrupt", [CtrlC(2), CtrlC(3, batch=4)], ids=["after-2", "during-3"])
def test_an_interrupted_dropout_run_resumes_bit_for_bit(tmp_path, interrupt):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict()))
    straight = run_spec(spec, out=tmp_path / "a", plots=False)
    cut = run_spec(spec, out=tmp_path / "b", callbacks=[interrupt], plots=False)
    assert cut.status == "interrupted"
    state, _ = load_run_checkpoint(cut.folder / "checkpoint.npz")
    assert state["dropout_rng"]["bit_generator"] == "PCG64"  # the masks' generator is kept
    resume_run(cut.folder, plots=False)
    assert history(straight.folder) == history(cut.folder)
    wa, wb = weights(straight.folder), weights(cut.folder)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    without = tmp_path / "plain.yaml"
    without.write_text(yaml.safe_dump(spec_dict(dropout=0.0)))
    plain = run_spec(without, out=tmp_path / "c", plots=False)
    assert not np.array_equal(weights(plain.folder)["w0"], wa["w0"])  # dropout did something
