"""``check_metric``: one finite number, inputs untouched, order-free, and perfect ranks best."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deltaw.core.base import EvalContext, Metric
from deltaw.core.numerics import sigmoid, softmax
from deltaw.testing._common import Settings, fail, instances

__all__ = ["TARGETS", "check_metric"]

TARGETS = ("one-hot", "binary", "real")
ROWS, CLASSES, DRAWS = 60, 3, 5
ORDER_TOL = 1e-9  # the same rows in another order: only summation order differs
DTYPE_TOL = 1e-3  # float32 inputs against float64 ones, relative


def check_metric(
    metric: Metric | type[Metric],
    *,
    targets: Sequence[str] = ("one-hot",),
    context: EvalContext | None = None,
    seed: int = 0,
    settings: Settings = None,
) -> None:
    """Check a metric against the contract; raise ``AssertionError`` on the first failure.

    For each kind of ``targets`` — ``"one-hot"`` (the default: rows of a
    3-class one-hot ``y``, softmax outputs), ``"binary"`` (one 0/1 column,
    sigmoid outputs: a network with a single yes/no unit), ``"real"``
    (regression: any numbers) — on a split of 60 rows:

    * ``compute(a, y, context)`` returns one finite number, for float64 and
      float32 inputs alike (within 1e-3), without changing ``a`` or ``y``;
    * the same inputs give the same number, and so do the same rows in
      another order (a metric describes a whole split);
    * perfect predictions (``a = y``) rank best: better than every one of 5
      random predictions or as good, and strictly better than one of them,
      the way ``higher_is_better`` says — a cost-like metric that forgot
      ``higher_is_better = False`` fails here, and so would early stopping and
      ``deltaw report`` when they rank it.

    ``context`` defaults to ``EvalContext(Quadratic())`` (penalty 0).
    ``metric`` is an instance, or a class checked at several settings of its
    ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise ValueError(f"check_metric: targets must be some of {TARGETS}, got {list(targets)}")
    if context is None:
        from deltaw.plugins.costs import Quadratic

        context = EvalContext(Quadratic())
    for met, check in instances(metric, Metric, "check_metric", settings):
        for kind in targets:
            _check_one(met, check, kind, context, np.random.default_rng(seed))


def _draw(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """Targets of ``kind`` and random predictions of the matching range."""
    if kind == "one-hot":
        y = np.eye(CLASSES)[rng.integers(0, CLASSES, ROWS)]
        return y, [softmax(2 * rng.standard_normal(y.shape)) for _ in range(DRAWS)]
    if kind == "binary":
        y = rng.integers(0, 2, (ROWS, 1)).astype(np.float64)
        return y, [sigmoid(2 * rng.standard_normal(y.shape)) for _ in range(DRAWS)]
    y = rng.standard_normal((ROWS, 2))
    return y, [rng.standard_normal(y.shape) for _ in range(DRAWS)]


def _value(check: str, met: Metric, a: np.ndarray, y: np.ndarray, ctx: EvalContext, what: str):
    before = (a.copy(), y.copy())
    v = met.compute(a, y, ctx)
    if not (np.array_equal(a, before[0]) and np.array_equal(y, before[1])):
        fail(check, f"compute changed its input a or y ({what}); metrics must only read them")
    if isinstance(v, (bool, np.bool_)) or np.ndim(v) != 0:
        fail(check, f"compute returned {_what(v)} ({what}); expected one number")
    try:
        number = float(v)
    except (TypeError, ValueError):
        fail(check, f"compute returned {_what(v)} ({what}); expected one number")
    if not np.isfinite(number):
        fail(check, f"compute returned {number} ({what}); expected a finite number")
    return number


def _what(v: object) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    text = repr(v)
    return text if len(text) <= 60 else text[:60] + "…"


def _check_one(
    met: Metric, check: str, kind: str, ctx: EvalContext, rng: np.random.Generator
) -> None:
    y, randoms = _draw(kind, rng)
    a = randoms[0]
    on = f"{kind} targets"
    v64 = _value(check, met, a, y, ctx, f"{on}, float64")
    v32 = _value(check, met, a.astype(np.float32), y.astype(np.float32), ctx, f"{on}, float32")
    if abs(v32 - v64) > DTYPE_TOL * max(1.0, abs(v64)):
        fail(
            check,
            f"compute gives {v64:.6g} for float64 inputs but {v32:.6g} for the same float32 "
            f"inputs ({on}); compute in the inputs' dtype without losing precision",
        )
    if _value(check, met, a, y, ctx, on) != v64:
        fail(check, f"compute gave two different numbers for the same inputs ({on})")
    for _ in range(3):
        order = rng.permutation(len(y))
        shuffled = _value(check, met, a[order], y[order], ctx, f"{on}, rows shuffled")
        if abs(shuffled - v64) > ORDER_TOL * max(1.0, abs(v64)):
            fail(
                check,
                f"compute gives {v64:.6g} but {shuffled:.6g} for the same rows in another "
                f"order ({on}); a metric describes the whole split, whatever the order of its rows",
            )
    higher = bool(met.higher_is_better)
    perfect = _value(check, met, y.copy(), y, ctx, f"{on}, perfect predictions a = y")
    scores = [_value(check, met, r, y, ctx, f"{on}, random predictions") for r in randoms]
    better = [(perfect > s) if higher else (perfect < s) for s in scores]
    worse = [(perfect < s) if higher else (perfect > s) for s in scores]
    if any(worse) or not any(better):
        i = worse.index(True) if any(worse) else 0
        way = "higher" if higher else "lower"
        fix = (
            "set higher_is_better = False"
            if higher and perfect < scores[i]
            else ("set higher_is_better = True" if not higher and perfect > scores[i] else "")
        )
        fail(
            check,
            f"perfect predictions (a = y, {on}) score {perfect:.6g} and random ones "
            f"{scores[i]:.6g} (draw {i + 1} of {DRAWS}); with higher_is_better = {higher}, "
            f"{way} must be better and a perfect score must rank best"
            + (f"; {fix}" if fix else ""),
        )
