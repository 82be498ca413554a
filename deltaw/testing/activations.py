"""``check_activation``: σ, σ' and the vector–Jacobian product against finite differences."""

from __future__ import annotations

import warnings

import numpy as np

from deltaw.core.base import STANDARD_ACTIVATIONS, Activation, overrides
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
)

__all__ = ["check_activation"]


def check_activation(
    activation: Activation | type[Activation],
    *,
    seed: int = 0,
    extreme: float | None = 1000.0,
    settings: Settings = None,
) -> None:
    """Check an activation against the contract; raise ``AssertionError`` on the first failure.

    * ``forward``, ``derivative`` (elementwise activations) and ``backward``
      return arrays of the input's shape and dtype (float32 and float64),
      finite, without changing their inputs;
    * derivatives are checked at random z with |z| in [0.01, 3], at least 0.01
      away from 0 and from every point in the activation's ``kinks``;
    * the ``elementwise`` flag agrees with the methods, because the network
      may compute BP2 from either: an ``elementwise`` activation really is
      (its finite-difference Jacobian is diagonal), implements ``derivative``
      matching that diagonal, and its ``backward(z, a, g)`` equals
      ``derivative(z, a) * g`` on random z (kinks and large |z| included);
      one with ``elementwise = False`` overrides ``backward``;
    * ``backward(z, a, g)`` matches gᵀJ with J the finite-difference Jacobian
      of each row;
    * at z = ±``extreme`` (pass ``None`` to skip) every method returns finite
      values without a numpy ``RuntimeWarning`` (overflow in ``exp`` etc.);
    * an activation declaring ``computes`` (``"sigmoid"``, …: costs fuse their
      δᴸ by it) computes that function.

    ``activation`` is an instance, or a class checked at several settings of
    its ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    for act, check in instances(activation, Activation, "check_activation", settings):
        _check_one(act, check, seed, extreme)


_STANDARD = {  # written out plainly: |z| ≤ 3 in the check, so nothing overflows
    "identity": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True),
}
COMPUTES_TOL = 1e-12  # the same function by another formula: only rounding differs


def _check_computes(check: str, act: Activation, z: np.ndarray) -> None:
    """An activation that says it computes a standard function (so costs fuse with it) does."""
    name = act.computes
    if name is None:
        return
    if name not in STANDARD_ACTIVATIONS:
        fail(
            check,
            f"declares computes = {name!r}; use one of {', '.join(STANDARD_ACTIVATIONS)}, or "
            "None for any other function",
        )
    assert_close(
        check,
        np.asarray(act.forward(z), np.float64),
        _STANDARD[name](z),
        COMPUTES_TOL,
        lambda i: (
            f"declares computes = {name!r} (costs fuse their δ by it) but forward at "
            f"z{idx(i)}={z[i]:.4g}"
        ),
        f"{name}(z) would",
    )


def _check_one(act: Activation, check: str, seed: int, extreme: float | None) -> None:
    _check_flag_is_implemented(check, act)
    rng = np.random.default_rng(seed)
    z = away_from_zero(rng, (6, 5), 0.01, 3.0)
    for kink in act.kinks:  # declared non-differentiable points: step off them
        z[np.abs(z - kink) < 0.01] += 0.02
    g = rng.standard_normal(z.shape)

    for dtype in DTYPES:
        zd, gd = z.astype(dtype), g.astype(dtype)
        a = call(check, "forward", act.forward, {"z": zd}, z.shape, dtype)
        if act.elementwise:
            call(check, "derivative", act.derivative, {"z": zd, "a": a}, z.shape, dtype)
        call(check, "backward", act.backward, {"z": zd, "a": a, "grad": gd}, z.shape, dtype)
    _check_computes(check, act, z.copy())

    # jac[r, j, k] = ∂a[r,j]/∂z[r,k] by central differences, perturbing column k of every row
    h, (m, n) = FD_STEP, z.shape
    jac = np.empty((m, n, n))
    for k in range(n):
        zp, zm = z.copy(), z.copy()
        zp[:, k] += h
        zm[:, k] -= h
        jac[:, :, k] = (act.forward(zp) - act.forward(zm)) / (2 * h)
    a = act.forward(z)
    if act.elementwise:
        off = np.abs(jac * (1.0 - np.eye(n)))
        r, j, k = np.unravel_index(np.argmax(off), off.shape)
        if off[r, j, k] > FD_TOL:
            fail(
                check,
                f"declares elementwise = True but a[{r},{j}] changes with z[{r},{k}] "
                f"(∂a/∂z = {jac[r, j, k]:.4g} by finite differences); set elementwise = False "
                "and implement backward as a vector–Jacobian product",
            )
        assert_close(
            check,
            act.derivative(z, a),
            np.diagonal(jac, axis1=1, axis2=2),
            FD_TOL,
            lambda i: f"derivative at z{idx(i)}={z[i]:.4g}",
            "finite differences",
        )
        _check_backward_is_derivative_times_grad(check, act, rng)
    assert_close(
        check,
        act.backward(z, a, g),
        np.einsum("rj,rjk->rk", g, jac),
        FD_TOL,
        lambda i: f"backward (vector–Jacobian product) at z{idx(i)}={z[i]:.4g}",
        "finite differences of the Jacobian",
    )

    if extreme is not None:
        for dtype in DTYPES:
            zx = np.array([[-extreme, -1.0, 0.0, 1.0, extreme]], dtype=dtype)
            methods = (
                ["forward", "derivative", "backward"]
                if act.elementwise
                else ["forward", "backward"]
            )
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)
                for what in methods:
                    label = f"{what} at z={zx[0].tolist()} ({np.dtype(dtype).name})"
                    try:
                        ax = act.forward(zx)
                        out = (
                            ax
                            if what == "forward"
                            else (
                                act.derivative(zx, ax)
                                if what == "derivative"
                                else act.backward(zx, ax, np.ones_like(zx))
                            )
                        )
                    except RuntimeWarning as w:
                        fail(
                            check,
                            f"{label} warned {w!s}; use a stable form (branch on the sign, "
                            "logaddexp, expm1 of the clipped part, shift by the max)",
                        )
                    if not np.all(np.isfinite(out)):
                        fail(check, f"{label} returned {out[0].tolist()}; expected finite values")


def _check_flag_is_implemented(check: str, act: Activation) -> None:
    """``elementwise`` names the methods the network may call: they must exist."""
    if act.elementwise:
        try:
            act.derivative(np.zeros((1, 2)), act.forward(np.zeros((1, 2))))
        except NotImplementedError:
            fail(
                check,
                "declares elementwise = True (the default) but does not implement "
                "derivative(z, a); implement σ'(z) there, or set elementwise = False if backward "
                "is a full vector–Jacobian product",
            )
    elif not overrides(act, Activation, "backward"):
        fail(
            check,
            "declares elementwise = False but does not override backward, whose default "
            "grad * derivative(z, a) is the elementwise rule; implement backward(z, a, grad) "
            "as the vector–Jacobian product gᵀJ, or set elementwise = True",
        )


def _check_backward_is_derivative_times_grad(
    check: str, act: Activation, rng: np.random.Generator
) -> None:
    """Elementwise: ``backward(z, a, g)`` is ``derivative(z, a) * g`` everywhere, kinks included."""
    z = rng.standard_normal((6, 5)) * 4.0
    z.flat[: len(act.kinks) + 1] = (0.0, *act.kinks)  # where a subgradient is chosen, too
    g = rng.standard_normal(z.shape)
    for dtype in DTYPES:
        zd, gd = z.astype(dtype), g.astype(dtype)
        a = act.forward(zd)
        got = np.asarray(act.backward(zd, a, gd), np.float64)
        ref = np.asarray(act.derivative(zd, a), np.float64) * gd
        err = error(got, ref)
        i = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        tol = max(FUSED_TOL, 100 * float(np.finfo(dtype).eps))
        if not err[i] <= tol:
            fail(
                check,
                f"declares elementwise = True, so backward(z, a, g) must equal "
                f"derivative(z, a) * g (the network may use either), but at z{idx(i)}="
                f"{z[i]:.4g} ({np.dtype(dtype).name}) backward gives {got[i]:.6g} and "
                f"derivative * g gives {ref[i]:.6g} (relative error {err[i]:.1e}, tolerance "
                f"{tol:.0e}); drop the backward override, or set elementwise = False",
            )
