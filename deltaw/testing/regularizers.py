"""``check_regularizer``: the penalty's gradient against finite differences."""

from __future__ import annotations

import numpy as np

from deltaw.core.base import Regularizer
from deltaw.testing._common import (
    DTYPES,
    FD_STEP,
    FD_TOL,
    Settings,
    assert_close,
    away_from_zero,
    call,
    fail,
    idx,
    instances,
)

__all__ = ["check_regularizer"]


def check_regularizer(
    regularizer: Regularizer | type[Regularizer],
    *,
    n: int = 10,
    seed: int = 0,
    settings: Settings = None,
) -> None:
    """Check a weight penalty against the contract; raise ``AssertionError`` on the first failure.

    * ``penalty(weights, n)`` is one finite number;
    * ``gradient(w, n)`` is ∂penalty/∂w: it matches finite differences of
      ``penalty`` for every weight matrix, at weights away from 0 (where L1
      has its kink);
    * ``gradient`` keeps the shape and dtype (float32 and float64) and neither
      method changes its inputs.

    ``n`` is the training-set size passed to both methods. ``regularizer`` is
    an instance, or a class checked at several settings of its ``Params``
    (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    for reg, check in instances(regularizer, Regularizer, "check_regularizer", settings):
        _check_one(reg, check, n, seed)


def _check_one(reg: Regularizer, check: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = [away_from_zero(rng, (5, 4), 0.01, 2.0), away_from_zero(rng, (4, 3), 0.01, 2.0)]
    for w in weights:  # declared kinks (|w| at 0 is avoided above): step off them
        for kink in reg.kinks:
            w[np.abs(w - kink) < 0.01] += 0.02

    for dtype in DTYPES:
        ws = [w.astype(dtype) for w in weights]
        before = [w.copy() for w in ws]
        p = reg.penalty(ws, n)
        if not all(np.array_equal(w, b) for w, b in zip(ws, before)):
            fail(
                check,
                f"penalty changed the weights ({np.dtype(dtype).name}); it must only read them",
            )
        if not (np.ndim(p) == 0 and np.isfinite(float(p))):
            fail(
                check,
                f"penalty returned {p!r} ({np.dtype(dtype).name}); expected one finite number",
            )
        for w in ws:
            call(
                check,
                f"gradient(w of shape {w.shape})",
                lambda w_: reg.gradient(w_, n),
                {"w": w},
                w.shape,
                dtype,
            )

    h = FD_STEP
    for layer, w in enumerate(weights):
        fd = np.empty_like(w)
        for i in np.ndindex(w.shape):
            wp, wm = [x.copy() for x in weights], [x.copy() for x in weights]
            wp[layer][i] += h
            wm[layer][i] -= h
            fd[i] = (reg.penalty(wp, n) - reg.penalty(wm, n)) / (2 * h)
        assert_close(
            check,
            reg.gradient(w, n),
            fd,
            FD_TOL,
            lambda i, layer=layer, w=w: (
                f"gradient of weights[{layer}] at {idx(i)} (w={w[i]:.4g}, n={n})"
            ),
            "finite differences of penalty",
        )
