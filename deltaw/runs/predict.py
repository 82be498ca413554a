"""Using a trained run: load its network and report its metrics on data it may never have seen.

A run that standardizes its inputs (``preprocess.standardize``) is given data as
the data set holds it; the run's training statistics (``preprocess.npz``) are
applied before the network sees it (:meth:`Trained.feedforward`).

The input is a data-set spec (a YAML/TOML/JSON file holding a ``data:``
section, or a data-set reference on its own such as ``{name: moons,
samples: 500}``), an array file (``.npz`` or ``.csv``, read by the built-in
``npz``/``csv`` data sets with their defaults), or nothing: the run's own
data set. Metrics are the run's (its cost and metrics); the cost includes the
run's regularization penalty, as during training.

Prediction needs only the plugins it uses — the network's activations, the
cost, the metrics, the regularizers and the data set — so a run whose
training-only plugins (callbacks, a schedule, an optimizer or a chain's links,
the initializer) are no longer installed still predicts: see
:func:`prediction_spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.core.base import DataSplits, EvalContext, Split
from deltaw.core.network import Network
from deltaw.core.numerics import classes
from deltaw.errors import DataError, DeltawError
from deltaw.files import save_arrays
from deltaw.registry import Registry, get_registry
from deltaw.runs.folder import load_preprocess, run_overrides, run_spec_file, run_state
from deltaw.spec.build import Experiment, build, check_data_fits, seeds
from deltaw.spec.loading import SUFFIXES, read_spec_file, validate_spec
from deltaw.spec.overrides import apply_overrides, parse_override


@dataclass
class Trained:
    """A trained run: its experiment (data not loaded) with the trained weights in its network."""

    folder: Path
    exp: Experiment
    raw: dict[str, Any]
    train_size: int
    note: str = ""  # which weights, when not the final ones of weights.npz

    @property
    def network(self) -> Network:
        return self.exp.network

    def feedforward(self, x: np.ndarray) -> np.ndarray:
        """The network's outputs for inputs as the data set gives them (standardized first
        with the run's training statistics when the run standardizes: ``preprocess.npz``)."""
        prep = self.exp.preprocess
        return self.network.feedforward(x if prep is None else prep.apply(x))


def prediction_spec(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The run's spec as prediction reads it: only the plugins prediction uses are looked up.

    The weights come from the run and nothing is trained, so the initializer
    becomes the built-in ``zeros`` and the optimizer the built-in ``sgd``
    (neither is ever called), and the schedule, the callbacks and the sweep
    are left out. Activations, cost, metrics, regularizers (their penalty is
    part of the cost metric) and the data set stay as the run had them.
    """
    view = {k: v for k, v in raw.items() if k not in ("schedule", "callbacks", "sweep")}
    network = raw.get("network")
    if isinstance(network, Mapping):
        view["network"] = {**network, "init": "deltaw:zeros"}
    view["optimizer"] = "deltaw:sgd"
    return view


def load_trained(
    folder: str | Path, registry: Registry | None = None, weights: str | Path | None = None
) -> Trained:
    """The run in ``folder`` with the weights of ``weights.npz`` (or another file with w0, b0, …
    arrays). A run still training, or one that crashed, has no final weights: the weights of its
    last checkpoint are used, and ``note`` says so."""
    registry = registry or get_registry()
    folder = Path(folder)
    if not folder.is_dir():
        raise DeltawError(f"{folder}: no such run folder.")
    spec_path = run_spec_file(folder)
    raw = apply_overrides(
        read_spec_file(spec_path), [parse_override(o) for o in run_overrides(folder)]
    )
    resolved = validate_spec(prediction_spec(raw), source=str(spec_path), registry=registry)
    exp = build(resolved, load_data=False, registry=registry, source=str(spec_path))
    state = run_state(folder)
    path, note = Path(weights) if weights is not None else folder / "weights.npz", ""
    if weights is None and state.status in ("running", "crashed") and state.checkpoint:
        path = folder / "checkpoint.npz"  # newer than any weights.npz of an earlier stop
        how = "is still training" if state.status == "running" else "crashed (its process is gone)"
        note = (
            f"The run {how}: using the weights of its last checkpoint (epoch {state.checkpoint})."
        )
    if not path.exists():
        hint = ""
        if weights is None:
            hint = (
                " The run has not finished an epoch yet."
                if state.epochs == 0
                else f" The run records {state.epochs} epochs, but neither weights.npz nor "
                f"checkpoint.npz is in its folder."
            )
        raise DeltawError(f"{path}: no such weights file.{hint}")
    load_weights(exp.network, path)
    if resolved.spec.preprocess.standardize:  # the training split's statistics, as trained
        exp.preprocess = load_preprocess(folder)
    return Trained(folder, exp, raw, int(state.info.get("train_size", 0)), note)


def load_weights(net: Network, path: Path) -> None:
    """Copy ``w0, b0, w1, …`` from an ``.npz`` (weights.npz, checkpoint.npz or best.npz) into
    ``net``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            for i in range(net.num_layers):
                w, b = z[f"w{i}"], z[f"b{i}"]
                if w.shape != net.weights[i].shape or b.shape != net.biases[i].shape:
                    raise DataError(
                        f"{path}: layer {i} has shapes {w.shape}, {b.shape}, but the run's network "
                        "needs "
                        f"{net.weights[i].shape}, {net.biases[i].shape}."
                    )
                net.weights[i][...] = w
                net.biases[i][...] = b
    except KeyError as exc:
        raise DataError(
            f"{path} has no array {exc}; it is not a deltaw weights file (w0, b0, w1, …)."
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} cannot be read as weights ({exc}).") from None


def input_data(
    trained: Trained,
    source: str | Path | Mapping[str, Any] | None,
    registry: Registry | None = None,
) -> tuple[DataSplits, str]:
    """The data to evaluate on, and a description of where it came from.

    ``source`` is a file (a data-set spec or an array file), a data-set reference as a mapping
    (``{"name": "moons", "samples": 500}``, or a mapping with a ``data`` key), or None: the
    run's own data set.
    """
    registry = registry or get_registry()
    raw = prediction_spec(trained.raw)
    where = "the run's data set"
    if isinstance(source, Mapping):
        where = "the given data-set reference"
        raw["data"] = data_reference(dict(source), where)
    elif source is not None:
        path = Path(source)
        suffix = path.suffix.lower()
        if not path.exists():
            raise DeltawError(
                f"{path}: no such file. Give a data-set spec (.yaml, .toml, .json) or an array "
                "file (.npz, .csv)."
            )
        if suffix in (".npz", ".csv"):
            raw["data"] = {"name": suffix[1:], "path": str(path)}
            where = str(path)
        elif suffix in SUFFIXES:
            raw["data"] = data_reference(read_spec_file(path), str(path))
            where = str(path)
        else:
            raise DeltawError(
                f"{path}: give a data-set spec (.yaml, .toml, .json) or an array file (.npz, .csv)."
            )
    raw.pop("sweep", None)
    resolved = validate_spec(raw, source=where, registry=registry)
    spec = resolved.spec
    data_rng = seeds(spec.seed).data
    data = resolved.plugins["data"].build().load(data_rng, np.dtype(spec.dtype))
    check_data_fits(data, spec.network.layers, spec.data.name, where)
    return data, where


def data_reference(mapping: dict[str, Any], where: str) -> Any:
    """The data-set reference in a mapping: its ``data`` section, or the mapping itself."""
    ref = mapping.get("data", mapping)
    if not (isinstance(ref, (dict, str)) and (isinstance(ref, str) or "name" in ref)):
        raise DeltawError(
            f"{where}: expected a data-set spec: a `data:` section, or a mapping with `name` "
            f"(e.g. name: moons)."
        )
    return ref


def evaluate(
    trained: Trained, data: DataSplits | Mapping[str, Split]
) -> dict[str, dict[str, float]]:
    """Every metric of the run on every split of ``data``: ``{split: {metric: value}}``.

    ``data`` is a data set's splits, or any mapping of split names to splits.
    """
    exp = trained.exp
    penalty = (
        sum(r.penalty(exp.network.weights, trained.train_size) for r in exp.regularizers)
        if trained.train_size
        else 0.0
    )
    context = EvalContext(exp.cost, float(penalty))
    out: dict[str, dict[str, float]] = {}
    for name, split in data.items():
        with np.errstate(over="ignore", under="ignore"):
            a = trained.feedforward(split.x)
        out[name] = {
            m: float(metric.compute(a, split.y, context)) for m, metric in exp.metrics.items()
        }
        out[name]["samples"] = len(split)
    return out


def save_predictions(trained: Trained, data: DataSplits, path: str | Path) -> Path:
    """Outputs for every split in an ``.npz``: ``<split>_outputs`` (a), ``<split>_predicted``
    (class) and ``<split>_targets``."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for name, split in data.items():
        with np.errstate(over="ignore", under="ignore"):
            a = trained.feedforward(split.x)
        arrays[f"{name}_outputs"] = a
        arrays[f"{name}_predicted"] = classes(a)
        arrays[f"{name}_targets"] = split.y
    if path.suffix.lower() != ".npz":
        raise DeltawError(
            f"--output {path}: predictions are written as .npz; give a file name ending in .npz."
        )
    save_arrays(path, arrays)
    return path
