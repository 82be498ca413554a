"""What a run hook or callback knows about the run it belongs to, and a sweep hook of its sweep.

:class:`RunContext` is the trainer's ``run`` and the ``run`` argument of the
``deltaw_*`` run hooks; :class:`SweepContext` is the ``sweep`` argument of the
sweep hooks, called in the sweep's driver. :func:`flatten` turns a resolved spec
into the flat ``a.b.c → value`` table trackers show as hyper-parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunContext:
    """Where a run lives and what it is; the run layer (``deltaw run``) gives one to the trainer.

    A bare :class:`~deltaw.core.training.Trainer` has none (``trainer.run is None``):
    callbacks that write files then need absolute paths.

    Attributes:
        folder: the run folder; relative paths of callbacks are read from here.
        save_checkpoint: writes a full checkpoint (weights, optimizer, counters, RNG,
            schedule and callback state) to the path it is given.
        resumed_from: the epoch a resumed run continues from (None for a fresh run);
            a tracker continues its record from here instead of starting a new one.
        spec: the resolved spec (every default filled in) as plain data, as in ``resolved.yaml``.
        overrides: the ``--set`` overrides the run was made with, as in ``overrides.json``.
        status: ``running`` while it trains; by the time ``on_run_end`` (and the
            ``deltaw_run_end`` hook) is called, how it ended: ``completed``, ``stopped``
            (a callback or schedule), ``interrupted`` (Ctrl-C), ``diverged`` or ``failed``.
        trial: the trial's number when a sweep runs this run, else None. A sweep's
            driver reports its trials through the sweep hooks (``deltaw_trial_end``), so a
            tracker that must not run on a remote worker skips the run hooks of trials.
        data: the run's data splits (a :class:`~deltaw.core.base.DataSplits`), for
            callbacks that look at the training data (a fixed batch for gradient norms).
    """

    folder: Path
    save_checkpoint: Callable[[Path], None] | None = None
    resumed_from: int | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    status: str = "running"
    trial: int | None = None
    data: Any = None

    @property
    def name(self) -> str:
        """The spec's name (the folder's name when the context carries no spec)."""
        return str(self.spec.get("name") or self.folder.name)

    @property
    def params(self) -> dict[str, Any]:
        """The resolved spec flattened for a tracker's parameter table (see :func:`flatten`)."""
        return flatten(self.spec)


@dataclass
class SweepContext:
    """A sweep, as its sweep hooks see it (``deltaw_sweep_start``, ``deltaw_trial_end``, …).

    Attributes:
        folder: the sweep folder (each trial is a run folder inside it).
        spec: the sweep's resolved spec as plain data (before any trial's values).
        trials: every trial (``deltaw.runs.sweep.Trial``: ``index``, ``values``,
            ``overrides``, ``folder`` relative to the sweep folder, ``status``, ``error``).
        overrides: the ``--set`` overrides given to the whole sweep.
        metric: the metric the sweep ranks its trials by.
        status: ``running``, then ``finished`` or ``interrupted`` for ``deltaw_sweep_end``.
    """

    folder: Path
    spec: dict[str, Any]
    trials: list[Any] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    metric: str | None = None
    status: str = "running"

    @property
    def name(self) -> str:
        """The spec's name."""
        return str(self.spec.get("name") or self.folder.name)

    @property
    def params(self) -> dict[str, Any]:
        """The sweep's resolved spec flattened (see :func:`flatten`)."""
        return flatten(self.spec)


def flatten(spec: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"lr": 0.5}}`` → ``{"optimizer.lr": 0.5}``: one scalar per key.

    Lists of plain values (``network.layers``) become one string, ``[2, 30, 10]``;
    lists of mappings are numbered as ``--set`` numbers them (``callbacks.0.name``:
    names trackers accept, MLflow's allow no brackets); None stays None. The
    ``sweep`` section is left out: a sweep's trials show their own values under the
    keys the sweep changes.
    """
    flat: dict[str, Any] = {}
    for key, value in spec.items():
        if not prefix and key == "sweep":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)) and any(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    flat.update(flatten(item, f"{name}.{i}."))
                else:
                    flat[f"{name}.{i}"] = item
        elif isinstance(value, (list, tuple)):
            flat[name] = "[" + ", ".join(str(v) for v in value) + "]"
        else:
            flat[name] = value
    return flat
