"""The hook specifications: the whole plugin API surface of deltaw.

Each ``register_<kind>s(register)`` hook receives a callback; the plugin calls
``register(name, cls)`` once per class it provides. The ``deltaw_*`` hooks are
training-run events for plugins that want to observe every run (loggers,
trackers); ``deltaw_batch_end`` is only called when some plugin implements it.
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
def deltaw_run_start(trainer: Any) -> None:
    """Called once when a training run starts (after a resume, too)."""


@hookspec
def deltaw_epoch_end(trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
    """Called after every epoch with that epoch's metrics."""


@hookspec
def deltaw_batch_end(trainer: Any, epoch: int, batch: int) -> None:
    """Called after every mini-batch, only if some plugin implements it."""


@hookspec
def deltaw_run_end(trainer: Any) -> None:
    """Called once when a training run ends, however it ends."""
