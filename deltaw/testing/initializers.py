"""``check_initializer``: shapes, dtype, the seed, and the moments of the weights."""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from deltaw.core.base import Initializer
from deltaw.testing._common import Expected, Settings, fail, instances

__all__ = ["MOMENT_SIGMAS", "check_initializer"]

MOMENT_SIGMAS = 5.0  # initializer moments: allowed standard errors of the estimate


def _takes_params(value: Expected) -> bool:
    """A callable of ``(fan_in, fan_out, params)``, rather than of ``(fan_in, fan_out)``."""
    if not callable(value):
        return False
    try:
        return len(inspect.signature(value).parameters) >= 3
    except (TypeError, ValueError):
        return False


def _expected(value: Expected, fan_in: int, fan_out: int, params: Any) -> float | None:
    if not callable(value):
        return value
    return value(fan_in, fan_out, params) if _takes_params(value) else value(fan_in, fan_out)


def check_initializer(
    initializer: Initializer | type[Initializer],
    *,
    expected_mean: Expected = None,
    expected_var: Expected = None,
    seed: int = 0,
    settings: Settings = None,
) -> None:
    """Check an initializer against the contract; raise ``AssertionError`` on the first failure.

    * ``weights(fan_in, fan_out, rng)`` is a finite float64 array of shape
      ``(fan_in, fan_out)``, and ``biases(fan_out, rng)`` a finite float
      array of shape ``(fan_out,)``;
    * every draw comes from ``rng``: the same seed gives the same weights;
    * if given, the sample mean and variance of the weights of a 500×200 and a
      200×500 layer (so a fan-in/fan-out mix-up shows) lie within
      ``MOMENT_SIGMAS`` standard errors of ``expected_mean`` / ``expected_var``
      — numbers, or callables of ``(fan_in, fan_out)`` or of ``(fan_in,
      fan_out, params)``.

    ``initializer`` is an instance, or a class checked at several settings of
    its ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    Expected moments given as numbers or as functions of ``(fan_in, fan_out)``
    apply to the first setting (the defaults) only; a function of ``(fan_in,
    fan_out, params)`` is checked at every setting.
    """
    for i, (init, check) in enumerate(
        instances(initializer, Initializer, "check_initializer", settings)
    ):
        mean = expected_mean if i == 0 or _takes_params(expected_mean) else None
        var = expected_var if i == 0 or _takes_params(expected_var) else None
        _check_one(init, check, mean, var, seed)


def _check_one(
    init: Initializer, check: str, expected_mean: Expected, expected_var: Expected, seed: int
) -> None:
    for fan_in, fan_out in ((3, 7), (7, 3), (1, 1), (500, 200), (200, 500)):
        w = init.weights(fan_in, fan_out, np.random.default_rng(seed))
        b = init.biases(fan_out, np.random.default_rng(seed))
        call = f"weights({fan_in}, {fan_out})"
        if not isinstance(w, np.ndarray) or w.shape != (fan_in, fan_out):
            fail(
                check,
                f"{call} returned {getattr(w, 'shape', type(w).__name__)}, "
                f"expected shape {(fan_in, fan_out)}",
            )
        if w.dtype != np.float64:
            fail(
                check,
                f"{call} returned {w.dtype}, expected float64 (the network casts to its dtype)",
            )
        if not np.all(np.isfinite(w)):
            fail(check, f"{call} returned non-finite values")
        if (
            not isinstance(b, np.ndarray)
            or b.shape != (fan_out,)
            or b.dtype.kind != "f"
            or not np.all(np.isfinite(b))
        ):
            fail(
                check,
                f"biases({fan_out}) returned {b!r:.80}, "
                f"expected finite floats of shape {(fan_out,)}",
            )
        if not np.array_equal(w, init.weights(fan_in, fan_out, np.random.default_rng(seed))):
            fail(
                check,
                f"{call} gave different weights for the same seed; "
                "draw only from the rng passed in",
            )
        if w.size >= 10_000:
            _check_moments(
                check,
                call,
                w.ravel(),
                _expected(expected_mean, fan_in, fan_out, init.params),
                _expected(expected_var, fan_in, fan_out, init.params),
            )


def _check_moments(
    check: str, call: str, x: np.ndarray, mean: float | None, var: float | None
) -> None:
    n = x.size
    s_mean, s_var = float(x.mean()), float(x.var())
    if mean is not None:
        se = math.sqrt((var if var is not None else s_var) / n)
        diff = abs(s_mean - mean)
        if diff > MOMENT_SIGMAS * se + 1e-12:
            fail(
                check,
                f"sample mean of {call} is {s_mean:.6g} but expected {mean:.6g} "
                f"({diff / se:.1f} standard errors off, tolerance {MOMENT_SIGMAS:g})",
            )
    if var is not None:
        se = math.sqrt(max(float(np.mean((x - s_mean) ** 4)) - s_var**2, 0.0) / n)
        diff = abs(s_var - var)
        if diff > MOMENT_SIGMAS * se + 1e-12:
            off = (
                f"{diff / se:.1f} standard errors off, tolerance {MOMENT_SIGMAS:g}"
                if se
                else "every weight is equal"
            )
            fail(
                check,
                f"sample variance of {call} is {s_var:.6g} but expected {var:.6g} "
                f"(relative error {diff / max(var, 1e-300):.1e}; {off})",
            )
