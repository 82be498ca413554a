"""``check_plugin``: the check of a plugin's kind; ``check_registered``: every class a plugin
registers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from deltaw.core.base import (
    Activation,
    Callback,
    Cost,
    Dataset,
    Executor,
    Initializer,
    Metric,
    Optimizer,
    Regularizer,
    Schedule,
    Transform,
)
from deltaw.testing.activations import check_activation
from deltaw.testing.callbacks import check_callback
from deltaw.testing.costs import check_cost
from deltaw.testing.datasets import check_dataset
from deltaw.testing.executors import check_executor
from deltaw.testing.initializers import check_initializer
from deltaw.testing.metrics import check_metric
from deltaw.testing.optimizers import check_optimizer
from deltaw.testing.regularizers import check_regularizer
from deltaw.testing.schedules import check_schedule
from deltaw.testing.transforms import check_transform

__all__ = ["CHECKS", "check_plugin", "check_registered"]

CHECKS: dict[type, Callable[..., None]] = {
    Cost: check_cost,
    Activation: check_activation,
    Initializer: check_initializer,
    Optimizer: check_optimizer,
    Transform: check_transform,
    Regularizer: check_regularizer,
    Metric: check_metric,
    Dataset: check_dataset,
    Schedule: check_schedule,
    Callback: check_callback,
    Executor: check_executor,
}
"""The check of each kind, by base class."""


def check_plugin(plugin: Any, **options: Any) -> None:
    """Run the check of ``plugin``'s kind (a class or an instance); ``options`` go to that check.

    ``check_plugin(FocalLoss)`` is ``check_cost(FocalLoss)``; raises
    ``TypeError`` for an object of no plugin kind.
    """
    cls = plugin if isinstance(plugin, type) else type(plugin)
    for base, check in CHECKS.items():
        if isinstance(cls, type) and issubclass(cls, base):
            check(plugin, **options)
            return
    raise TypeError(
        f"check_plugin: {plugin!r} is no deltaw plugin; expected a subclass or instance of "
        + ", ".join(f"deltaw.{b.__name__}" for b in CHECKS)
    )


def check_registered(
    obj: Any, name: str | None = None, options: Mapping[str, Mapping[str, Any]] | None = None
) -> list[str]:
    """Register ``obj`` (a plugin module or object) in a fresh registry; check every class it adds.

    Returns ``"kind:name"`` for every class checked, in registration order.
    ``options`` maps a registered name (or ``"kind:name"``) to keyword
    arguments of its check: ``{"my-data": {"settings": [{"path": "x.csv"}]}}``.
    The process-wide registry is not touched.
    """
    from deltaw.registry import Registry

    registry = Registry()
    registry.load_builtins()
    label = name or getattr(obj, "__name__", None) or type(obj).__name__
    info = registry.register_plugin(obj, label.replace(":", "."))
    options = options or {}
    checked = []
    for entry in registry.entries():
        if entry.plugin is not info:
            continue
        key = f"{entry.kind}:{entry.name}"
        check_plugin(entry.cls, **dict(options.get(key, options.get(entry.name, {}))))
        checked.append(key)
    return checked
