"""The stall guard: a training rule that stops a run whose weights stopped moving."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaw.core.base import Callback

LARGE_INPUT = 10.0  # a feature whose |mean| or std exceeds this is far from O(1)
STD_SPREAD = 100.0  # features whose std spans more than this (largest / median) are unscaled


def unscaled_inputs(x: np.ndarray, names: Sequence[str] | None = None) -> str | None:
    """What says the training inputs ``x`` are not scaled, or None when they look O(1).

    Either sign is enough: a feature whose |mean| or standard deviation is above
    :data:`LARGE_INPUT`, or features whose standard deviations spread over more
    than :data:`STD_SPREAD`× (the largest against the median, so that a few
    nearly constant features — MNIST's border pixels — do not count). Inputs
    that large saturate the hidden units at any learning rate, so the stall
    message names them before it blames the rate. Standardised inputs (mean 0,
    std 1) never qualify, outliers or not.
    """
    if x.ndim != 2 or not x.size:
        return None
    mean = np.mean(x, axis=0, dtype=np.float64)
    std = np.std(x, axis=0, dtype=np.float64)
    moving = std[std > 0]
    median = float(np.median(moving)) if moving.size else 0.0
    spread = float(std.max()) / median if median else 1.0
    scale = np.maximum(np.abs(mean), std)
    j = int(np.argmax(scale))
    if scale[j] <= LARGE_INPUT and spread <= STD_SPREAD:
        return None
    named = names is not None and j < len(names) and str(names[j]) != str(j)
    label = f"feature {j}" + (f" ({names[j]!r})" if named else "")  # type: ignore[index]
    low, high = float(x[:, j].min()), float(x[:, j].max())
    return (
        f"{label} ranges from {low:.4g} to {high:.4g} (mean {mean[j]:.4g}, std {std[j]:.4g}), "
        f"while the median feature's std is {median:.3g}"
    )


class StalledError(ArithmeticError):
    """An epoch left some layer's weights where they were: its units are saturated or dead."""

    def __init__(self, epoch: int, layers: list[int], lr: float) -> None:
        self.epoch, self.layers, self.lr = epoch, layers, lr
        which = ", ".join(str(l + 1) for l in layers)
        super().__init__(
            f"training stalled in epoch {epoch}: the weights of "
            f"layer{'s' if len(layers) > 1 else ''} {which} did not change "
            f"(every gradient there is zero, so the units are saturated or dead)"
        )


class StallGuard(Callback):
    """Stops a run when an epoch leaves some layer's W and b unchanged (relative change below
    ``tolerance``).

    That happens when η is so large that the first updates saturate every
    sigmoid (σ' = 0) or kill every ReLU: the run would go on at chance level
    without ever printing a NaN. Epochs whose rate is below 1/1000 of η₀
    (the tail of a schedule) are not checked, nor layers whose learning-rate
    multiplier brings their rate below it. The stalled epoch is undone.
    """

    def __init__(self, tolerance: float = 1e-5) -> None:
        super().__init__()
        self.tolerance = tolerance
        self.start: list[np.ndarray] = []

    def on_run_start(self, trainer: Any) -> None:
        self.start = [p.copy() for p in trainer.network.params()]

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        params = trainer.network.params()
        stalled = []
        if trainer.lr >= 1e-3 * trainer.base_lr:
            factors = getattr(trainer, "lr_factors", None) or [1.0] * len(params)
            for l in range(0, len(params), 2):
                if factors[l] * trainer.lr < 1e-3 * trainer.base_lr:
                    continue  # a layer frozen (or slowed) by its lr multiplier is not stalled
                before = math.sqrt(sum(float(np.vdot(p, p)) for p in self.start[l : l + 2]))
                moved = math.sqrt(
                    sum(
                        float(np.vdot(p - q, p - q))
                        for p, q in zip(params[l : l + 2], self.start[l : l + 2])
                    )
                )
                if moved <= self.tolerance * max(before, 1e-300):
                    stalled.append(l // 2)
        if stalled:
            lr = trainer.lr
            trainer.restore_snapshot()
            raise StalledError(epoch, stalled, lr)
        for dst, src in zip(self.start, params):
            dst[...] = src
