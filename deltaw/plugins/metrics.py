"""Built-in metrics, registered through the public hook like any plugin.

``compute(a, y, context)`` gets the outputs and targets of a whole split.
"""

from __future__ import annotations

import deltaw
from deltaw.core.numerics import classes


class Accuracy(deltaw.Metric):
    """Fraction of samples classified correctly.

    Several outputs: argmax(a) == argmax(y) per row (y may also be a vector of
    class indices). One output unit: (a > 0.5) == (y > 0.5). The book's
    ``accuracy`` (Nielsen ch. 1 and 3).
    """

    def compute(self, a, y, context):
        if a.shape[-1] == 1:  # a single yes/no unit: y is 0/1, as a column or a vector
            labels = classes(y.reshape(len(y), -1)[:, :1])
        else:  # y one-hot rows, or a vector of class indices
            labels = y if y.ndim == 1 else classes(y)
        return float((classes(a) == labels).mean())


class TotalCost(deltaw.Metric):
    """The cost plus the regularization penalty: C₀(a, y) + penalty.

    The mean per-sample cost of the run's cost function plus the
    regularizers' penalty for the current weights, the book's ``total_cost``
    (Nielsen ch. 3, ``network2.py``). Lower is better.
    """

    higher_is_better = False

    def compute(self, a, y, context):
        return float(context.cost.value(a, y) + context.penalty)


@deltaw.hookimpl
def register_metrics(register):
    register("accuracy", Accuracy)
    register("cost", TotalCost)
