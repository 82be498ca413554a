"""The plugin kinds: singular name, its hook, and the base class it must subclass."""

from __future__ import annotations

from dataclasses import dataclass

from deltaw.core import base

BUILTIN = "deltaw"  # the plugin name (and qualifier) of every built-in


@dataclass(frozen=True)
class Kind:
    name: str  # singular, as in `deltaw show optimizer adam`
    hook: str  # the registration hook
    base: type
    spec_key: str  # where a spec names it (for error messages)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("cost", "register_costs", base.Cost, "cost"),
        Kind("activation", "register_activations", base.Activation, "network.activation"),
        Kind("initializer", "register_initializers", base.Initializer, "network.init"),
        Kind("optimizer", "register_optimizers", base.Optimizer, "optimizer"),
        Kind("transform", "register_transforms", base.Transform, "optimizer.links"),
        Kind("regularizer", "register_regularizers", base.Regularizer, "regularizers"),
        Kind("dataset", "register_datasets", base.Dataset, "data"),
        Kind("metric", "register_metrics", base.Metric, "metrics"),
        Kind("schedule", "register_schedules", base.Schedule, "schedule"),
        Kind("callback", "register_callbacks", base.Callback, "callbacks"),
        Kind("executor", "register_executors", base.Executor, "sweep.executor"),
    )
}

HOOK_TO_KIND = {k.hook: k.name for k in KINDS.values()}


def kind(name: str) -> Kind:
    """Look a kind up by its singular or plural name (``optimizer``/``optimizers``)."""
    key = name[:-1] if name.endswith("s") and name[:-1] in KINDS else name
    if key not in KINDS:
        from deltaw.errors import DeltawError

        raise DeltawError(f"Unknown plugin kind {name!r}. Kinds: {', '.join(KINDS)}.")
    return KINDS[key]
