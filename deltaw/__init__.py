"""deltaw: backpropagation you can see, check and extend.

This module is the public face for plugin authors::

    import deltaw

    class MyCost(deltaw.Cost): ...

    @deltaw.hookimpl
    def register_costs(register):
        register("my-cost", MyCost)

and for notebooks and scripts (:mod:`deltaw.api`)::

    run = deltaw.run("examples/quickstart.yaml", set={"training.epochs": 5})
    run.df, run.predict(x), run.evaluate()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load on first use
    from deltaw.api import (
        Prediction,
        Run,
        Sweep,
        load_run,
        load_sweep,
        resume,
        run,
        sweep,
        validate,
    )
    from deltaw.core.base import (
        Activation,
        Callback,
        Cost,
        Dataset,
        DataSplits,
        EvalContext,
        Executor,
        Initializer,
        Metric,
        Optimizer,
        Plugin,
        Regularizer,
        Schedule,
        Split,
        Transform,
    )
    from deltaw.core.chain import Chain
    from deltaw.core.monitor import Monitor
    from deltaw.core.numerics import (
        clip_probs,
        eps_for,
        log_sigmoid,
        log_softmax,
        sigmoid,
        softmax,
        xlogy,
    )
    from deltaw.core.run_context import RunContext, SweepContext
    from deltaw.errors import DeltawError, DeltawPluginWarning
    from deltaw.params import MonitorParams
    from deltaw.registry.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Callback",
    "Chain",
    "Cost",
    "DataSplits",
    "Dataset",
    "DeltawError",
    "DeltawPluginWarning",
    "EvalContext",
    "Executor",
    "Initializer",
    "Metric",
    "Monitor",
    "MonitorParams",
    "Optimizer",
    "Plugin",
    "Prediction",
    "Regularizer",
    "Run",
    "RunContext",
    "Schedule",
    "Split",
    "Sweep",
    "SweepContext",
    "Transform",
    "__version__",
    "clip_probs",
    "eps_for",
    "hookimpl",
    "load_run",
    "load_sweep",
    "log_sigmoid",
    "log_softmax",
    "resume",
    "run",
    "sigmoid",
    "softmax",
    "sweep",
    "validate",
    "xlogy",
]

# Public name → the module defining it. Loaded on first access (PEP 562), so that
# `import deltaw` — and so `deltaw --help` — does not pay for numpy and pluggy. The Python
# API (deltaw.run, deltaw.load_run, …) lives in deltaw.api.
_LAZY = {
    **dict.fromkeys(
        (
            "Activation",
            "Callback",
            "Cost",
            "DataSplits",
            "Dataset",
            "EvalContext",
            "Executor",
            "Initializer",
            "Metric",
            "Optimizer",
            "Plugin",
            "Regularizer",
            "Schedule",
            "Split",
            "Transform",
        ),
        "deltaw.core.base",
    ),
    **dict.fromkeys(
        ("clip_probs", "eps_for", "log_sigmoid", "log_softmax", "sigmoid", "softmax", "xlogy"),
        "deltaw.core.numerics",
    ),
    "Chain": "deltaw.core.chain",
    "DeltawError": "deltaw.errors",
    "DeltawPluginWarning": "deltaw.errors",
    "Monitor": "deltaw.core.monitor",
    "RunContext": "deltaw.core.run_context",  # the `run` of the run hooks
    "SweepContext": "deltaw.core.run_context",  # the `sweep` of the sweep hooks
    "MonitorParams": "deltaw.params",  # Pydantic: loaded only when a plugin asks for it
    "hookimpl": "deltaw.registry.hookspecs",
    "get_registry": "deltaw.registry",  # the loaded plugins, for plugins that compose others
    **dict.fromkeys(
        (
            "Prediction",
            "Run",
            "Sweep",
            "load_run",
            "load_sweep",
            "resume",
            "run",
            "sweep",
            "validate",
        ),
        "deltaw.api",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # a subpackage is an attribute once imported: import deltaw.registry
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
