"""A run folder seen from Python: :class:`Run`, and :class:`Prediction` (what it predicts).

A run holds only its folder and reads the files when asked, so it always shows what is on
disk: a run resumed elsewhere is seen as it is now. The trained network is loaded once per
``weights.npz`` (again when the file changes).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from deltaw.core import numerics
from deltaw.core.base import Callback, DataSplits, Split
from deltaw.core.history import BOOKKEEPING
from deltaw.errors import DataError, DeltawError
from deltaw.registry import Registry, get_registry
from deltaw.runs.folder import read_run_info, run_overrides, run_spec_file, run_state
from deltaw.runs.predict import Trained, evaluate, input_data, load_trained
from deltaw.runs.report import load_run

if TYPE_CHECKING:
    import pandas

    from deltaw.core.network import Network
    from deltaw.core.preprocess import Standardizer
    from deltaw.spec.models import Spec

DataLike = str | os.PathLike[str] | Mapping[str, Any] | DataSplits | tuple[Any, Any] | None


class Prediction(NamedTuple):
    """What :meth:`Run.predict` returns: the outputs aᴸ and the predicted class of each row.

    For one sample, ``outputs`` is a vector and ``classes`` an int.
    """

    outputs: np.ndarray
    classes: Any


class Run:
    """A run folder: its status, history, trained network, predictions and metrics.

    Made by :func:`deltaw.run` and :func:`deltaw.load_run`; everything is read from
    the folder, which is the same folder ``deltaw run`` writes.
    """

    def __init__(self, folder: str | Path, registry: Registry | None = None) -> None:
        self.folder = Path(folder)
        self._registry = registry
        self._trained: tuple[int, Trained] | None = None

    @property
    def registry(self) -> Registry:
        return self._registry or get_registry()

    @property
    def info(self) -> dict[str, Any]:
        """``run.json``: status, message, epochs, steps, wall time, the last record."""
        return read_run_info(self.folder)

    @property
    def name(self) -> str:
        return str(self.info.get("name", self.folder.name))

    @property
    def status(self) -> str:
        """completed, stopped, interrupted, diverged, failed, running or crashed (its
        process was killed while it trained; resumable)."""
        if not self.info:
            return "unknown"
        return run_state(self.folder).status

    @property
    def message(self) -> str:
        """Why the run stopped, was interrupted or diverged ("" when it completed)."""
        return str(self.info.get("message", ""))

    @property
    def history(self) -> list[dict[str, float]]:
        """One dict per epoch (``metrics.jsonl``): epoch, lr, every metric per split, times."""
        return load_run(self.folder).history

    @property
    def final(self) -> dict[str, float]:
        """The metrics of the last epoch (``{}`` before the first one ends)."""
        history = self.history
        return {k: v for k, v in history[-1].items() if k not in BOOKKEEPING} if history else {}

    def history_frame(self) -> pandas.DataFrame:
        """The history as a pandas DataFrame indexed by epoch (needs pandas)."""
        frame = dataframe(self.history, "Run.history_frame()", "Run.history (a list of dicts)")
        return frame.set_index("epoch") if "epoch" in frame.columns else frame

    @property
    def df(self) -> pandas.DataFrame:
        """Shorthand for :meth:`history_frame`."""
        return self.history_frame()

    @property
    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in (``resolved.yaml``)."""
        return load_run(self.folder).resolved

    @property
    def overrides(self) -> list[str]:
        return run_overrides(self.folder)

    @property
    def spec(self) -> Spec:
        """The validated spec of this run (the spec as written plus its overrides)."""
        from deltaw.spec.loading import load_spec

        resolved, _ = load_spec(run_spec_file(self.folder), self.overrides, registry=self.registry)
        return resolved.spec

    def trained(self) -> Trained:
        """The run's experiment with its final weights (loaded again when weights.npz changes)."""
        path = self.folder / "weights.npz"
        stamp = path.stat().st_mtime_ns if path.exists() else -1
        if self._trained is None or self._trained[0] != stamp:
            self._trained = (stamp, load_trained(self.folder, self.registry))
        return self._trained[1]

    @property
    def network(self) -> Network:
        """The trained network (the final weights of ``weights.npz``)."""
        return self.trained().network

    @property
    def preprocess(self) -> Standardizer | None:
        """What the run does to inputs before the network sees them: the training split's
        per-feature ``mean`` and ``std`` (``preprocess.standardize``), or None.

        :meth:`predict` and :meth:`evaluate` apply it; :attr:`network` takes inputs
        after it: ``run.network.feedforward(run.preprocess.apply(x))``.
        """
        return self.trained().exp.preprocess

    def load_data(self) -> DataSplits:
        """The run's own data set, loaded as the run loaded it (same seed, same splits).

        The inputs are as the data set gives them, before :attr:`preprocess`:
        :meth:`evaluate` standardizes them as the run did.
        """
        return input_data(self.trained(), None, self.registry)[0]

    def predict(self, x: Any) -> Prediction:
        """Outputs and predicted classes for the inputs ``x``.

        ``x`` is a batch (m, n_in), images (m, 28, 28) flattened per row, or one sample
        (n_in,) or (28, 28). The class is the argmax of the outputs, or output > 0.5 for a
        single output unit, as ``deltaw predict --output`` writes it.
        """
        trained = self.trained()
        net = trained.network
        rows, single = as_rows(x, net.sizes[0], f"{self.folder}: predict(x)")
        with np.errstate(over="ignore", under="ignore"):  # standardized first, when the run was
            a = trained.feedforward(np.ascontiguousarray(rows, dtype=net.dtype))
        classes = numerics.classes(a)
        return Prediction(a[0], int(classes[0])) if single else Prediction(a, classes)

    def evaluate(self, data: DataLike = None) -> dict[str, dict[str, float]]:
        """Every metric of the run per split, as ``deltaw predict`` reports them.

        ``data``: None (the run's own data set), a data-set spec or array file (.yaml,
        .toml, .json, .npz, .csv), a data-set reference (``{"name": "moons", "samples":
        500}``), a :class:`~deltaw.DataSplits`, or ``(x, y)`` arrays (one split named
        ``data``; integer labels become one-hot rows).
        """
        trained = self.trained()
        splits: DataSplits | dict[str, Split]
        if data is None or isinstance(data, (str, os.PathLike, Mapping)):
            splits = input_data(trained, data, self.registry)[0]
        elif isinstance(data, DataSplits):
            splits = data
        elif isinstance(data, tuple) and len(data) == 2:
            splits = {"data": self._split(*data)}
        else:
            raise DeltawError(
                f"evaluate({type(data).__name__}): give None (the run's data set), a file, a "
                f"data-set reference dict, DataSplits, or an (x, y) pair of arrays."
            )
        return evaluate(trained, splits)

    def _split(self, x: Any, y: Any) -> Split:
        from deltaw.plugins.datasets.splits import as_split, one_hot

        net = self.network
        where = f"{self.folder}: evaluate((x, y))"
        rows, _ = as_rows(x, net.sizes[0], where)
        y, n_out = np.asarray(y), net.sizes[-1]
        if y.ndim == 1 and np.issubdtype(y.dtype, np.integer) and n_out > 1:
            if len(y) and (y.min() < 0 or y.max() >= n_out):
                raise DataError(f"{where}: labels must lie in 0…{n_out - 1} (the output units).")
            y = one_hot(y, n_out, net.dtype)
        y = y.reshape(len(y), -1)
        if y.shape != (len(rows), n_out):
            raise DataError(
                f"{where}: y has shape {y.shape}, but {len(rows)} rows of {n_out} targets (or "
                f"{len(rows)} integer labels) are needed for this network."
            )
        return as_split(rows, y, net.dtype)

    def resume(
        self,
        *,
        set: Sequence[str] | Mapping[str, Any] | None = None,  # noqa: A002 (as --set)
        callbacks: Sequence[Callback] = (),
        quiet: bool = False,
        plots: bool = True,
    ) -> Run:
        """Continue this run from its last checkpoint, like ``deltaw run --resume``.

        ``set`` may only change ``training.epochs`` (to train a finished run for longer).
        The result is bit for bit what an uninterrupted run would have given. Returns this
        run, with the resumed history and weights.
        """
        from deltaw.api.display import with_progress
        from deltaw.api.specs import as_overrides
        from deltaw.runs.train import resume_run

        overrides, given = as_overrides(set), list(callbacks)
        with_progress(
            quiet,
            lambda shown: resume_run(
                self.folder, overrides, [*shown, *given], self.registry, plots=plots
            ),
        )
        self._trained = None
        return self

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in list(self.final.items())[:4])
        return f"<deltaw.Run {str(self.folder)!r}: {self.status}, {len(self.history)} epochs" + (
            f", {shown}>" if shown else ">"
        )


def as_rows(x: Any, n_in: int, where: str) -> tuple[np.ndarray, bool]:
    """``x`` as rows of ``n_in`` inputs, and whether it was a single sample."""
    x = np.asarray(x)
    if x.ndim >= 2 and math.prod(x.shape[1:]) == n_in:
        return x.reshape(len(x), n_in), False
    if x.size == n_in:
        return x.reshape(1, n_in), True
    if x.ndim == 1 and n_in == 1:
        return x.reshape(-1, 1), False
    raise DataError(
        f"{where}: x has shape {x.shape}, but the network takes {n_in} inputs: give rows of "
        f"{n_in} values (m, {n_in}), or one sample of {n_in} values."
    )


def dataframe(rows: list[dict[str, Any]], what: str, instead: str) -> pandas.DataFrame:
    """A pandas DataFrame of ``rows``, or a clear error saying how to get pandas."""
    try:
        import pandas as pd
    except ImportError:
        raise DeltawError(
            f"{what} needs pandas, which is not installed: pip install pandas (or pip install "
            f"'deltaw[notebook]'). The same numbers are in {instead}."
        ) from None
    return pd.DataFrame(rows)
