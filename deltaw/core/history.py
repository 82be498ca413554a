"""One row of a run's history: the trainer's bookkeeping beside the metrics.

``Trainer.fit`` appends a record per epoch: ``epoch``, ``lr``, ``train_time``
and ``eval_time`` (the bookkeeping), and one ``<split>_<metric>`` key per
evaluated split and metric (``validation_accuracy``).
"""

from __future__ import annotations

from collections.abc import Iterable

BOOKKEEPING = ("epoch", "lr", "train_time", "eval_time")


def metric_keys(record: Iterable[str]) -> list[str]:
    """The keys of ``record`` that are metrics (``validation_cost``), in order."""
    return [k for k in record if k not in BOOKKEEPING]
