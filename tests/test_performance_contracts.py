"""Performance contracts: float32 stays float32, evaluation is one batched pass, the fast paths
compute exactly what the plain math does, and the benchmark compares like with like."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deltaw.core.base import Callback, DataSplits, EvalContext, Metric, Split
from deltaw.core.network import Network
from deltaw.core.training import Clipping, Trainer, _chunks
from deltaw.plugins.activations import Sigmoid, Softmax, Tanh
from deltaw.plugins.costs import CrossEntropy, LogLikelihood, Quadratic
from deltaw.plugins.initializers import NielsenLarge
from deltaw.plugins.optimizers import SGD, Adam, Momentum
from deltaw.plugins.regularizers import L2

ROOT = Path(__file__).resolve().parents[1]
F32 = np.dtype(np.float32)


def tiny(dtype, rows=40, n_in=4, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((rows, n_in)).astype(dtype)
    y = np.eye(n_out, dtype=dtype)[rng.integers(0, n_out, rows)]
    return DataSplits(Split(x, y), Split(x[:10].copy(), y[:10].copy()))


# -- float32 end to end --------------------------------------------------------------------


class Seen:
    """Every array the checking plugins saw whose dtype was not float32, with where it was seen."""

    def __init__(self):
        self.bad: list[str] = []
        self.count = 0

    def check(self, where, *arrays):
        for i, a in enumerate(arrays):
            self.count += 1
            if not isinstance(a, np.ndarray) or a.dtype != F32:
                self.bad.append(f"{where}[{i}]: {getattr(a, 'dtype', type(a).__name__)}")


def checking(seen, activation_cls, cost_cls, optimizer_cls):
    """Subclasses of real plugins that record the dtype of every array passing through them."""

    class A(activation_cls):
        def forward(self, z):
            a = super().forward(z)
            seen.check(f"{activation_cls.__name__}.forward(z) → a", z, a)
            return a

        def derivative(self, z, a):
            d = super().derivative(z, a)
            seen.check(f"{activation_cls.__name__}.derivative", z, a, d)
            return d

        if not activation_cls.elementwise:

            def backward(self, z, a, grad):
                out = super().backward(z, a, grad)
                seen.check(f"{activation_cls.__name__}.backward (∂C/∂a, δ)", z, a, grad, out)
                return out

    class C(cost_cls):
        def output_delta(self, z, a, y, activation):
            delta = super().output_delta(z, a, y, activation)
            seen.check("output_delta (z, a, y, δᴸ)", z, a, y, delta)
            return delta

    class Opt(optimizer_cls):
        def update(self, param, grad, state, step, lr):
            seen.check("optimizer.update (param, grad, state…)", param, grad, *state.values())
            if type(lr) is not float:  # a numpy float64 scalar would upcast lr * grad
                seen.bad.append(f"lr is {type(lr).__name__}")
            super().update(param, grad, state, step, lr)
            seen.check("after update (param, state…)", param, *state.values())

    class M(Metric):
        def compute(self, a, y, context):
            seen.check("metric (a, y)", a, y)
            return float(context.cost.value(a, y))

    class B(Callback):
        def on_batch_end(self, trainer, epoch, batch):
            net = trainer.network
            seen.check("weights and biases after a batch", *net.weights, *net.biases)
            seen.check(
                "optimizer state after a batch", *[v for s in trainer.state for v in s.values()]
            )

    return A, C, Opt, M, B


class StrictNumpy:
    """numpy for deltaw.core.network, recording the dtypes that flow into the gradient buffers.

    BP3 and BP4 write into float32 buffers, which would silently absorb a float64
    δ; so the arrays given to the products (``np.dot``/``np.matmul``) and to
    ``np.add.reduce(…, out=)`` are checked on the way in.
    """

    def __init__(self, seen):
        self.seen, self.calls = seen, 0
        strict = self

        class Add:
            def reduce(self, a, axis=0, out=None):
                strict.calls += 1
                strict.seen.check("δ into ∂C/∂b (BP3)", a, *([] if out is None else [out]))
                return np.add.reduce(a, axis=axis, out=out)

        self.add = Add()

    def dot(self, a, b, out=None):
        self.calls += 1
        self.seen.check(
            "a W (forward), aᵀ δ into ∂C/∂W (BP4), δ Wᵀ (BP2)",
            a,
            b,
            *([] if out is None else [out]),
        )
        return np.dot(a, b, out=out)

    def matmul(self, a, b, out=None):
        self.calls += 1
        self.seen.check(
            "a W (forward), aᵀ δ into ∂C/∂W (BP4), δ Wᵀ (BP2)",
            a,
            b,
            *([] if out is None else [out]),
        )
        return np.matmul(a, b, out=out)

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize(
    "hidden, output, cost, optimizer, dropout",
    [
        (Sigmoid, Sigmoid, Quadratic, SGD, 0.0),  # the book's chapter 1, the elementwise BP2 path
        (Tanh, Sigmoid, CrossEntropy, Momentum, 0.0),  # fused δᴸ = a − y
        (
            Sigmoid,
            Softmax,
            LogLikelihood,
            Adam,
            0.0,
        ),  # a non-elementwise output (vector–Jacobian product)
        (Tanh, Softmax, LogLikelihood, Adam, [0.5, 0.2]),  # dropout: masks and ã in float32
    ],
)
def test_a_float32_run_keeps_every_array_in_float32(
    hidden, output, cost, optimizer, dropout, monkeypatch
):
    import deltaw.core.network

    seen = Seen()
    strict = StrictNumpy(seen)
    monkeypatch.setattr(deltaw.core.network, "np", strict)
    A, C, Opt, M, B = checking(seen, hidden, cost, optimizer)
    Out = A if output is hidden else checking(seen, output, cost, optimizer)[0]
    net = Network([4, 6, 5, 3], [A(), A(), Out()], dtype=np.float32, dropout=dropout)
    net.initialize(NielsenLarge(), np.random.default_rng(0))
    trainer = Trainer(
        net,
        C(),
        Opt(lr=0.1),
        epochs=2,
        batch_size=7,
        rng=np.random.default_rng(1),
        regularizers=[L2(lmbda=0.5)],
        clipping=Clipping(norm=1.0, value=0.5),
        weight_decay=0.01,
        metrics={"cost": M()},
        callbacks=[B()],
    )
    trainer.fit(tiny(np.float32))
    assert seen.count > 100 and strict.calls > 50  # the checks really ran, every batch
    assert seen.bad == []


def test_a_float32_spec_run_trains_on_float32_data_and_weights(tmp_path):
    """The same through the spec builder (registry plugins, a data set plugin), as `deltaw run`
    does it."""
    from deltaw.spec.build import build
    from deltaw.spec.loading import validate_spec

    spec = validate_spec(
        {
            "dtype": "float32",
            "seed": 3,
            "data": {"name": "blobs"},
            "network": {"layers": [2, 5, 3], "activation": "tanh", "output_activation": "softmax"},
            "cost": "log-likelihood",
            "optimizer": {"name": "adam", "lr": 0.01},
            "regularizers": [{"name": "l2", "lmbda": 0.1}],
            "training": {"epochs": 2, "batch_size": 16},
        }
    )
    exp = build(spec)
    seen = Seen()

    class B(Callback):
        def on_batch_end(self, trainer, epoch, batch):
            seen.check(
                "parameters and optimizer state",
                *trainer.network.params(),
                *[v for s in trainer.state for v in s.values()],
            )

    for _, split in exp.data.items():
        seen.check("data", split.x, split.y)
    exp.trainer([B()]).fit(exp.data)
    assert seen.count > 20 and seen.bad == []


# -- evaluation ----------------------------------------------------------------------------


def test_evaluation_is_one_batched_pass_per_split():
    class Counting(Sigmoid):
        rows: list[int] = []

        def forward(self, z):
            Counting.rows.append(len(z))
            return super().forward(z)

    class Acc(Metric):
        def compute(self, a, y, context: EvalContext):
            return float((a.argmax(1) == y.argmax(1)).mean())

    data = tiny(np.float64, rows=50)
    net = Network([4, 5, 3], [Counting(), Counting()])
    net.initialize(NielsenLarge(), np.random.default_rng(0))
    trainer = Trainer(
        net,
        Quadratic(),
        SGD(lr=1.0),
        epochs=1,
        batch_size=10,
        rng=np.random.default_rng(0),
        metrics={"accuracy": Acc(), "again": Acc()},
        evaluate_on=["training", "validation"],
    )
    Counting.rows.clear()
    trainer.evaluate(data)
    # one forward pass over all rows per split, whatever the number of metrics
    assert Counting.rows == [50, 50, 10, 10]


# -- the fast paths compute the plain math ---------------------------------------------------


def test_backprop_into_buffers_equals_fresh_arrays_and_reuses_them():
    data = tiny(np.float64)
    net = Network([4, 6, 3], [Tanh(), Softmax()])
    net.initialize(NielsenLarge(), np.random.default_rng(2))
    fresh_w, fresh_b = net.backprop(data.train.x, data.train.y, LogLikelihood())
    out = net.gradient_buffers()
    got = net.backprop(data.train.x, data.train.y, LogLikelihood(), out=out)
    assert got[0] is out[0] and got[1] is out[1]
    for a, b in zip(fresh_w + fresh_b, out[0] + out[1]):
        assert np.array_equal(a, b)


def test_a_cost_returning_its_target_as_delta_never_has_the_target_scaled_in_place():
    class Odd(Quadratic):
        def output_delta(self, z, a, y, activation):
            return y  # an (odd) plugin handing back an array the network does not own

    data = tiny(np.float64)
    y0 = data.train.y.copy()
    net = Network([4, 3], [Sigmoid()])
    net.backprop(data.train.x, data.train.y, Odd(), out=net.gradient_buffers())
    assert np.array_equal(data.train.y, y0)


def test_shuffled_chunks_hold_exactly_the_permuted_rows_in_whole_mini_batches(monkeypatch):
    import deltaw.core.training as training

    monkeypatch.setattr(
        training, "CHUNK_BYTES", 7 * 8 * 10
    )  # a few rows per chunk, so there are many
    data = tiny(np.float64, rows=53)
    order = np.random.default_rng(5).permutation(53)
    chunks = [
        (x.copy(), y.copy()) for x, y in _chunks(data.train, order, 3)
    ]  # each chunk reuses one buffer
    assert len(chunks) > 3
    assert all(len(x) % 3 == 0 for x, _ in chunks[:-1])  # mini-batches never straddle two chunks
    assert np.array_equal(np.concatenate([x for x, _ in chunks]), data.train.x[order])
    assert np.array_equal(np.concatenate([y for _, y in chunks]), data.train.y[order])


def test_training_equals_the_plain_loop_over_a_permuted_copy():
    """Same start, same permutation: the trainer's weights equal a hand-written loop's, bit for
    bit."""
    data = tiny(np.float64, rows=60)
    net = Network([4, 5, 3], [Sigmoid(), Sigmoid()])
    net.initialize(NielsenLarge(), np.random.default_rng(4))
    W, B = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    rng = np.random.default_rng(9)
    order = np.random.default_rng(9).permutation(60)
    Trainer(net, Quadratic(), SGD(lr=3.0), epochs=1, batch_size=7, rng=rng).fit(data)
    plain = Network([4, 5, 3], [Sigmoid(), Sigmoid()])
    plain.weights, plain.biases = W, B
    x, y = data.train.x[order], data.train.y[order]
    for k in range(0, 60, 7):
        nabla_w, nabla_b = plain.backprop(x[k : k + 7], y[k : k + 7], Quadratic())
        for p, g in zip(W + B, nabla_w + nabla_b):
            p -= 3.0 * g
    for a, b in zip(net.params(), plain.params()):
        assert np.array_equal(a, b)


# -- the benchmark compares like with like ----------------------------------------------------


@pytest.fixture
def contenders(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import contenders

    return contenders


@pytest.fixture
def npz_data(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x=rng.random((60, 6)), y=rng.integers(0, 3, 60))
    return {"name": "npz", "path": str(path), "shuffle": False}


@pytest.mark.parametrize(
    "config",
    [
        dict(layers=(6, 5, 3), batch=4, dtype="float64"),
        dict(layers=(6, 5, 4, 3), batch=5, dtype="float32"),
        dict(layers=(6, 8, 3), batch=4, dtype="float64", cost="cross-entropy", eta=0.5, lmbda=5.0),
    ],
)
def test_the_benchmarks_reference_loops_reach_deltaws_weights(
    contenders, npz_data, tmp_path, config
):
    names = ("deltaw", "numpy", "book") if config["dtype"] == "float64" else ("deltaw", "numpy")
    cfg = contenders.Config("t", contenders=names, **config)
    diffs = contenders.agreement(cfg, npz_data, steps=4, workdir=tmp_path)
    assert set(diffs) == set(names) - {"deltaw"}
    assert all(d <= contenders.tolerance(cfg.dtype) for d in diffs.values()), diffs


def test_the_agreement_check_catches_a_reference_with_different_math(
    contenders, npz_data, tmp_path, monkeypatch
):
    monkeypatch.setattr(contenders, "sigmoid", lambda z: 0.5 * (1 + np.tanh(z)))  # not σ
    cfg = contenders.Config("t", layers=(6, 5, 3), batch=4, contenders=("deltaw", "numpy"))
    diffs = contenders.agreement(cfg, npz_data, steps=4, workdir=tmp_path)
    assert diffs["numpy"] > 1e-3


# -- the hot path stays readable --------------------------------------------------------------

HOT_PATH = ["deltaw/core/network.py", "deltaw/core/training.py"]
MAX_COMPLEXITY = 8  # McCabe: branches + loops + boolean operators + 1, per function


def test_every_function_of_the_hot_path_has_cyclomatic_complexity_of_at_most_8():
    """Forward, backward, the epoch loop, the mini-batch update and evaluation read like the book.

    Checked here rather than in pyproject.toml: ruff selects rules for the
    whole tree, and other modules (data set parsers, CLI rendering) are
    allowed longer functions.
    """
    pytest.importorskip("ruff")  # the test extra
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "C901"]
        + ["--config", f"lint.mccabe.max-complexity = {MAX_COMPLEXITY}", "--output-format"]
        + ["concise", *HOT_PATH],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- start-up --------------------------------------------------------------------------------


def test_importing_the_cli_loads_no_heavy_module():
    code = (
        "import sys, deltaw.cli\n"
        "heavy = ['numpy', 'pydantic', 'matplotlib', 'yaml', 'deltaw.plugins.datasets',"
        " 'deltaw.plugins.datasets.mnist',"
        " 'deltaw.runs.train', 'deltaw.core.training']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_package_exports_its_public_names_lazily():
    code = (
        "import sys, deltaw\n"
        "assert not {'numpy', 'pluggy', 'pydantic'} & set(sys.modules)\n"
        "from deltaw import *\n"
        "assert Cost is deltaw.Cost and callable(sigmoid) and hookimpl is deltaw.hookimpl\n"
        "assert set(deltaw.__all__) <= set(dir(deltaw))\n"
        "import deltaw.errors  # a subpackage is an attribute once imported, as for any package\n"
        "assert deltaw.errors.DeltawError is DeltawError\n"
        "try:\n    deltaw.no_such_name\nexcept AttributeError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "no_such_name" in done.stdout


def test_a_plugin_that_upcasts_delta_is_named_in_a_clear_error():
    class Upcasting(Quadratic):
        def output_delta(self, z, a, y, activation):
            return super().output_delta(z, a, y, activation).astype(np.float64)

    data = tiny(np.float32)
    net = Network([4, 5, 3], [Sigmoid(), Sigmoid()], dtype=np.float32)
    net.initialize(NielsenLarge(), np.random.default_rng(0))
    with pytest.raises(
        TypeError, match=r"Upcasting\.output_delta returned a float64 δ in a float32 network"
    ):
        Trainer(
            net, Upcasting(), SGD(lr=1.0), epochs=1, batch_size=10, rng=np.random.default_rng(0)
        ).fit(data)
