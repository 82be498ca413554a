"""Mini-batch training: shuffle, forward, backward, update; evaluate per epoch.

The framework's share of every update (design.md, "Optimizer") lives here:
the 1-based step, the scheduled learning rate, regularizer gradients,
gradient clipping, decoupled weight decay and the non-finite check. An update
rule only does its own math.

Everything plugin-related is resolved before :meth:`Trainer.fit`; the inner
loop only calls methods on objects it already holds, and per-batch callbacks
only run when one overrides ``on_batch_end``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.core.base import (
    Array,
    Callback,
    Cost,
    DataSplits,
    EvalContext,
    Metric,
    Optimizer,
    Regularizer,
    Schedule,
    Split,
    overrides,
)
from deltaw.core.dropout import DropoutMasks
from deltaw.core.network import Gradients, Network
from deltaw.core.run_context import RunContext

CHUNK_BYTES = 1 << 20  # rows of the shuffled training set gathered at a time (see _chunks)


class NonFiniteError(ArithmeticError):
    """The cost or the weights became NaN or infinite during training."""

    def __init__(self, epoch: int, batch: int | None, what: str) -> None:
        self.epoch, self.batch, self.what = epoch, batch, what
        where = f"epoch {epoch}" + (f", mini-batch {batch}" if batch is not None else "")
        super().__init__(f"{what} became NaN or infinite in {where}")


@dataclass
class Clipping:
    """Gradient clipping applied before every update: by global norm, then by value."""

    norm: float | None = None
    value: float | None = None


class Trainer:
    """Trains ``network`` with ``optimizer`` on mini-batches of a :class:`DataSplits`.

    Args:
        network: the network to train (changed in place).
        cost: the cost C whose batch mean is minimised.
        optimizer: the update rule; its ``params.lr`` is the base rate η.
        epochs: number of passes over the training split.
        batch_size: mini-batch size m.
        rng: the generator used for shuffling (its state is checkpointed).
        regularizers: weight penalties, scaled by the training-set size n.
        schedule: learning-rate schedule (constant η when None).
        metrics: name → metric, evaluated per epoch on each of ``evaluate_on``.
        evaluate_on: which splits to evaluate ("training", "validation", "test"),
            the book's ``monitor_*`` flags.
        callbacks: objects with ``on_run_start/on_epoch_end/on_batch_end/on_run_end``.
        clipping: optional gradient clipping.
        weight_decay: decoupled weight decay λ: ``w ← w − η λ w`` before each update.
        lr_multipliers: one factor per weight layer: layer l's W and b get η × factor
            (decay included); None means 1 for every layer.
        shuffle: shuffle the training split every epoch.
        run: the run this training belongs to (its folder and checkpoint writer), or None.
        dropout_rng: the generator of the dropout masks when ``network.dropout`` drops
            units (its state is checkpointed); None spawns one from ``rng``'s seed sequence.
    """

    def __init__(
        self,
        network: Network,
        cost: Cost,
        optimizer: Optimizer,
        *,
        epochs: int,
        batch_size: int,
        rng: np.random.Generator,
        regularizers: Sequence[Regularizer] = (),
        schedule: Schedule | None = None,
        metrics: dict[str, Metric] | None = None,
        evaluate_on: Sequence[str] = ("training", "validation"),
        callbacks: Sequence[Callback] = (),
        clipping: Clipping | None = None,
        weight_decay: float = 0.0,
        shuffle: bool = True,
        run: RunContext | None = None,
        lr_multipliers: Sequence[float] | None = None,
        dropout_rng: np.random.Generator | None = None,
    ) -> None:
        self.network, self.cost, self.optimizer = network, cost, optimizer
        self.epochs, self.batch_size, self.rng = int(epochs), int(batch_size), rng
        self.regularizers = list(regularizers)
        self.schedule = schedule
        self.metrics = dict(metrics or {})
        self.evaluate_on = list(evaluate_on)
        self.callbacks = list(callbacks)
        self.clipping = clipping if clipping and (clipping.norm or clipping.value) else None
        self.weight_decay = float(weight_decay)
        self.shuffle = shuffle
        self.base_lr = float(optimizer.params.lr)
        self.lr = self.base_lr
        self.epoch = 0  # epochs completed
        self.step = 0  # updates done; the next update is step + 1 (1-based)
        self.history: list[dict[str, float]] = []
        self.stop = False
        self.stop_reason: str | None = None
        self.state: list[dict[str, Array]] = [optimizer.init(p) for p in network.params()]
        self.lr_factors = lr_factors(lr_multipliers, len(network.weights))  # per W₁, b₁, W₂, …
        self._snapshot: dict[str, Any] | None = None
        self.run = run
        if dropout_rng is None and any(network.dropout):
            dropout_rng = _spawned(rng)
        self.dropout_rng = dropout_rng

    # -- the run it belongs to -----------------------------------------------------------
    @property
    def run_dir(self) -> Path | None:
        """The run folder (``self.run.folder``), or None outside a run."""
        return self.run.folder if self.run is not None else None

    @run_dir.setter
    def run_dir(self, folder: str | Path) -> None:
        if self.run is None:
            self.run = RunContext(Path(folder))
        else:
            self.run.folder = Path(folder)

    def save_checkpoint(self, path: str | Path) -> None:
        """Write a full checkpoint to ``path`` through the run's writer."""
        if self.run is None or self.run.save_checkpoint is None:
            raise RuntimeError(
                "this trainer belongs to no run that can save checkpoints (trainer.run is None); "
                "train through deltaw run or deltaw.runs.train.run_spec, or set trainer.run"
            )
        self.run.save_checkpoint(Path(path))

    # -- the loop ------------------------------------------------------------------------
    def fit(self, data: DataSplits) -> list[dict[str, float]]:
        """Train until ``epochs`` are done or a callback/schedule sets ``stop``; returns the
        history."""
        train = data.train
        n = len(train)
        batch_enders = [c for c in self.callbacks if overrides(c, Callback, "on_batch_end")]
        if self.schedule is not None:
            self.schedule.configure(self.epochs, math.ceil(n / self.batch_size))
        for c in self.callbacks:
            c.on_run_start(self)
        try:
            while self.epoch < self.epochs and not self.stop:
                self._snapshot = self.state_dict()
                started = time.perf_counter()
                with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                    self._train_epoch(train, n, batch_enders)
                    if not self._all_finite():
                        raise self._locate_non_finite(train, n)
                self._finish_epoch(data, time.perf_counter() - started)
        except KeyboardInterrupt:
            self.restore_snapshot()
            raise
        finally:
            for c in self.callbacks:
                c.on_run_end(self)
        return self.history

    def _finish_epoch(self, data: DataSplits, train_time: float) -> None:
        """Count the epoch, evaluate, record it in the history, tell the schedule and callbacks."""
        self.epoch += 1
        record: dict[str, float] = {"epoch": self.epoch, "lr": self.lr, "train_time": train_time}
        started = time.perf_counter()
        record.update(self.evaluate(data))
        record["eval_time"] = time.perf_counter() - started
        self.history.append(record)
        if self.schedule is not None and self.schedule.on_epoch_end(self.epoch - 1, record):
            self.stop, self.stop_reason = True, self.stop_reason or "the schedule asked to stop"
        for c in self.callbacks:
            c.on_epoch_end(self, self.epoch, record)

    def _train_epoch(
        self, train: Split, n: int, batch_enders: list[Callback], check_batches: bool = False
    ) -> None:
        """One pass over the shuffled training split, one update per mini-batch of ``m`` rows."""
        m, schedule = self.batch_size, self.schedule
        order = self.rng.permutation(n) if self.shuffle else None
        per_step = schedule is not None and schedule.per_step
        if schedule is not None and not per_step:
            self.lr = float(schedule.lr(self.base_lr, self.epoch, self.step + 1))
        update_mini_batch = self._mini_batch_update(n)
        batch = 0
        for x, y in _chunks(train, order, m):
            for k in range(0, len(x), m):
                step = self.step = self.step + 1
                batch += 1
                if per_step:
                    self.lr = float(schedule.lr(self.base_lr, self.epoch, step))  # type: ignore[union-attr]
                update_mini_batch(x[k : k + m], y[k : k + m], step, self.lr)
                if check_batches and not self._all_finite():
                    raise NonFiniteError(self.epoch + 1, batch, "the weights")
                for c in batch_enders:
                    c.on_batch_end(self, self.epoch + 1, batch)

    def _mini_batch_update(self, n: int) -> Callable[[Array, Array, int, float], None]:
        """The book's ``update_mini_batch`` for one epoch: ``update(x, y, step, lr)``.

        Its gradient buffers are allocated and everything it uses is looked up
        here, once per epoch, so a mini-batch costs no allocation and no
        attribute look-up beyond the math. ``n`` is the training-set size.
        """
        net, cost, opt, regs = self.network, self.cost, self.optimizer, self.regularizers
        decay, clip, params, weights = self.weight_decay, self.clipping, net.params(), net.weights
        grads = net.gradient_buffers()  # backprop writes every step's ∂C/∂W, ∂C/∂b here
        backprop = self._backprop()  # the network's, or with dropout masks drawn per batch
        nabla_w, flat = grads[0], [g for gw in zip(*grads) for g in gw]  # flat: ∂C/∂W₁, ∂C/∂b₁, …
        factors, state = self.lr_factors, self.state  # per-layer multipliers of η
        lrs = [0.0] * len(params)  # η for W₁, b₁, W₂, …; refilled only when η changes
        last = [math.nan]

        def update(x: Array, y: Array, step: int, lr: float) -> None:
            backprop(x, y, cost, grads)  # ∂C/∂W, ∂C/∂b: batch means, into grads
            for reg in regs:  # + the penalties' ∂/∂W (weights only)
                for l, W in enumerate(weights):
                    nabla_w[l] += reg.gradient(W, n)
            if clip is not None:  # by global norm, then by value
                _clip(flat, clip)
            if lr != last[0]:
                lrs[:], last[0] = [lr * f for f in factors], lr
            if decay:  # decoupled weight decay (Loshchilov & Hutter): w ← (1 − ηλ) w
                for p, lr_p in zip(params, lrs):
                    p *= 1.0 - lr_p * decay
            opt.update_all(params, flat, state, step, lrs)  # the update rule, every W and b

        return update

    def _backprop(self) -> Callable[[Array, Array, Cost, Gradients], Gradients]:
        """``backprop(x, y, cost, out)`` for this epoch, chosen once: no dropout code without it.

        With dropout, every call draws new masks into buffers allocated here
        and runs the network's training pass through them.
        """
        net = self.network
        if not any(net.dropout):
            return net.backprop
        hidden = net.sizes[1:-1]
        masks = DropoutMasks(net.dropout, hidden, self.batch_size, net.dtype, self.dropout_rng)

        def backprop(x: Array, y: Array, cost: Cost, out: Gradients) -> Gradients:
            return net.backprop_dropout(x, y, cost, *masks.draw(len(x)), out)

        return backprop

    def _all_finite(self) -> bool:
        return all(math.isfinite(float(np.sum(p))) for p in self.network.params())

    def _locate_non_finite(self, train: Split, n: int) -> NonFiniteError:
        """Replay the failed epoch from its snapshot, checking every batch, to name the batch."""
        self.restore_snapshot()
        try:
            self._train_epoch(train, n, [], check_batches=True)
        except NonFiniteError as exc:
            self.restore_snapshot()
            return exc
        self.restore_snapshot()
        return NonFiniteError(self.epoch + 1, None, "the weights")

    # -- evaluation ----------------------------------------------------------------------
    def penalty(self, n: int) -> float:
        """The regularizers' total penalty, for the book's total cost."""
        return float(sum(r.penalty(self.network.weights, n) for r in self.regularizers))

    def evaluate(self, data: DataSplits) -> dict[str, float]:
        """Every metric on every split in ``evaluate_on`` (one batched pass per split)."""
        out: dict[str, float] = {}
        if not self.metrics:
            return out
        context = EvalContext(self.cost, self.penalty(len(data.train)))
        for name, split in data.items():
            if name not in self.evaluate_on:
                continue
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                a = self.network.feedforward(split.x)
                for metric_name, metric in self.metrics.items():
                    out[f"{name}_{metric_name}"] = float(metric.compute(a, split.y, context))
        return out

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What resuming bit for bit needs: weights, optimizer state, counters, RNGs, schedule.

        The history is not in it (a run keeps it in ``metrics.jsonl``): taking a state
        costs the same at epoch 2000 as at epoch 2.
        """
        masks = self.dropout_rng  # the dropout masks' generator, None without dropout
        return {
            "weights": [w.copy() for w in self.network.weights],
            "biases": [b.copy() for b in self.network.biases],
            "optimizer": [{k: v.copy() for k, v in s.items()} for s in self.state],
            "epoch": self.epoch,
            "step": self.step,
            "lr": self.lr,
            "rng": self.rng.bit_generator.state,
            "dropout_rng": None if masks is None else masks.bit_generator.state,
            "schedule": self.schedule.state_dict() if self.schedule is not None else {},
            "stop": self.stop,
            "stop_reason": self.stop_reason,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (in place, so the optimizer's views stay valid).

        ``history`` keeps its first ``epoch`` records; the run layer fills it in on resume.
        """
        for dst, src in zip(
            self.network.weights + self.network.biases, state["weights"] + state["biases"]
        ):
            dst[...] = src
        for dst, src in zip(self.state, state["optimizer"]):
            for k in dst:
                dst[k][...] = src[k]
        self.epoch, self.step, self.lr = int(state["epoch"]), int(state["step"]), float(state["lr"])
        self.rng.bit_generator.state = state["rng"]
        if self.dropout_rng is not None and state.get("dropout_rng"):
            self.dropout_rng.bit_generator.state = state["dropout_rng"]
        if self.schedule is not None:
            self.schedule.load_state_dict(state.get("schedule", {}))
        if "history" in state:  # a checkpoint written before the history left the state
            self.history = [dict(h) for h in state["history"]]
        del self.history[self.epoch :]  # back to a snapshot: its later records go too
        self.stop, self.stop_reason = bool(state.get("stop", False)), state.get("stop_reason")

    def restore_snapshot(self) -> None:
        """Go back to the state at the start of the current epoch (the last complete one)."""
        if self._snapshot is not None:
            self.load_state_dict(self._snapshot)


def _spawned(rng: np.random.Generator) -> np.random.Generator:
    """A generator independent of ``rng``'s stream, fixed by its seed (a child of its seed
    sequence; numpy < 1.25 calls that ``_seed_seq``)."""
    bits: Any = rng.bit_generator
    seq = bits.seed_seq if hasattr(bits, "seed_seq") else bits._seed_seq
    return np.random.default_rng(seq.spawn(1)[0])


def _chunks(train: Split, order: Array | None, m: int) -> Iterator[tuple[Array, Array]]:
    """The training rows in ``order`` (as stored when None) as contiguous ``(x, y)`` chunks of whole
    mini-batches.

    The shuffled rows are gathered a chunk of about :data:`CHUNK_BYTES` at a
    time into one reused buffer: the copy stays in cache until the mini-batches
    read it, and the training set is never held twice in memory. Each chunk
    overwrites the previous one: use it before asking for the next.
    """
    x, y = train.x, train.y
    if order is None:
        yield x, y
        return
    row_bytes = max(1, x[:1].nbytes + y[:1].nbytes)
    rows = min(len(order), max(1, CHUNK_BYTES // (row_bytes * m)) * m)
    xbuf, ybuf = np.empty((rows, *x.shape[1:]), x.dtype), np.empty((rows, *y.shape[1:]), y.dtype)
    for start in range(0, len(order), rows):
        idx = order[start : start + rows]
        # mode="clip" lets take write straight into the buffer (idx is a permutation: never out of
        # range)
        yield (
            np.take(x, idx, axis=0, out=xbuf[: len(idx)], mode="clip"),
            np.take(y, idx, axis=0, out=ybuf[: len(idx)], mode="clip"),
        )


def lr_factors(multipliers: Sequence[float] | None, layers: int) -> list[float]:
    """Per parameter array (W₁, b₁, W₂, b₂, …), the factor of η: one multiplier per layer."""
    if multipliers is None:
        return [1.0] * (2 * layers)
    if len(multipliers) != layers:
        raise ValueError(
            f"lr_multipliers has {len(multipliers)} factors, but the network has {layers} weight "
            f"layers: give one per layer"
        )
    return [float(m) for m in multipliers for _ in "Wb"]


def _clip(grads: list[Array], clip: Clipping) -> None:
    """Clip in place: scale all gradients so their global L2 norm ≤ ``norm``, then each entry to
    ±``value``."""
    if clip.norm:
        total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        if total > clip.norm:
            for g in grads:
                g *= clip.norm / total
    if clip.value:
        for g in grads:
            np.clip(g, -clip.value, clip.value, out=g)
