"""The contracts every plugin implements (the math contract of docs/architecture.md).

Batches are rows: ``X`` has shape ``(m, n_in)``; a layer's ``W`` has shape
``(n_in, n_out)`` and ``b`` shape ``(n_out,)``; ``z = a_prev @ W + b``.

A plugin's hyper-parameters live in a nested ``Params`` model (Pydantic in
practice, but the core only calls it). ``Plugin(lr=0.1)`` and
``Plugin(Plugin.Params(lr=0.1))`` are the same thing; the validated model is
``self.params``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from deltaw.core.monitor import Monitor

Array = np.ndarray


class Plugin:
    """Base of every plugin kind: holds the validated ``Params`` as ``self.params``."""

    Params: ClassVar[Any] = None

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        if params is not None and kwargs:
            raise TypeError("pass either a Params object or keyword arguments, not both")
        if params is None:
            if self.Params is None:
                if kwargs:
                    raise TypeError(
                        f"{type(self).__name__} takes no parameters, got {sorted(kwargs)}"
                    )
            else:
                params = self.Params(**kwargs)
        self.params = params

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.params!r})"
            if self.params is not None
            else f"{type(self).__name__}()"
        )


STANDARD_ACTIVATIONS = ("identity", "sigmoid", "tanh", "softmax")
"""The names ``Activation.computes`` may take: functions a cost may fuse its δᴸ with."""


class Activation(Plugin):
    """σ(z) applied to a layer's weighted input.

    Elementwise activations implement :meth:`forward` and :meth:`derivative`;
    the base class derives :meth:`backward` (BP2's ``⊙ σ'(z)``), which they may
    still override for speed. Others (softmax) set ``elementwise = False`` and
    implement :meth:`backward` as a vector–Jacobian product. Whether the
    network multiplies by :meth:`derivative` itself or calls :meth:`backward`
    is decided in one place: :func:`uses_derivative`.
    """

    elementwise: ClassVar[bool] = True
    """σ acts on each z on its own (a diagonal Jacobian); False for softmax and the like."""
    kinks: ClassVar[tuple[float, ...]] = ()
    """Values of z where σ is not differentiable (ReLU: ``(0.0,)``); gradient checks report, not
    fail, near them."""
    computes: ClassVar[str | None] = None
    """The standard function this activation computes exactly, if any: ``"identity"``,
    ``"sigmoid"``, ``"tanh"`` or ``"softmax"`` (:data:`STANDARD_ACTIVATIONS`). Costs fuse
    their δᴸ by it (``activation.computes == "softmax"``), whoever wrote the activation;
    ``deltaw.testing.check_activation`` verifies the claim against ``forward``."""

    def forward(self, z: Array) -> Array:
        """a = σ(z), same shape and dtype as ``z``."""
        raise NotImplementedError

    def derivative(self, z: Array, a: Array) -> Array:
        """σ'(z) elementwise; ``a = σ(z)`` is passed so it can be reused."""
        raise NotImplementedError

    def backward(self, z: Array, a: Array, grad: Array) -> Array:
        """Vector–Jacobian product: ∂C/∂z given ``grad`` = ∂C/∂a, row by row."""
        return grad * self.derivative(z, a)

    def jacobian(self, z: Array, a: Array) -> Array:
        """The full Jacobian ∂a_j/∂z_k of one sample (1-D ``z``), shape ``(n, n)``.

        Used by explanations (path sums), never in training. Derived from
        :meth:`backward` so a plugin only writes one of them.
        """
        n = z.shape[-1]
        eye = np.eye(n, dtype=z.dtype)
        zs, as_ = np.broadcast_to(z, (n, n)), np.broadcast_to(a, (n, n))
        # row i of backward(eye) is e_iᵀ J, i.e. row i of J
        return self.backward(zs, as_, eye)


def uses_derivative(activation: Activation) -> bool:
    """Whether BP2 may multiply ``activation.derivative`` into δ Wᵀ in place (the fast path).

    True when the activation declares ``elementwise = True`` and keeps the base
    :meth:`Activation.backward`, which is exactly ``grad * derivative(z, a)``.
    Otherwise (a non-elementwise activation, or an elementwise one with its own
    faster ``backward``) the network calls ``activation.backward``.
    """
    return activation.elementwise and type(activation).backward is Activation.backward


class Cost(Plugin):
    """C(a, y), a per-sample cost.

    ``value`` is the mean over the batch of the per-sample costs;
    ``gradient`` is ∂C_x/∂a for each row (not divided by the batch size).
    """

    domain: ClassVar[str] = "real"
    """Outputs the cost is defined for: ``"real"``, ``"unit"`` (each a in (0, 1)) or ``"simplex"``
    (rows summing to 1)."""

    def value(self, a: Array, y: Array) -> float:
        """Mean over the rows of the per-sample cost C_x."""
        raise NotImplementedError

    def gradient(self, a: Array, y: Array) -> Array:
        """∂C_x/∂a for each row (same shape as ``a``)."""
        raise NotImplementedError

    def output_delta(self, z: Array, a: Array, y: Array, activation: Activation) -> Array:
        """δᴸ = ∂C_x/∂zᴸ (BP1). Override to fuse stable pairs (e.g. cross-entropy + sigmoid)."""
        return activation.backward(z, a, self.gradient(a, y))

    def kink_distance(self, a: Array, y: Array) -> Array | None:
        """How far each row of ``a`` is from the cost's kinks, or None for a smooth cost.

        A kink is where C_x or ∂C_x/∂a jumps in slope (hinge at its margin,
        Huber at |a − y| = δ): central differences straddling one are off by
        O(h), not O(h²). Return, per row, a lower bound on the ∞-norm distance
        from ``a`` to the nearest kink (shape ``(m,)``); gradient checks draw
        their test points away from kinks and report, not fail, near them.
        """
        return None


class Initializer(Plugin):
    """Draws a layer's starting weights and biases from ``rng``."""

    def weights(self, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
        """W of shape ``(fan_in, fan_out)``, float64 (the network casts to its dtype)."""
        raise NotImplementedError

    def biases(self, fan_out: int, rng: np.random.Generator) -> Array:
        """b of shape ``(fan_out,)``; zeros unless overridden."""
        return np.zeros(fan_out)


class Optimizer(Plugin):
    """An update rule: only its own math.

    The framework owns the 1-based ``step``, the learning rate after any
    schedule (``lr``), gradient clipping, decoupled weight decay,
    regularizers and NaN checks. ``Params`` must have an ``lr`` field: the
    base rate.
    """

    def init(self, param: Array) -> dict[str, Array]:
        """State for one parameter array: a dict of arrays (checkpointable)."""
        return {}

    def update(
        self, param: Array, grad: Array, state: dict[str, Array], step: int, lr: float
    ) -> None:
        """Change ``param`` in place from its mean gradient ``grad``."""
        raise NotImplementedError

    def update_all(
        self,
        params: list[Array],
        grads: list[Array],
        states: list[dict[str, Array]],
        step: int,
        lrs: list[float],
    ) -> None:
        """One step for every parameter array (W₁, b₁, W₂, b₂, …), ``lrs[i]`` for ``params[i]``.

        The trainer calls this once per mini-batch. The default calls
        :meth:`update` array by array; override it for a rule that needs all
        arrays at once (a global norm). ``lrs`` differ only with per-layer
        learning-rate multipliers.
        """
        for param, grad, state, lr in zip(params, grads, states, lrs):
            self.update(param, grad, state, step, lr)


class Transform(Plugin):
    """A link of an optimizer chain: changes the gradients before the update rule, or the
    parameters after it.

    ``acts_on = "gradient"`` (the default): :meth:`apply` gets a gradient
    buffer it may change in place (the chain's own copy, never the trainer's)
    and returns the transformed gradient; links run in the order a spec lists
    them, before the chain's update rule. ``acts_on = "params"``: the link
    comes after the update rule and :meth:`after_update` changes the freshly
    updated parameter in place (Lookahead). Override the ``*_all`` variant
    instead when the transform needs every array at once (clipping by the
    global norm). State is a dict of arrays per parameter array, as for an
    :class:`Optimizer`, so checkpoints and resume cover it.
    """

    acts_on: ClassVar[str] = "gradient"
    """``"gradient"`` (before the update rule) or ``"params"`` (after it)."""

    def init(self, param: Array) -> dict[str, Array]:
        """State for one parameter array: a dict of arrays (checkpointable)."""
        return {}

    def apply(self, grad: Array, state: dict[str, Array], param: Array, step: int) -> Array:
        """The transformed gradient of ``param`` at the 1-based ``step`` (may reuse ``grad``)."""
        raise NotImplementedError

    def apply_all(
        self, grads: list[Array], states: list[dict[str, Array]], params: list[Array], step: int
    ) -> list[Array]:
        """:meth:`apply` for every array; override for a transform that looks at all of them."""
        return [self.apply(g, s, p, step) for g, s, p in zip(grads, states, params)]

    def after_update(self, param: Array, state: dict[str, Array], step: int) -> None:
        """Change ``param`` in place after the update rule's step (``acts_on = "params"``)."""
        raise NotImplementedError

    def after_update_all(
        self, params: list[Array], states: list[dict[str, Array]], step: int
    ) -> None:
        """:meth:`after_update` for every array; override to look at all of them."""
        for param, state in zip(params, states):
            self.after_update(param, state, step)


class Regularizer(Plugin):
    """A penalty on the weights (never the biases), scaled by the training-set size ``n``.

    ``penalty`` is added to the cost; ``gradient`` to ∂C/∂w (the batch mean),
    so with plain SGD L2 gives the book's ``w → (1 − ηλ/n) w − η ∂C₀/∂w``.
    """

    kinks: ClassVar[tuple[float, ...]] = ()
    """Values of w where the penalty is not differentiable; gradient checks step over them."""

    def penalty(self, weights: list[Array], n: int) -> float:
        """The term added to the cost for all weight matrices."""
        raise NotImplementedError

    def gradient(self, w: Array, n: int) -> Array:
        """Its contribution to ∂C/∂w for one weight matrix."""
        raise NotImplementedError


@dataclass
class EvalContext:
    """What a metric may need beyond outputs and targets."""

    cost: Cost
    penalty: float = 0.0


class Metric(Plugin):
    """A number computed from outputs ``a`` and targets ``y`` of a whole split."""

    higher_is_better: ClassVar[bool] = True

    def compute(self, a: Array, y: Array, context: EvalContext) -> float:
        raise NotImplementedError


@dataclass
class Split:
    """Inputs ``x`` (m, n_in) and targets ``y`` (m, n_out) of one split."""

    x: Array
    y: Array

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class DataSplits:
    """Training, and optionally validation and test, splits of a data set.

    ``info`` describes the data set for people (``classes``, ``input_dim``,
    ``kind``, ``source``, … — JSON-able values): a run records it in its
    ``environment.json`` under ``data.info``; training never reads it.
    """

    train: Split
    validation: Split | None = None
    test: Split | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def items(self) -> list[tuple[str, Split]]:
        return [
            (k, s)
            for k, s in (
                ("training", self.train),
                ("validation", self.validation),
                ("test", self.test),
            )
            if s is not None
        ]


class Dataset(Plugin):
    """Loads (or generates, from ``rng``) a data set in the requested dtype."""

    def load(self, rng: np.random.Generator, dtype: np.dtype) -> DataSplits:
        raise NotImplementedError


class Schedule(Plugin):
    """A learning-rate schedule: the rate for an epoch (and step).

    ``per_step`` schedules are asked every mini-batch; the others once per
    epoch. ``on_epoch_end`` lets plateau rules react to metrics and returns
    True to ask training to stop (saying why in ``stop_reason``).
    ``state_dict``/``load_state_dict`` make it checkpointable. A schedule that
    watches a metric holds a :class:`~deltaw.core.monitor.Monitor` as
    ``monitor``: the run checks its key before training and binds its direction.
    """

    per_step: ClassVar[bool] = False
    monitor: Monitor | None = None
    """The metric a plateau rule watches, if any (checked and bound by the run layer)."""
    stop_reason: str | None = None
    """Why ``on_epoch_end`` asked to stop; shown as the run's stop reason."""

    def configure(self, epochs: int, steps_per_epoch: int) -> None:
        """Told the run's length before training starts (schedules spanning the run use it)."""

    def lr(self, base_lr: float, epoch: int, step: int) -> float:
        """The rate for ``epoch`` (0-based) and global ``step`` (1-based)."""
        raise NotImplementedError

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class Callback(Plugin):
    """Hooks into a training run. Set ``trainer.stop = True`` to stop after the epoch.

    ``on_batch_end`` is only called for callbacks that override it. A callback
    with state (best value so far, a patience count) overrides ``state_dict``
    and ``load_state_dict``: the run saves the state in every checkpoint and
    loads it on resume, so a resumed run continues as an uninterrupted one. A
    callback that watches a metric holds a :class:`~deltaw.core.monitor.Monitor`
    as ``monitor``: the run checks its key before training and binds its direction.
    """

    monitor: Monitor | None = None
    """The metric this callback watches, if any (checked and bound by the run layer)."""

    volatile_files: ClassVar[tuple[str, ...]] = ()
    """Glob patterns (relative to the run folder) of files whose bytes carry wall-clock
    stamps (TensorBoard event files): ``deltaw.testing.check_callback`` checks that they
    exist, not that they are equal byte for byte."""

    def on_run_start(self, trainer: Any) -> None:
        pass

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        pass

    def on_batch_end(self, trainer: Any, epoch: int, batch: int) -> None:
        pass

    def on_run_end(self, trainer: Any) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue: JSON-able values and numpy arrays."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def overrides(obj: object, base: type, method: str) -> bool:
    """True when ``obj``'s class overrides ``base.method``."""
    return getattr(type(obj), method) is not getattr(base, method)


class Executor(Plugin):
    """Runs independent jobs (sweep trials), possibly in parallel.

    ``run(fn, jobs, workers)`` calls ``fn(job)`` for every job and yields
    ``(job, result_or_exception)`` pairs as they finish; one failing job must
    not stop the others. ``fn`` and the jobs are picklable.

    An executor with ``streams = True`` accepts any iterable of jobs (a
    generator that an adaptive search feeds from the finished results): it
    keeps at most ``workers`` jobs in flight and takes the next job only when
    a slot is free, after yielding the result that freed it. One with
    ``streams = False`` (the default, so executors written for a list keep
    working) is given a list.

    The sweep calls, in order: :meth:`start`, :meth:`channel`, :meth:`run`,
    and :meth:`close` (always). All but ``run`` are optional.
    """

    streams: ClassVar[bool] = False
    results: str = "shared"
    """``shared``: trials write into the sweep folder, which every worker sees.
    ``return``: trials run in a temporary folder and return their files."""

    def run(self, fn: Any, jobs: Iterable[Any], workers: int) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError

    def start(self, workers: int, requires: dict[str, str]) -> None:
        """Before any job: start what is needed; check every worker has the
        distributions ``requires`` names (name → the driver's version)."""

    def channel(self) -> Any:
        """The trial-event channel (:class:`deltaw.core.channel.TrialChannel`) that
        :meth:`run` pumps while it waits, or None when trials cannot send events."""
        return None

    def close(self) -> None:
        """Release what :meth:`start` and :meth:`channel` took."""
