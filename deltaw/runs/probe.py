"""A network and a few samples to look at: from a spec, or from ``--layers 2,3,3,2`` and plugin
names.

Used by ``deltaw gradcheck`` and ``deltaw explain``. From a spec, the network is
exactly the one ``deltaw run`` starts from (same seed, same initializer) and
the samples are rows of its training split. From ``--layers``, the network is
initialized from ``seed`` and the samples are random: inputs ~ N(0, 1) and
one-hot targets (a random 0 or 1 for a single output), as in a classification
data set, so they suit every cost including log-likelihood with softmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from deltaw.core.base import Array, Cost, Regularizer
from deltaw.core.network import Network
from deltaw.errors import DataError, DeltawError, SpecError
from deltaw.registry import BUILTIN, Registry, get_registry
from deltaw.spec.build import build, seeds
from deltaw.spec.loading import load_spec
from deltaw.spec.models import PluginRef
from deltaw.spec.resolve import resolve


@dataclass
class Probe:
    """A network, its cost and a few samples, with the names to show for them."""

    network: Network
    cost: Cost
    x: Array  # (m, n_in)
    y: Array  # (m, n_out)
    layer_names: list[str]  # activation of each weight layer (index 0 = layer 2)
    cost_name: str
    source: str  # the spec file, or "--layers 2,3,3,2"
    rows: list[int] = field(default_factory=list)  # rows of the training split, when from a spec
    regularizers: list[Regularizer] = field(default_factory=list)
    regularizer_names: list[str] = field(default_factory=list)
    n_train: int = 0


def parse_layers(text: str) -> list[int]:
    """``"2,3,3,2"`` → ``[2, 3, 3, 2]``, or a clear error."""
    try:
        sizes = [int(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise SpecError(
            f"--layers {text!r}: expected at least two comma-separated positive layer sizes, "
            f"input first, e.g. --layers 2,3,3,2."
        )
    return sizes


def parse_weight(text: str) -> tuple[int, int, int]:
    """``"3,1,2"`` → ``(3, 1, 2)``: the book's w[l][j][k]."""
    try:
        l, j, k = (int(p) for p in text.replace(" ", "").split(","))
    except ValueError:
        raise DeltawError(
            f"--weight {text!r}: expected three comma-separated numbers l,j,k (the book's "
            "w[l][j][k]: "
            "from neuron k of layer l−1 to neuron j of layer l, layers and neurons counted from "
            "1, "
            f"layer 1 = the input layer), e.g. --weight 2,1,1."
        ) from None
    return l, j, k


def from_spec(
    path: str | Path,
    overrides: Sequence[str] = (),
    samples: int = 3,
    seed: int = 0,
    rows: Sequence[int] | None = None,
    registry: Registry | None = None,
) -> Probe:
    """The spec's initial network and ``samples`` random rows of its training split (or the given
    ``rows``)."""
    registry = registry or get_registry()
    resolved, _ = load_spec(path, list(overrides), registry=registry)
    exp = build(resolved, load_data=True, registry=registry, source=str(path))
    spec = resolved.spec
    assert exp.data is not None
    train = exp.data.train
    if rows is None:
        take = min(samples, len(train))
        rows = sorted(
            int(r) for r in np.random.default_rng(seed).choice(len(train), take, replace=False)
        )
    for r in rows:
        if not 0 <= r < len(train):
            raise DataError(
                f"{path}: sample {r} does not exist; the training split of {spec.data.name!r} has "
                "rows "
                f"0 to {len(train) - 1}."
            )
    net = spec.network
    hidden = _ref_label(net.activation)
    output = _ref_label(net.output_activation) if net.output_activation is not None else hidden
    names = [hidden] * (len(net.layers) - 2) + [output]
    return Probe(
        network=exp.network,
        cost=exp.cost,
        x=train.x[list(rows)],
        y=train.y[list(rows)],
        layer_names=names,
        cost_name=_ref_label(spec.cost),
        source=str(path),
        rows=list(rows),
        regularizers=exp.regularizers,
        regularizer_names=[_ref_label(r) for r in spec.regularizers],
        n_train=len(train),
    )


def from_layers(
    layers: str | Sequence[int],
    activation: str = "deltaw:sigmoid",
    output_activation: str | None = None,
    cost: str = "deltaw:quadratic",
    init: str = "deltaw:nielsen",
    samples: int = 3,
    seed: int = 0,
    registry: Registry | None = None,
) -> Probe:
    """A float64 network of ``layers`` initialized from ``seed``, with random samples from the same
    seed.

    Plugin names may carry parameters as a YAML mapping: ``'{name: leaky-relu, alpha: 0.1}'``.
    """
    registry = registry or get_registry()
    sizes = parse_layers(layers) if isinstance(layers, str) else [int(s) for s in layers]
    data_rng, init_rng = seeds(seed)[:2]
    hidden, hidden_name = _plugin(registry, "activation", activation, "--activation")
    if output_activation is not None:
        out, out_name = _plugin(registry, "activation", output_activation, "--output-activation")
    else:
        out, out_name = hidden, hidden_name
    the_cost, cost_name = _plugin(registry, "cost", cost, "--cost")
    initializer, _ = _plugin(registry, "initializer", init, "--init")
    n_layers = len(sizes) - 1
    net = Network(sizes, [hidden] * (n_layers - 1) + [out], dtype=np.float64)
    net.initialize(initializer, init_rng)
    x = data_rng.standard_normal((samples, sizes[0]))
    if sizes[-1] == 1:
        y = data_rng.integers(0, 2, (samples, 1)).astype(np.float64)
    else:
        y = np.eye(sizes[-1])[data_rng.integers(0, sizes[-1], samples)]
    return Probe(
        net,
        the_cost,
        x,
        y,
        [hidden_name] * (n_layers - 1) + [out_name],
        cost_name,
        source="--layers " + ",".join(map(str, sizes)),
        n_train=samples,
    )


def _plugin(registry: Registry, kind: str, text: str, option: str) -> tuple[Any, str]:
    """A plugin instance from a name (or a YAML mapping with ``name`` and parameters), and its
    label."""
    raw: Any = text
    if text.strip().startswith("{"):
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(
                f"{option} {text!r}: not a valid YAML mapping ({' '.join(str(exc).split())})."
            ) from None
    try:
        ref = PluginRef.model_validate(raw)
    except ValidationError:
        raise SpecError(
            f"{option} {text!r}: expected a {kind} name, or a mapping like '{{name: ..., param: "
            "value}'."
        ) from None
    return resolve(registry, kind, option, ref, source=option).build(), _ref_label(ref)


def _ref_label(ref: PluginRef) -> str:
    """``sigmoid``, or ``leaky-relu(alpha=0.1)`` with parameters (a built-in unqualified)."""
    given, name = ref.given, ref.name.removeprefix(f"{BUILTIN}:")
    if not given:
        return name
    return f"{name}(" + ", ".join(f"{k}={v}" for k, v in given.items()) + ")"
