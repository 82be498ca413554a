"""Stable numerics helpers, so plugin authors avoid the classic traps.

Every helper preserves the dtype of its input, except :func:`classes`, which
turns outputs into class indices.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def _exp_cap(dtype: np.dtype) -> float:
    """A whole number C with e^C finite in ``dtype``, just below ln(max): 709 (float64),
    88 (float32)."""
    return float(np.floor(np.log(np.finfo(dtype).max)))


_EXP_CAP = {np.dtype(t): _exp_cap(np.dtype(t)) for t in (np.float16, np.float32, np.float64)}


def sigmoid(z: Array) -> Array:
    """σ(z) = 1/(1+e^{−z}), never overflowing and never warning.

    The plain formula is accurate for both signs of z; e^{−z} would only
    overflow for z < −C (C = 709 for float64, 88 for float32), where σ(z) is
    already below the dtype's smallest normal number. There −z is capped at C,
    so σ(z) comes out as the subnormal e^{−C} rather than a smaller one or 0 —
    no difference a network or a finite-difference check can see. Four passes
    and no masks or ``errstate``: this runs twice per mini-batch for a sigmoid
    layer, and it is the hot path of the book's networks.
    """
    t = np.negative(z)
    cap = _EXP_CAP.get(t.dtype)
    np.minimum(t, cap if cap is not None else _exp_cap(t.dtype), out=t)  # e^{−z} stays finite
    np.exp(t, out=t)
    t += 1.0
    return np.reciprocal(t, out=t)


def log_sigmoid(z: Array) -> Array:
    """ln σ(z) = −softplus(−z), finite for every finite z."""
    return -np.logaddexp(np.zeros((), dtype=z.dtype), -z)


def softmax(z: Array, axis: int = -1) -> Array:
    """e^{z}/Σe^{z}, shifted by the row maximum so it never overflows."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(z: Array, axis: int = -1) -> Array:
    """ln softmax(z) through log-sum-exp: z − max − ln Σ e^{z−max}."""
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def xlogy(x: Array, y: Array) -> Array:
    """x·ln y with 0·ln 0 = 0 (and 0·ln y = 0 for every y)."""
    x, y = np.broadcast_arrays(x, y)
    out = np.zeros(x.shape, dtype=np.result_type(x, y))
    nz = x != 0
    out[nz] = x[nz] * np.log(y[nz])
    return out


def eps_for(dtype: np.dtype) -> float:
    """The probability clip for a dtype: 1e-12 for float64, 1e-7 for float32 and smaller."""
    return 1e-12 if np.dtype(dtype).itemsize >= 8 else 1e-7


def clip_probs(p: Array) -> Array:
    """Clip probabilities into [ε, 1 − ε] with ε chosen by :func:`eps_for` for p's dtype."""
    eps = eps_for(p.dtype)
    return np.clip(p, eps, 1.0 - eps)


def classes(a: Array) -> Array:
    """The class each row of outputs ``a`` (m, n_out) stands for, as int64: the index of the
    largest unit, or, for a single yes/no unit, 1 where it is above ½ and 0 elsewhere."""
    return (a[..., 0] > 0.5).astype(np.int64) if a.shape[-1] == 1 else a.argmax(axis=-1)
