"""deltaw: backpropagation you can see, check and extend.

This module is the public face for plugin authors::

    import deltaw

    class MyCost(deltaw.Cost): ...

    @deltaw.hookimpl
    def register_costs(register):
        register("my-cost", MyCost)
"""

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
)
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
