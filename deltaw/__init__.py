"""deltaw: backpropagation you can see, check and extend.

This module is the public face for plugin authors::

    import deltaw

    class MyCost(deltaw.Cost): ...

    @deltaw.hookimpl
    def register_costs(register):
        register("my-cost", MyCost)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load on first use
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
    from deltaw.core.numerics import (
        clip_probs,
        eps_for,
        log_sigmoid,
        log_softmax,
        sigmoid,
        softmax,
        xlogy,
    )
    from deltaw.errors import DeltawError
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
    "__version__",
    "clip_probs",
    "eps_for",
    "hookimpl",
    "log_sigmoid",
    "log_softmax",
    "sigmoid",
    "softmax",
    "xlogy",
]

# Public name → the module defining it. Loaded on first access (PEP 562), so that
# `import deltaw` — and so `deltaw --help` — does not pay for numpy and pluggy.
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
    "hookimpl": "deltaw.registry.hookspecs",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later look-ups are plain attribute reads
        return value
    if not name.startswith(
        "_"
    ):  # a subpackage (deltaw.errors, deltaw.registry, …), as eager imports used to provide
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
