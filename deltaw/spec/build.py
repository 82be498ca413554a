"""Turning a spec into core objects, instantiated from its resolved plugin references.

Names are looked up once, by :func:`deltaw.spec.resolve.resolve_spec` (which
``validate_spec`` calls); ``build`` takes that :class:`ResolvedSpec` and never
looks a name up again. Given a plain :class:`Spec`, it resolves it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from deltaw.core.base import Callback, Cost, DataSplits, Metric, Optimizer, Regularizer, Schedule
from deltaw.core.network import Network
from deltaw.core.preprocess import Standardizer
from deltaw.core.training import Clipping, Trainer
from deltaw.errors import DataError, SpecError
from deltaw.memory import check_fits, many
from deltaw.registry import Registry, get_registry
from deltaw.spec.links import link_refs
from deltaw.spec.models import Spec
from deltaw.spec.resolve import ResolvedSpec, metric_key, resolve_spec


@dataclass
class Experiment:
    """Everything a run needs, built from a spec."""

    spec: Spec
    network: Network
    cost: Cost
    optimizer: Optimizer
    regularizers: list[Regularizer]
    metrics: dict[str, Metric]
    schedule: Schedule | None
    callbacks: list[Callback]
    data: DataSplits | None
    shuffle_rng: np.random.Generator
    plugins_used: dict[str, str] = field(default_factory=dict)  # "kind:name" → origin
    dropout_rng: np.random.Generator | None = None  # the dropout masks' generator
    preprocess: Standardizer | None = None  # fitted on the training split when data is loaded

    def trainer(self, extra_callbacks: Sequence[Callback] = ()) -> Trainer:
        t = self.spec.training
        return Trainer(
            self.network,
            self.cost,
            self.optimizer,
            epochs=t.epochs,
            batch_size=t.batch_size,
            rng=self.shuffle_rng,
            regularizers=self.regularizers,
            schedule=self.schedule,
            metrics=self.metrics,
            evaluate_on=t.evaluate,
            callbacks=[*self.callbacks, *extra_callbacks],
            clipping=Clipping(t.clip.norm, t.clip.value),
            weight_decay=t.weight_decay,
            lr_multipliers=t.layer_lr_multipliers(len(self.spec.network.layers) - 1),
            shuffle=t.shuffle,
            dropout_rng=self.dropout_rng,
        )


DROPOUT_STREAM = 4  # spawn key of the dropout masks (3 is the noise transform's)


class Seeds(NamedTuple):
    """The generators of one seed (:func:`seeds`)."""

    data: np.random.Generator
    init: np.random.Generator
    shuffle: np.random.Generator
    dropout: np.random.Generator


def seeds(seed: int) -> Seeds:
    """Independent generators for data, initialization, shuffling and dropout, from one seed.

    Children of ``SeedSequence(seed)``: spawn keys 0, 1, 2 (what ``spawn(3)``
    gives, so runs from before dropout draw the same numbers) and
    :data:`DROPOUT_STREAM`.
    """
    data, init, shuffle = np.random.SeedSequence(seed).spawn(3)
    dropout = np.random.SeedSequence(seed, spawn_key=(DROPOUT_STREAM,))
    return Seeds(*(np.random.default_rng(s) for s in (data, init, shuffle, dropout)))


def build_network(spec: ResolvedSpec, rng: np.random.Generator) -> Network:
    """The spec's network, initialized from ``rng``."""
    n, plugins = spec.spec.network, spec.plugins
    hidden = plugins["network.activation"].build()
    output = (
        plugins["network.output_activation"].build() if n.output_activation is not None else hidden
    )
    layers = len(n.layers) - 1
    acts = [hidden] * (layers - 1) + [output]
    net = Network(n.layers, acts, dtype=spec.spec.dtype, dropout=n.dropout)
    net.initialize(plugins["network.init"].build(), rng)
    return net


def build(
    spec: Spec | ResolvedSpec,
    load_data: bool = True,
    registry: Registry | None = None,
    source: str = "the spec",
) -> Experiment:
    """Build the experiment; ``load_data=False`` skips the (possibly slow) data set.

    A :class:`ResolvedSpec` (what ``validate_spec`` and ``load_spec`` return) is
    built from its resolutions, without the registry; a plain :class:`Spec` is
    resolved against ``registry`` first, its problems reported as ``source``'s.
    """
    if not isinstance(spec, ResolvedSpec):
        spec = resolve_spec(spec, registry or get_registry(), source)
    s, plugins = spec.spec, spec.plugins
    data_rng, init_rng, shuffle_rng, dropout_rng = seeds(s.seed)
    check_memory(spec, source=source)  # the parameters before the data: MNIST takes a second
    data = plugins["data"].build().load(data_rng, np.dtype(s.dtype)) if load_data else None
    prep = None
    if data is not None:
        check_data_fits(data, s.network.layers, s.data.name, source)
        evaluated = [len(split) for name, split in data.items() if name in s.training.evaluate]
        check_memory(spec, len(data.train), max(evaluated, default=0), source)
        if s.preprocess.standardize:  # statistics from the training split, applied to every split
            prep = Standardizer.fit(data.train.x)
            data = prep.apply_splits(data)
    used = spec.plugins_used()
    for kind, _, link in link_refs(plugins):  # a chain's links, resolved at validation
        used[f"{kind}:{link._entry.name}"] = link._entry.plugin.origin
    schedule = plugins.get("schedule")
    return Experiment(
        spec=s,
        network=build_network(spec, init_rng),
        cost=plugins["cost"].build(),
        optimizer=plugins["optimizer"].build(),
        regularizers=[r.build() for r in spec.listed("regularizers")],
        metrics={metric_key(r): r.build() for r in spec.listed("metrics")},
        schedule=schedule.build() if schedule is not None else None,
        callbacks=[c.build() for c in spec.listed("callbacks")],
        data=data,
        shuffle_rng=shuffle_rng,
        plugins_used=used,
        dropout_rng=dropout_rng,
        preprocess=prep,
    )


def check_memory(
    spec: ResolvedSpec, train_rows: int = 0, eval_rows: int = 0, source: str = "the spec"
) -> None:
    """Refuse a network that cannot fit in memory before allocating it, naming its widest layer.

    The estimate: weights and biases, their gradients and the optimizer's state
    (as many arrays per parameter as its ``init`` returns), the initializer's
    float64 draw of the largest matrix before the cast and, once the data's
    size is known (``train_rows``), the activations of a mini-batch (z, a and δ
    per layer) or of the largest evaluated split.
    """
    s = spec.spec
    layers, itemsize = s.network.layers, np.dtype(s.dtype).itemsize
    pairs = list(zip(layers[:-1], layers[1:]))
    params = sum(n_in * n_out + n_out for n_in, n_out in pairs)
    states = _state_arrays(spec)
    batch = min(s.training.batch_size, train_rows)
    activations = max(3 * batch * sum(layers), 2 * eval_rows * max(layers)) * itemsize
    need = params * (2 + states) * itemsize + 8 * max(a * b for a, b in pairs) + activations
    shown = str(layers) if len(str(layers)) <= 60 else f"{str(layers)[:50]}…]"
    i = max(range(len(layers)), key=lambda j: layers[j] * sum(layers[max(j - 1, 0) : j + 2]))
    check_fits(
        need,
        f"{source}: network.layers {shown} (with its widest layer, network.layers[{i}] = "
        f"{many(layers[i])} units: weights, gradients and {states} optimizer state array(s) per "
        f"weight for {s.optimizer.name!r}, in {s.dtype}, and the activations)",
        f"Use fewer units in network.layers[{i}] (or dtype float32, or a smaller batch).",
        SpecError,
    )


def _state_arrays(spec: ResolvedSpec) -> int:
    """How many arrays the optimizer keeps per parameter (asked of its ``init`` on a 1×1 array)."""
    try:
        return len(spec.plugins["optimizer"].build().init(np.zeros((1, 1), spec.spec.dtype)))
    except Exception:  # a plugin's bug surfaces in training, with its name; estimate as adam
        return 2


def check_data_fits(data: DataSplits, layers: list[int], name: str, source: str) -> None:
    """The data set's input and target widths must match the first and last layers."""
    for split_name, split in data.items():
        n_in, n_out = split.x.shape[1], split.y.shape[1]
        if n_in != layers[0] or n_out != layers[-1]:
            raise DataError(
                f"{source}: data set {name!r} has {n_in} inputs and {n_out} targets per sample "
                f"({split_name} split), "
                f"but network.layers is {layers}. "
                f"Set network.layers to start with {n_in} and end with {n_out}."
            )
