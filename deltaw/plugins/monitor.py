"""The metric a callback or a schedule watches, and what counts as an improvement.

Shared by the built-in callbacks (``early-stopping``, ``checkpoint``) and the
plateau schedules (``nielsen-halving``, ``reduce-on-plateau``); the run layer
binds an ``auto`` monitor's direction to the metric plugin's
``higher_is_better`` before training.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from deltaw.core.history import metric_keys
from deltaw.errors import TrainingError

HIGHER_IS_BETTER_WORDS = ("accuracy", "acc", "f1", "auc", "precision", "recall", "r2", "score")


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
        self.key, self.mode, self.threshold, self.relative = key, mode, float(threshold), relative
        self._bound: bool | None = None

    def bind(self, higher_is_better: bool) -> None:
        """Fix the direction of an ``auto`` monitor from the metric plugin."""
        self._bound = bool(higher_is_better)

    @property
    def higher(self) -> bool:
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


class MonitorParams(BaseModel):
    """The ``monitor`` and ``mode`` parameters of every rule that watches a metric."""

    model_config = ConfigDict(extra="forbid")
    monitor: str = Field(
        "validation_accuracy",
        description="The per-epoch metric to watch: <split>_<metric>, e.g. validation_cost.",
    )
    mode: Literal["auto", "max", "min"] = Field(
        "auto",
        description="Whether higher or lower is better; auto asks the metric "
        "(accuracy: higher, cost: lower).",
    )
