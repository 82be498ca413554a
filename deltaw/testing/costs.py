"""``check_cost``: the value, ∂C_x/∂a and the output δ against finite differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deltaw.core.base import Activation, Cost, overrides
from deltaw.testing._common import (
    DTYPES,
    FD_STEP,
    FD_TOL,
    FUSED_TOL,
    Settings,
    assert_close,
    away_from_zero,
    call,
    error,
    fail,
    idx,
    instances,
    label,
)

__all__ = ["KINK_GAP", "check_cost"]

KINK_GAP = 0.01  # test points stay this far (∞-norm) from a cost's declared kinks
KINK_REDRAWS = 100  # rows redrawn at most this often to get there

_FITS = {"real": {"real", "unit", "simplex"}, "unit": {"unit", "simplex"}, "simplex": {"simplex"}}


def _output_range(a: np.ndarray) -> str:
    """'simplex' (rows are distributions), 'unit' (each in (0, 1)) or 'real'."""
    if np.all((a > 0) & (a < 1)):
        return "simplex" if np.allclose(a.sum(axis=1), 1.0) else "unit"
    return "real"


def _targets(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    """Targets that fit outputs of ``kind``: one-hot rows, 0/1 labels, or real numbers."""
    if kind == "simplex":
        return np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    if kind == "unit":
        return rng.integers(0, 2, shape).astype(np.float64)
    return rng.standard_normal(shape)


def check_cost(
    cost: Cost | type[Cost],
    *,
    output_activations: Sequence[Activation] | None = None,
    seed: int = 0,
    settings: Settings = None,
) -> None:
    """Check a cost against the contract; raise ``AssertionError`` on the first failure.

    For each output activation (default: the built-in sigmoid, softmax and
    identity, skipping those whose outputs don't fit the cost's ``domain``),
    with targets that fit it (0/1 labels, one-hot rows, real numbers):

    * ``value`` is a finite number and the mean of the per-row values;
    * ``gradient`` is ∂C_x/∂a per row: it matches finite differences of
      m · ``value`` (m = number of rows);
    * ``output_delta(z, a, y, activation)`` is δᴸ = ∂C_x/∂zᴸ: it matches
      finite differences of m · ``value(activation.forward(z), y)``, and
      equals the generic path ``activation.backward(z, a, gradient(a, y))``;
      when a fused ``output_delta`` is right but ``gradient`` is not, the
      message names ``Cost.gradient`` (training would pass, any other output
      activation would not);
    * ``gradient`` and ``output_delta`` keep the shape and dtype (float32 and
      float64) and no method changes its inputs.

    Rows of outputs closer than ``KINK_GAP`` to a kink the cost declares
    (``kink_distance``) are redrawn before the finite-difference checks.

    A cost keeping the default ``domain = "real"`` is also
    paired with identity outputs; a cost meant for probabilities should set
    ``domain = "unit"`` or ``"simplex"`` (or pass ``output_activations``).
    Explicitly given ``output_activations`` must fit the cost's domain.
    ``cost`` is an instance, or a class checked at several settings of its
    ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    for c, check in instances(cost, Cost, "check_cost", settings):
        _check_one(c, check, output_activations, seed)


def _check_one(
    c: Cost, check: str, output_activations: Sequence[Activation] | None, seed: int
) -> None:
    domain = c.domain
    if domain not in _FITS:
        raise ValueError(f"{check}: unknown domain {domain!r}; use 'real', 'unit' or 'simplex'")
    if output_activations is None:
        from deltaw.plugins.activations import Identity, Sigmoid, Softmax

        acts, explicit = [Sigmoid(), Softmax(), Identity()], False
    else:
        acts = [a for o in output_activations for a, _ in instances(o, Activation, check)]
        explicit = True

    rng = np.random.default_rng(seed)
    checked = 0
    for act in acts:
        z = _off_kinks(away_from_zero(rng, (6, 4), 0.01, 2.5), act)
        a = act.forward(z)
        kind = _output_range(a)
        if kind not in _FITS[domain]:
            if explicit:
                raise ValueError(
                    f"{check}: outputs of {label(act)} ({kind}) don't fit the cost's domain "
                    f"{domain!r}"
                )
            continue
        checked += 1
        y = _targets(rng, a.shape, kind)
        z, a = _away_from_cost_kinks(check, c, act, z, a, y, rng)
        _check_cost_pair(check, c, act, z, a, y)
    if not checked:
        raise ValueError(
            f"{check}: no output activation fits the cost's domain {domain!r}; "
            "pass output_activations"
        )


def _off_kinks(z: np.ndarray, act: Activation) -> np.ndarray:
    """z stepped off the activation's declared kinks, so finite differences in z are smooth."""
    for kink in act.kinks:
        z[np.abs(z - kink) < 0.01] += 0.02
    return z


def _away_from_cost_kinks(
    check: str,
    c: Cost,
    act: Activation,
    z: np.ndarray,
    a: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Redraw the rows of z whose outputs lie within ``KINK_GAP`` of a kink the cost declares."""
    for _ in range(KINK_REDRAWS):
        d = c.kink_distance(a, y)
        if d is None:
            return z, a
        near = ~(np.asarray(d) >= KINK_GAP)
        if not near.any():
            return z, a
        z = z.copy()
        z[near] = away_from_zero(rng, z[near].shape, 0.01, 2.5)
        z = _off_kinks(z, act)
        a = act.forward(z)
    raise ValueError(
        f"{check}: kink_distance puts every output of {label(act)} within {KINK_GAP} of a kink "
        f"after {KINK_REDRAWS} draws; pass output_activations whose outputs can avoid them"
    )


def _check_cost_pair(
    check: str, c: Cost, act: Activation, z: np.ndarray, a: np.ndarray, y: np.ndarray
) -> None:
    with_act = f"with {label(act)} outputs"
    _check_types(check, c, act, z, a, y, with_act)
    m = len(a)
    v = float(c.value(a, y))
    rows = float(np.mean([float(c.value(a[i : i + 1], y[i : i + 1])) for i in range(m)]))
    if not error(np.array(v), np.array(rows)) <= 1e-9:
        fail(
            check,
            f"value(a, y) = {v:.6g} {with_act} but the mean of the per-row values is "
            f"{rows:.6g}; value must be the mean over the rows of the per-sample cost",
        )

    # ∂C_x/∂a and δᴸ = ∂C_x/∂z by central differences of m·value (value is a mean over rows)
    fd_a = _fd(lambda a_: c.value(a_, y), a, m)
    fd_z = _fd(lambda z_: c.value(act.forward(z_), y), z, m)
    gradient, delta = c.gradient(a, y), c.output_delta(z, a, y, act)
    fused = overrides(c, Cost, "output_delta")
    gradient_ok = error(gradient, fd_a).max() <= FD_TOL
    if fused and not gradient_ok and error(delta, fd_z).max() <= FD_TOL:
        err = error(gradient, fd_a)
        i = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        fail(
            check,
            f"Cost.gradient is wrong: gradient at a{idx(i)}={a[i]:.4g} (y={y[i]:.4g}, {with_act}) "
            f"is {gradient[i]:.6g} but finite differences of m·value give {fd_a[i]:.6g} "
            f"(relative error {err[i]:.1e}, tolerance {FD_TOL:.0e}). The fused output_delta "
            f"{with_act} is right, so training with this pair passes; every output activation "
            "the cost does not fuse with uses gradient",
        )
    assert_close(
        check,
        gradient,
        fd_a,
        FD_TOL,
        lambda i: f"gradient at a{idx(i)}={a[i]:.4g} (y={y[i]:.4g}, {with_act})",
        "finite differences of m·value",
    )
    assert_close(
        check,
        delta,
        fd_z,
        FD_TOL,
        lambda i: f"output_delta at z{idx(i)}={z[i]:.4g} (a={a[i]:.4g}, y={y[i]:.4g}, {with_act})",
        "finite differences of m·value(forward(z))",
    )
    assert_close(
        check,
        delta,
        act.backward(z, a, gradient),
        FUSED_TOL,
        lambda i: f"output_delta at z{idx(i)}={z[i]:.4g} (a={a[i]:.4g}, y={y[i]:.4g}, {with_act})",
        "the generic path activation.backward(z, a, gradient(a, y)) would",
    )


def _check_types(
    check: str,
    c: Cost,
    act: Activation,
    z: np.ndarray,
    a: np.ndarray,
    y: np.ndarray,
    with_act: str,
) -> None:
    """value is one finite number; gradient and output_delta keep shape and dtype; inputs
    unchanged."""
    for dtype in DTYPES:
        zd, ad, yd = z.astype(dtype), a.astype(dtype), y.astype(dtype)
        name = np.dtype(dtype).name
        before = (ad.copy(), yd.copy())
        v = c.value(ad, yd)
        if not (np.array_equal(ad, before[0]) and np.array_equal(yd, before[1])):
            fail(
                check,
                f"value changed its input a or y ({name}, {with_act}); plugins must not mutate "
                "their inputs",
            )
        if not (np.ndim(v) == 0 and np.isfinite(float(v))):
            fail(check, f"value returned {v!r} ({name}, {with_act}); expected one finite number")
        call(check, f"gradient ({with_act})", c.gradient, {"a": ad, "y": yd}, a.shape, dtype)
        call(
            check,
            f"output_delta ({with_act})",
            lambda z_, a_, y_: c.output_delta(z_, a_, y_, act),
            {"z": zd, "a": ad, "y": yd},
            a.shape,
            dtype,
        )


def _fd(f, x: np.ndarray, m: int) -> np.ndarray:
    """m · ∂f/∂x by central differences, entry by entry (f is a mean over the m rows)."""
    h, out = FD_STEP, np.empty_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        out[i] = m * (f(xp) - f(xm)) / (2 * h)
    return out
