"""The log-cosh cost: quadratic near the target, linear far from it, smooth everywhere."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

import deltaw

_LN2 = math.log(2.0)


def log_cosh(x: np.ndarray) -> np.ndarray:
    """ln cosh x without overflow: |x| + ln(1 + e^{−2|x|}) − ln 2."""
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2.0 * ax)) - _LN2


class LogCosh(deltaw.Cost):
    """Log-cosh: C_x = Σ_j ln cosh(a_j − y_j).

    ∂C_x/∂a = tanh(a − y). About ½(a − y)² for small errors and |a − y| − ln 2
    for large ones, so it is as smooth as the quadratic cost but, like Huber,
    not dominated by outliers — without Huber's δ to choose. Computed as
    |x| + ln(1 + e^{−2|x|}) − ln 2, which never overflows. Reference: TensorFlow
    ``tf.keras.losses.LogCosh`` (there averaged over the outputs; here summed,
    like deltaw's ``quadratic``).
    """

    domain: ClassVar[str] = "real"

    def value(self, a, y):
        return float(np.sum(log_cosh(a - y)) / len(a))

    def gradient(self, a, y):
        return np.tanh(a - y)
