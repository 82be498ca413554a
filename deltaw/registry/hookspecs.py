"""The hook specifications: the whole plugin API surface of deltaw.

Each ``register_<kind>s(register)`` hook receives a callback; the plugin calls
``register(name, cls)`` once per class it provides. The ``deltaw_run_*``,
``deltaw_epoch_end`` and ``deltaw_batch_end`` hooks are training-run events for
plugins that want to observe every run (loggers, trackers), each with the run's
context as ``run``; ``deltaw_batch_end`` is only called when some plugin implements
it. The sweep hooks (``deltaw_sweep_start``, ``deltaw_trial_end``,
``deltaw_sweep_end``) are called in the sweep's driver, never on a worker. An
implementation names only the arguments it needs (pluggy passes just those), so
hooks written before an argument was added keep working.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("deltaw")
hookimpl = pluggy.HookimplMarker("deltaw")


@hookspec
def register_costs(register: Any) -> None:
    """Register cost functions: ``register(name, CostSubclass)``."""


@hookspec
def register_activations(register: Any) -> None:
    """Register activations: ``register(name, ActivationSubclass)``."""


@hookspec
def register_initializers(register: Any) -> None:
    """Register weight initializers: ``register(name, InitializerSubclass)``."""


@hookspec
def register_optimizers(register: Any) -> None:
    """Register update rules: ``register(name, OptimizerSubclass)``."""


@hookspec
def register_transforms(register: Any) -> None:
    """Register optimizer-chain links: ``register(name, TransformSubclass)``."""


@hookspec
def register_regularizers(register: Any) -> None:
    """Register weight penalties: ``register(name, RegularizerSubclass)``."""


@hookspec
def register_datasets(register: Any) -> None:
    """Register data sets: ``register(name, DatasetSubclass)``."""


@hookspec
def register_metrics(register: Any) -> None:
    """Register metrics: ``register(name, MetricSubclass)``."""


@hookspec
def register_schedules(register: Any) -> None:
    """Register learning-rate schedules: ``register(name, ScheduleSubclass)``."""


@hookspec
def register_callbacks(register: Any) -> None:
    """Register training callbacks a spec can name: ``register(name, CallbackSubclass)``."""


@hookspec
def register_executors(register: Any) -> None:
    """Register sweep executors: ``register(name, ExecutorSubclass)``."""


@hookspec
def deltaw_run_start(trainer: Any, run: Any) -> None:
    """Called once when a training run starts (after a resume, too: ``run.resumed_from``).

    ``run`` is the :class:`~deltaw.core.run_context.RunContext`: folder, resolved
    spec, overrides, status, the epoch it resumed from and, for a sweep's trial, its number.
    """


@hookspec
def deltaw_epoch_end(trainer: Any, epoch: int, metrics: dict[str, float], run: Any) -> None:
    """Called after every epoch (after it is saved) with that epoch's record."""


@hookspec
def deltaw_batch_end(trainer: Any, epoch: int, batch: int, run: Any) -> None:
    """Called after every mini-batch, only if some plugin implements it."""


@hookspec
def deltaw_run_end(trainer: Any, run: Any) -> None:
    """Called once when a training run ends, however it ends; ``run.status`` says how."""


@hookspec
def deltaw_sweep_start(sweep: Any) -> None:
    """Called in the sweep's driver before its first trial runs.

    ``sweep`` is the :class:`~deltaw.core.run_context.SweepContext`: folder,
    resolved spec, trials, overrides, metric, status.
    """


@hookspec
def deltaw_trial_end(sweep: Any, trial: Any, result: dict[str, Any]) -> None:
    """Called in the sweep's driver as each trial ends, however it ends.

    ``trial.folder`` (relative to ``sweep.folder``) is the trial's run folder;
    ``result`` has ``status``, ``message``, ``epochs``, ``wall_time`` and ``final``
    (the last epoch's record, empty when none finished).
    """


@hookspec
def deltaw_sweep_end(sweep: Any) -> None:
    """Called in the sweep's driver once every trial has ended (``sweep.status``: finished
    or interrupted)."""
