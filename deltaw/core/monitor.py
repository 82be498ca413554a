"""Watching one per-epoch metric: which key, which direction, what counts as an improvement.

Early stopping, checkpoints of the best epoch and plateau schedules all watch a
metric the same way. A callback or schedule that holds a :class:`Monitor` as
``self.monitor`` gets the run layer's help before training starts: the key must
be one the run records (``<split>_<metric>``), and an ``auto`` monitor is bound
to the metric plugin's ``higher_is_better``. Pure stdlib; the one error it raises
is :class:`deltaw.errors.TrainingError`.
"""

from __future__ import annotations

import math

from deltaw.core.history import metric_keys
from deltaw.errors import TrainingError

HIGHER_IS_BETTER_WORDS = ("accuracy", "acc", "f1", "auc", "precision", "recall", "r2", "score")
"""Words in a metric name that mean "higher is better" when no metric plugin is known."""


class Monitor:
    """The metric a rule watches (``validation_accuracy``) and what counts as an improvement.

    ``mode`` "max"/"min", or "auto": the run layer calls :meth:`bind` with the
    metric plugin's ``higher_is_better``; unbound, names containing accuracy,
    f1, auc, … are maximised and everything else (costs) minimised. A value
    improves on ``best`` when it beats it by ``threshold``: ``best · (1 ±
    threshold)`` when ``relative``, ``best ± threshold`` otherwise.
    """

    def __init__(
        self, key: str, mode: str = "auto", threshold: float = 0.0, relative: bool = False
    ) -> None:
        if mode not in ("auto", "max", "min"):
            raise ValueError(f"Monitor mode must be 'auto', 'max' or 'min', got {mode!r}")
        self.key, self.mode, self.threshold, self.relative = key, mode, float(threshold), relative
        self._bound: bool | None = None

    def __repr__(self) -> str:
        return f"Monitor({self.key!r}, mode={self.mode!r}, higher={self.higher})"

    @property
    def metric(self) -> str:
        """The metric plugin's name: ``accuracy`` for ``validation_accuracy``."""
        return self.key.split("_", 1)[-1]

    def bind(self, higher_is_better: bool) -> None:
        """Fix the direction of an ``auto`` monitor from the metric plugin."""
        self._bound = bool(higher_is_better)

    @property
    def higher(self) -> bool:
        """True when a larger value is better."""
        if self.mode != "auto":
            return self.mode == "max"
        if self._bound is not None:
            return self._bound
        return guess_higher_is_better(self.key)

    def value(self, metrics: dict[str, float], who: str) -> float:
        """The monitored value in ``metrics``, or a clear error naming what the run records."""
        if self.key not in metrics:
            recorded = ", ".join(metric_keys(metrics)) or "nothing"
            raise TrainingError(
                f"The {who} monitors {self.key!r}, but this run records only: {recorded}. "
                "Set its monitor to one of those, or evaluate the split it needs "
                "(training.evaluate)."
            )
        return float(metrics[self.key])

    def improved(self, value: float, best: float | None) -> bool:
        """True when ``value`` beats ``best`` (None: nothing yet) by the threshold."""
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        t = self.threshold
        if self.higher:
            return value > (best * (1 + t) if self.relative else best + t)
        return value < (best * (1 - t) if self.relative else best - t)


def guess_higher_is_better(key: str) -> bool:
    """From a metric key alone: accuracy-like names are maximised, the rest (costs) minimised."""
    name = key.lower().split("_", 1)[-1]
    return any(w in name.split("_") or name.endswith(w) for w in HIGHER_IS_BETTER_WORDS)
