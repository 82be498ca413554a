"""The training loop: learning, the book's update semantics, reproducibility, clipping,
divergence."""

import numpy as np
import pytest

from deltaw.core.base import Callback, DataSplits, Split
from deltaw.core.network import Network
from deltaw.core.training import Clipping, NonFiniteError, Trainer
from deltaw.plugins.activations import Sigmoid, Tanh
from deltaw.plugins.costs import CrossEntropy, Quadratic
from deltaw.plugins.initializers import NielsenLarge
from deltaw.plugins.metrics import Accuracy
from deltaw.plugins.optimizers import SGD
from deltaw.plugins.regularizers import L2


def xor_data(dtype=np.float64):
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 25, dtype=dtype)
    y = np.array([[1, 0], [0, 1], [0, 1], [1, 0]] * 25, dtype=dtype)
    return DataSplits(Split(x, y), Split(x[:4], y[:4]))


def make(seed=0, dtype=np.float64, **kw):
    net = Network([2, 8, 2], [Tanh(), Sigmoid()], dtype=dtype)
    net.initialize(NielsenLarge(), np.random.default_rng(seed))
    lr = kw.pop("lr", 2.0)
    opts = dict(
        epochs=kw.pop("epochs", 5),
        batch_size=kw.pop("batch_size", 10),
        rng=np.random.default_rng(seed + 1),
        metrics={"accuracy": Accuracy()},
    )
    opts.update(kw)
    return Trainer(net, CrossEntropy(), SGD(lr=lr), **opts)


def test_training_learns_xor():
    trainer = make(epochs=60)
    history = trainer.fit(xor_data())
    assert history[-1]["validation_accuracy"] == 1.0


def test_same_seed_gives_identical_history_and_weights():
    a, b = make(seed=3), make(seed=3)
    ha, hb = a.fit(xor_data()), b.fit(xor_data())
    strip = lambda h: [{k: v for k, v in r.items() if not k.endswith("_time")} for r in h]  # noqa: E731
    assert strip(ha) == strip(hb)
    for wa, wb in zip(a.network.weights, b.network.weights):
        assert np.array_equal(wa, wb)


def test_one_sgd_step_with_l2_is_the_books_update():
    """w → (1 − ηλ/n) w − (η/m) Σ ∂C_x/∂w, biases without decay (network2.update_mini_batch)."""
    data = xor_data()
    n, eta, lmbda = len(data.train), 0.5, 5.0
    net = Network([2, 8, 2], [Tanh(), Sigmoid()])
    net.initialize(NielsenLarge(), np.random.default_rng(0))
    w0, b0 = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    nabla_w, nabla_b = net.backprop(data.train.x, data.train.y, CrossEntropy())
    trainer = Trainer(
        net,
        CrossEntropy(),
        SGD(lr=eta),
        epochs=1,
        batch_size=n,
        rng=np.random.default_rng(0),
        regularizers=[L2(lmbda=lmbda)],
        shuffle=False,
    )
    trainer.fit(data)
    for l in range(2):
        np.testing.assert_allclose(
            net.weights[l], (1 - eta * lmbda / n) * w0[l] - eta * nabla_w[l], rtol=1e-12
        )
        np.testing.assert_allclose(net.biases[l], b0[l] - eta * nabla_b[l], rtol=1e-12)


def test_gradients_are_batch_means_so_lr_means_eta():
    data = xor_data()
    net = Network([2, 3, 2], [Sigmoid(), Sigmoid()])
    net.initialize(NielsenLarge(), np.random.default_rng(1))
    full_w, _ = net.backprop(data.train.x, data.train.y, Quadratic())
    per = [
        net.backprop(data.train.x[i : i + 1], data.train.y[i : i + 1], Quadratic())[0][0]
        for i in range(len(data.train))
    ]
    np.testing.assert_allclose(full_w[0], np.mean(per, axis=0), rtol=1e-12)


def test_float32_training_keeps_float32_weights():
    trainer = make(dtype=np.float32, epochs=2)
    trainer.fit(xor_data(np.float32))
    assert all(p.dtype == np.float32 for p in trainer.network.params())


def test_clipping_by_norm_bounds_the_update():
    data = xor_data()
    trainer = make(
        epochs=1, batch_size=len(data.train), shuffle=False, clipping=Clipping(norm=1e-3)
    )
    before = [p.copy() for p in trainer.network.params()]
    trainer.fit(data)
    moved = np.sqrt(sum(np.sum((p - q) ** 2) for p, q in zip(trainer.network.params(), before)))
    assert moved == pytest.approx(2.0 * 1e-3, rel=1e-9)  # lr × clipped norm


def test_decoupled_weight_decay_shrinks_weights_before_the_update():
    data = xor_data()
    net = Network([2, 3, 2], [Sigmoid(), Sigmoid()])
    net.initialize(NielsenLarge(), np.random.default_rng(2))
    w0 = [w.copy() for w in net.weights]
    nabla_w, _ = net.backprop(data.train.x, data.train.y, Quadratic())
    Trainer(
        net,
        Quadratic(),
        SGD(lr=0.1),
        epochs=1,
        batch_size=len(data.train),
        rng=np.random.default_rng(0),
        weight_decay=0.5,
        shuffle=False,
    ).fit(data)
    np.testing.assert_allclose(
        net.weights[0], (1 - 0.1 * 0.5) * w0[0] - 0.1 * nabla_w[0], rtol=1e-12
    )


def test_divergence_names_epoch_and_batch_and_restores_the_last_good_weights():
    from deltaw.plugins.activations import Identity

    net = Network([2, 8, 2], [Identity(), Identity()])
    net.initialize(NielsenLarge(), np.random.default_rng(0))
    trainer = Trainer(
        net, Quadratic(), SGD(lr=1000.0), epochs=5, batch_size=10, rng=np.random.default_rng(1)
    )
    start = [p.copy() for p in trainer.network.params()]
    with pytest.raises(NonFiniteError) as info:
        trainer.fit(xor_data())
    assert info.value.epoch == 1 and info.value.batch is not None
    assert all(np.array_equal(p, q) for p, q in zip(trainer.network.params(), start))


def test_callback_can_stop_training_and_batch_hook_only_runs_when_overridden():
    class StopAtTwo(Callback):
        def on_epoch_end(self, trainer, epoch, metrics):
            trainer.stop = epoch == 2

    class CountBatches(Callback):
        batches = 0

        def on_batch_end(self, trainer, epoch, batch):
            CountBatches.batches += 1

    trainer = make(epochs=10, callbacks=[StopAtTwo(), CountBatches()])
    history = trainer.fit(xor_data())
    assert len(history) == 2 and CountBatches.batches == 2 * 10


def test_keyboard_interrupt_rolls_back_to_the_last_complete_epoch():
    class Interrupt(Callback):
        def on_batch_end(self, trainer, epoch, batch):
            if epoch == 2 and batch == 3:
                raise KeyboardInterrupt

    trainer = make(epochs=5, callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(xor_data())
    assert trainer.epoch == 1 and trainer.step == 10 and len(trainer.history) == 1


def test_trainer_tells_a_schedule_the_runs_length_before_training():
    from deltaw.plugins.schedules import Cosine

    schedule = Cosine()
    trainer = make(epochs=4, batch_size=25, schedule=schedule)  # 100 samples: 4 steps per epoch
    history = trainer.fit(xor_data())
    assert schedule.total() == 16
    assert history[0]["lr"] > history[-1]["lr"]
