"""The implementations the benchmark times, each training the same network from the same weights.

* :class:`Deltaw` — deltaw itself, through the code path of ``deltaw run``: a
  spec file is read and validated, every plugin is resolved through the
  registry, the experiment is built and ``Trainer.fit`` trains it (with the
  run folder's ``RunWriter`` writing metrics and a checkpoint every epoch).
* :class:`PlainNumpy` — the reference: a plain numpy loop with the same math
  (whole mini-batch as one matrix, batch-mean gradients, ``w ← w − η g``).
* :class:`Book` — the per-example algorithm of Nielsen's ``network.py``
  (chapter 1; ``network2.py``'s update when L2 is on), column vectors and all.
* :class:`Torch` — PyTorch CPU, ``nn.Linear`` + autograd + ``torch.optim.SGD``.

Every contender has ``epoch(order=None)`` (one pass over the training split;
``order`` fixes the shuffle) and ``weights()`` (the ``(W, b)`` list in deltaw's
layout, ``W`` of shape ``(n_in, n_out)``), so :func:`agreement` can check that
they all compute the same thing before anything is timed.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml


@dataclass(frozen=True)
class Config:
    """One benchmark setting: the network, cost and update of one row group of the table."""

    name: str
    layers: tuple[int, ...] = (784, 30, 10)
    cost: str = "quadratic"  # or "cross-entropy" (sigmoid output, fused δ = a − y)
    eta: float = 3.0
    lmbda: float = 0.0  # L2 (the book's λ, scaled by the training-set size n)
    batch: int = 10
    dtype: str = "float64"
    contenders: tuple[str, ...] = ("deltaw", "numpy", "torch")
    threads: int | None = None  # BLAS threads (training.threads); None leaves BLAS as it is

    @property
    def label(self) -> str:
        net = "-".join(map(str, self.layers))
        reg = f" L2 λ={self.lmbda:g}" if self.lmbda else ""
        return f"[{net}] {self.cost} η={self.eta:g}{reg}, batch {self.batch}, {self.dtype}"


def spec_for(cfg: Config, data: dict[str, Any], seed: int = 1) -> dict[str, Any]:
    """The deltaw spec of ``cfg`` (what a user would write for ``deltaw run``)."""
    return {
        "name": f"bench-{cfg.name}",
        "seed": seed,
        "dtype": cfg.dtype,
        "data": data,
        "network": {"layers": list(cfg.layers), "activation": "sigmoid", "init": "nielsen"},
        "cost": cfg.cost,
        "optimizer": {"name": "sgd", "lr": cfg.eta},
        "regularizers": [{"name": "l2", "lmbda": cfg.lmbda}] if cfg.lmbda else [],
        # metrics stay on (evaluation is timed on its own); no split is evaluated inside an epoch
        "training": {"epochs": 1, "batch_size": cfg.batch, "evaluate": [], "threads": cfg.threads},
    }


def clone_rng(rng: np.random.Generator) -> np.random.Generator:
    """A generator in the same state as ``rng`` (so a copy can draw the same permutation)."""
    twin = np.random.Generator(type(rng.bit_generator)())
    twin.bit_generator.state = rng.bit_generator.state
    return twin


# ---------------------------------------------------------------------------------------
# deltaw
# ---------------------------------------------------------------------------------------


class Deltaw:
    """deltaw through ``deltaw run``'s path: spec file → registry → build → ``Trainer.fit``."""

    name = "deltaw"

    def __init__(self, cfg: Config, data: dict[str, Any], workdir: Path) -> None:
        from deltaw.registry import get_registry
        from deltaw.runs.environment import blas_threads
        from deltaw.spec.build import build
        from deltaw.spec.loading import load_spec

        registry = get_registry()
        path = Path(workdir) / f"{cfg.name}.yaml"
        path.write_text(yaml.safe_dump(spec_for(cfg, data), sort_keys=False), encoding="utf-8")
        spec, _ = load_spec(path, [], registry=registry)
        self.exp = build(spec, registry=registry, source=str(path))
        self.data = self.exp.data
        self.trainer = self.exp.trainer()
        self.threads = blas_threads(cfg.threads)
        self.start = [
            (W.copy(), b.copy()) for W, b in zip(self.exp.network.weights, self.exp.network.biases)
        ]

    def next_order(self) -> np.ndarray:
        """The permutation the next epoch will use (drawn from a copy of the trainer's
        generator)."""
        return clone_rng(self.trainer.rng).permutation(len(self.data.train))

    def epoch(self, order: np.ndarray | None = None) -> None:
        t = self.trainer
        t.epochs = t.epoch + 1
        with self.threads:
            t.fit(self.data)

    def warm_up(self) -> None:
        self.epoch()

    def evaluate(self, splits: list[str]) -> dict[str, float]:
        """``Trainer.evaluate`` on ``splits`` with the spec's metrics (cost and accuracy)."""
        t = self.trainer
        t.evaluate_on = list(splits)
        try:
            with self.threads:
                return t.evaluate(self.data)
        finally:
            t.evaluate_on = []

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        net = self.exp.network
        return list(zip(net.weights, net.biases))


# ---------------------------------------------------------------------------------------
# plain numpy: the reference
# ---------------------------------------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class PlainNumpy:
    """The reference loop: what one writes by hand in numpy, with deltaw's math.

    Per epoch: a shuffled copy of the training rows (refilled in place with
    ``np.take``: faster and steadier than a new ``x[perm]`` every epoch, which
    page-faults 150–300 MB of fresh memory each time); per mini-batch of m rows:
    forward pass, δᴸ (quadratic: (a − y) ⊙ a(1 − a); cross-entropy: a − y),
    δ scaled by 1/m so that BP3/BP4 give batch means, then for each layer
    ∂C/∂W = aᵀδ, ∂C/∂b = Σ δ, the next δ = (δ Wᵀ) ⊙ a(1 − a), and the
    update w ← w − η (∂C/∂W + (λ/n) w), b ← b − η ∂C/∂b.
    """

    name = "numpy"

    def __init__(
        self, cfg: Config, start: list[tuple[np.ndarray, np.ndarray]], train: Any, seed: int = 2
    ) -> None:
        self.cfg = cfg
        self.W = [W.copy() for W, _ in start]
        self.b = [b.copy() for _, b in start]
        self.x, self.y = train.x, train.y
        self.xs, self.ys = (
            np.empty_like(train.x),
            np.empty_like(train.y),
        )  # the shuffled copy, reused
        self.rng = np.random.default_rng(seed)

    def warm_up(self) -> None:
        self.epoch()

    def epoch(self, order: np.ndarray | None = None) -> None:
        cfg, W, B = self.cfg, self.W, self.b
        n, m, eta = len(self.x), cfg.batch, cfg.eta
        if order is None:
            order = self.rng.permutation(n)
        x = np.take(self.x, order, axis=0, out=self.xs, mode="clip")  # = self.x[order]
        y = np.take(self.y, order, axis=0, out=self.ys, mode="clip")
        decay = cfg.lmbda / n
        quadratic = cfg.cost == "quadratic"
        L = len(W)
        with np.errstate(over="ignore"):
            for k in range(0, n, m):
                a = x[k : k + m]
                acts = [a]
                for Wl, bl in zip(W, B):
                    a = sigmoid(a @ Wl + bl)
                    acts.append(a)
                delta = a - y[k : k + m]
                if quadratic:
                    delta *= a * (1.0 - a)
                delta *= 1.0 / len(a)
                for l in range(L - 1, -1, -1):
                    nabla_w = acts[l].T @ delta
                    nabla_b = delta.sum(axis=0)
                    if l:
                        a = acts[l]
                        delta = (delta @ W[l].T) * (a * (1.0 - a))
                    if decay:
                        nabla_w += decay * W[l]
                    W[l] -= eta * nabla_w
                    B[l] -= eta * nabla_b

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(zip(self.W, self.b))


# ---------------------------------------------------------------------------------------
# the book's per-example algorithm
# ---------------------------------------------------------------------------------------


class Book:
    """Nielsen's ``network.py`` ``SGD``/``update_mini_batch``/``backprop``: one example at a time.

    Weights are stored as the book stores them, ``(n_out, n_in)``, and every
    sample is a column vector. With L2 on, the update is ``network2.py``'s
    ``(1 − ηλ/n) w − (η/m) Σ ∇w``; the cross-entropy δᴸ is ``a − y``.
    """

    name = "book"

    def __init__(
        self, cfg: Config, start: list[tuple[np.ndarray, np.ndarray]], train: Any, seed: int = 3
    ) -> None:
        self.cfg = cfg
        self.weights_ = [np.array(W.T, dtype=np.float64) for W, _ in start]
        self.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for _, b in start]
        x, y = np.asarray(train.x, np.float64), np.asarray(train.y, np.float64)
        self.training_data = [(xi.reshape(-1, 1), yi.reshape(-1, 1)) for xi, yi in zip(x, y)]
        self.random = random.Random(seed)

    def warm_up(self) -> None:
        pass

    def epoch(self, order: np.ndarray | None = None) -> None:
        data = self.training_data
        if order is None:
            self.random.shuffle(data)
        else:
            data = [data[i] for i in order]
        m, n = self.cfg.batch, len(data)
        with np.errstate(over="ignore"):
            for mini_batch in [data[k : k + m] for k in range(0, n, m)]:
                self.update_mini_batch(mini_batch, self.cfg.eta, self.cfg.lmbda, n)

    def update_mini_batch(self, mini_batch: list, eta: float, lmbda: float, n: int) -> None:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights_]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        if lmbda:  # network2.py
            self.weights_ = [
                (1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                for w, nw in zip(self.weights_, nabla_w)
            ]
        else:  # network.py
            self.weights_ = [
                w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights_, nabla_w)
            ]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list, list]:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights_]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights_):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        if self.cfg.cost == "quadratic":
            delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        else:  # CrossEntropyCost.delta
            delta = activations[-1] - y
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, len(self.weights_) + 1):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights_[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(w.T, b.ravel()) for w, b in zip(self.weights_, self.biases)]


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    return sigmoid(z) * (1 - sigmoid(z))


# ---------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------


def torch_version() -> str | None:
    """PyTorch's version, or None when it is not installed (the benchmark then skips it)."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


@dataclass
class Torch:
    """PyTorch CPU the way its tutorials write it: ``nn.Sequential`` of ``nn.Linear`` +
    ``nn.Sigmoid``,
    autograd, ``torch.optim.SGD`` (L2 as the weights' ``weight_decay`` = λ/n), one ``zero_grad``/
    ``backward``/``step`` per mini-batch. The cross-entropy version leaves the last sigmoid to
    ``binary_cross_entropy_with_logits`` (same δᴸ = a − y)."""

    cfg: Config
    start: list[tuple[np.ndarray, np.ndarray]]
    train: Any
    seed: int = 4
    name: str = field(default="torch", init=False)

    def __post_init__(self) -> None:
        import torch
        from torch import nn

        if self.cfg.threads is not None:
            torch.set_num_threads(self.cfg.threads)
        dtype = getattr(torch, self.cfg.dtype)
        layers: list[nn.Module] = []
        for i, (W, b) in enumerate(self.start):
            lin = nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(self.start) - 1 or self.cfg.cost == "quadratic":
                layers.append(nn.Sigmoid())
        self.model = nn.Sequential(*layers)
        n = len(self.train.x)
        weights = [p for name, p in self.model.named_parameters() if name.endswith("weight")]
        biases = [p for name, p in self.model.named_parameters() if name.endswith("bias")]
        self.opt = torch.optim.SGD(
            [
                {"params": weights, "weight_decay": self.cfg.lmbda / n},
                {"params": biases, "weight_decay": 0.0},
            ],
            lr=self.cfg.eta,
        )
        self.x = torch.from_numpy(self.train.x)
        self.y = torch.from_numpy(self.train.y)
        self.gen = torch.Generator().manual_seed(self.seed)

    def warm_up(self) -> None:
        """A few hundred mini-batches: enough for PyTorch's lazy set-up, without a whole (slow)
        epoch."""
        self.epoch(np.arange(min(len(self.x), 200 * self.cfg.batch)))

    def epoch(self, order: np.ndarray | None = None) -> None:
        import torch
        import torch.nn.functional as F

        n, m = len(self.x) if order is None else len(order), self.cfg.batch
        perm = (
            torch.randperm(n, generator=self.gen)
            if order is None
            else torch.from_numpy(np.asarray(order))
        )
        x, y = self.x[perm], self.y[perm]
        model, opt = self.model, self.opt
        quadratic = self.cfg.cost == "quadratic"
        for k in range(0, n, m):
            xb, yb = x[k : k + m], y[k : k + m]
            opt.zero_grad()
            out = model(xb)
            if quadratic:
                loss = 0.5 * ((out - yb) ** 2).sum() / len(xb)
            else:
                loss = F.binary_cross_entropy_with_logits(out, yb, reduction="sum") / len(xb)
            loss.backward()
            opt.step()

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        lins = [mod for mod in self.model if hasattr(mod, "weight")]
        return [(lin.weight.detach().numpy().T, lin.bias.detach().numpy()) for lin in lins]


# ---------------------------------------------------------------------------------------
# building them, and checking they agree
# ---------------------------------------------------------------------------------------


def make(name: str, cfg: Config, ref: Deltaw) -> Any:
    """The contender ``name`` for ``cfg``, starting from deltaw's initial weights and data."""
    train = ref.data.train
    if name == "numpy":
        return PlainNumpy(cfg, ref.start, train)
    if name == "book":
        return Book(cfg, ref.start, train)
    if name == "torch":
        return Torch(cfg, ref.start, train)
    raise ValueError(f"unknown contender {name!r}")


def agreement(
    cfg: Config,
    data: dict[str, Any],
    steps: int = 5,
    contenders: tuple[str, ...] | None = None,
    workdir: Path | None = None,
) -> dict[str, float]:
    """Train every contender ``steps`` mini-batches from the same weights in the same order; compare
    to deltaw.

    ``data`` is the spec's data reference; its training split is cut to
    ``steps × batch`` rows with the data set's ``limit``, so one epoch is
    ``steps`` updates. Returns, for each other contender, the largest
    difference from deltaw's weights relative to the largest weight
    (``max |Δw| / max |w|`` over every W and b).
    """
    contenders = tuple(c for c in (contenders or cfg.contenders) if c != "deltaw")
    with tempfile.TemporaryDirectory(prefix="deltaw-bench-") as tmp:
        dw = Deltaw(cfg, {**data, "limit": steps * cfg.batch}, Path(workdir or tmp))
        others = [
            make(c, cfg, dw) for c in contenders if c != "torch" or torch_version() is not None
        ]
        order = dw.next_order()
        dw.epoch()
        for other in others:
            other.epoch(order)
        scale = max(float(np.max(np.abs(p))) for wb in dw.weights() for p in wb)
        out = {}
        for other in others:
            diff = max(
                float(np.max(np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64))))
                for wb_d, wb_o in zip(dw.weights(), other.weights())
                for p, q in zip(wb_d, wb_o)
            )
            out[other.name] = diff / scale
        return out


def tolerance(dtype: str) -> float:
    """The agreement :func:`agreement` must reach: rounding only (summation order, sigmoid
    formula)."""
    return 1e-9 if dtype == "float64" else 1e-4
