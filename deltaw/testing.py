"""Contract checks for plugin authors — the same checks every built-in passes.

Call them from your own test suite::

    # tests/test_my_plugin.py
    from deltaw.testing import check_activation, check_cost, check_optimizer
    from my_plugin import Lion, Mish, FocalLoss

    def test_lion_keeps_the_contract():
        check_optimizer(Lion)                # a class uses its default Params

    def test_mish_derivative_is_right():
        check_activation(Mish())

    def test_focal_loss_gradient_is_right():
        check_cost(FocalLoss(gamma=2.0))

Each check raises ``AssertionError`` naming the check, the plugin, where it
failed (index, dtype, output activation) and by how much, e.g.::

    check_activation(Sigmoid): derivative at z[3,1]=0.52 is 0.2499 but finite
    differences give 0.235 (relative error 1.5e-02, tolerance 1e-06)

How derivatives are checked: central finite differences in float64 with step
``FD_STEP`` = 1e-6 at random points away from kinks (|z| ≥ 0.01, probabilities
in [0.05, 0.95]); the error is |analytic − numeric| / max(1, |analytic|,
|numeric|) — relative for values above 1, absolute below, so derivatives that
pass near 0 don't fail on rounding — and must not exceed ``FD_TOL`` = 1e-6.

Costs may declare ``domain`` (a class attribute): ``"real"`` (default: any
output), ``"unit"`` (each a in (0, 1), e.g. binary cross-entropy) or
``"simplex"`` (rows are probability distributions, e.g. log-likelihood).
:func:`check_cost` pairs a cost only with output activations whose outputs fit.
A cost with kinks (hinge at its margin) says how far each row of ``a`` is from
them through ``kink_distance(a, y)``; :func:`check_cost` redraws rows until
they are at least ``KINK_GAP`` = 0.01 away, so finite differences never
straddle a kink and the tolerance stays the same.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltaw.core.base import Activation, Cost, Initializer, Optimizer, Regularizer, overrides

__all__ = [
    "FD_STEP",
    "FD_TOL",
    "check_activation",
    "check_cost",
    "check_initializer",
    "check_optimizer",
    "check_regularizer",
]

FD_STEP = 1e-6  # central-difference step (float64)
FD_TOL = 1e-6  # tolerance of the error against finite differences
KINK_GAP = 0.01  # test points stay this far (∞-norm) from a cost's declared kinks
KINK_REDRAWS = 100  # rows redrawn at most this often to get there
FUSED_TOL = 1e-8  # fused output_delta vs the generic path: the same math, only rounding differs
MOMENT_SIGMAS = 5.0  # initializer moments: allowed standard errors of the estimate
DTYPES = (np.float64, np.float32)

Expected = float | Callable[[int, int], float] | None


# -- shared helpers --------------------------------------------------------------------------


def _instance(obj: Any, base: type, check: str) -> Any:
    """An instance of ``base`` from an instance or a class (with its default Params)."""
    if isinstance(obj, type):
        if not issubclass(obj, base):
            raise TypeError(
                f"{check} needs a deltaw.{base.__name__} subclass or instance, got {obj!r}"
            )
        try:
            return obj()
        except Exception as exc:
            raise TypeError(
                f"{check}: {obj.__name__}() failed ({exc}); pass an instance with its parameters"
            ) from exc
    if not isinstance(obj, base):
        raise TypeError(f"{check} needs a deltaw.{base.__name__} subclass or instance, got {obj!r}")
    return obj


def _label(obj: Any) -> str:
    """``Sigmoid`` or ``LeakyReLU(alpha=0.01)``: the plugin as messages name it."""
    params = getattr(obj, "params", None)
    if hasattr(params, "model_dump"):
        args = ", ".join(f"{k}={v!r}" for k, v in params.model_dump().items())
        return f"{type(obj).__name__}({args})"
    return type(obj).__name__


def _fail(check: str, message: str) -> None:
    raise AssertionError(f"{check}: {message}")


def _idx(i: tuple[int, ...]) -> str:
    return "[" + ",".join(str(int(k)) for k in i) + "]"


def _away_from_zero(
    rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float
) -> np.ndarray:
    """Random values with |x| in [low, high] and a random sign: away from kinks at 0."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def _error(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got − ref| / max(1, |got|, |ref|): relative above 1, absolute below."""
    return np.abs(got - ref) / np.maximum(1.0, np.maximum(np.abs(got), np.abs(ref)))


def _assert_close(
    check: str,
    got: np.ndarray,
    ref: np.ndarray,
    tol: float,
    describe: Callable[[tuple], str],
    against: str,
) -> None:
    """Fail at the worst element: '<describe(i)> is <got> but <against> give <ref> (relative error …)'."""
    err = _error(got, ref)
    i = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
    if not err[i] <= tol:
        _fail(
            check,
            f"{describe(i)} is {got[i]:.6g} but {against} give {ref[i]:.6g} "
            f"(relative error {err[i]:.1e}, tolerance {tol:.0e})",
        )


def _call(
    check: str, what: str, fn: Callable, args: dict[str, np.ndarray], shape: tuple, dtype: Any
) -> np.ndarray:
    """Call ``fn(*args)`` and check: inputs untouched, an array of ``shape`` and ``dtype``, finite."""
    name = np.dtype(dtype).name
    before = {k: v.copy() for k, v in args.items()}
    out = fn(*args.values())
    for k, v in args.items():
        if not np.array_equal(v, before[k], equal_nan=True):
            _fail(
                check,
                f"{what} changed its input {k} ({name}); plugins must not mutate their inputs",
            )
    if not isinstance(out, np.ndarray):
        _fail(
            check, f"{what} returned {type(out).__name__} for {name} inputs, expected a numpy array"
        )
    if out.shape != shape:
        _fail(check, f"{what} returned shape {out.shape} for {name} inputs, expected {shape}")
    if out.dtype != np.dtype(dtype):
        _fail(check, f"{what} returned {out.dtype} for {name} inputs; it must keep the input dtype")
    bad = np.argwhere(~np.isfinite(out))
    if len(bad):
        i = tuple(bad[0])
        _fail(
            check,
            f"{what} returned {out[i]} at {_idx(i)} for {name} inputs; expected finite values",
        )
    return out


# -- activations -----------------------------------------------------------------------------


def check_activation(
    activation: Activation | type[Activation], *, seed: int = 0, extreme: float | None = 1000.0
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
      values without a numpy ``RuntimeWarning`` (overflow in ``exp`` etc.).

    ``activation`` is an instance, or a class to use with its default parameters.
    """
    act = _instance(activation, Activation, "check_activation")
    check = f"check_activation({_label(act)})"
    _check_flag_is_implemented(check, act)
    rng = np.random.default_rng(seed)
    z = _away_from_zero(rng, (6, 5), 0.01, 3.0)
    for kink in act.kinks:  # declared non-differentiable points: step off them
        z[np.abs(z - kink) < 0.01] += 0.02
    g = rng.standard_normal(z.shape)

    for dtype in DTYPES:
        zd, gd = z.astype(dtype), g.astype(dtype)
        a = _call(check, "forward", act.forward, {"z": zd}, z.shape, dtype)
        if act.elementwise:
            _call(check, "derivative", act.derivative, {"z": zd, "a": a}, z.shape, dtype)
        _call(check, "backward", act.backward, {"z": zd, "a": a, "grad": gd}, z.shape, dtype)

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
            _fail(
                check,
                f"declares elementwise = True but a[{r},{j}] changes with z[{r},{k}] "
                f"(∂a/∂z = {jac[r, j, k]:.4g} by finite differences); set elementwise = False "
                "and implement backward as a vector–Jacobian product",
            )
        _assert_close(
            check,
            act.derivative(z, a),
            np.diagonal(jac, axis1=1, axis2=2),
            FD_TOL,
            lambda i: f"derivative at z{_idx(i)}={z[i]:.4g}",
            "finite differences",
        )
        _check_backward_is_derivative_times_grad(check, act, rng)
    _assert_close(
        check,
        act.backward(z, a, g),
        np.einsum("rj,rjk->rk", g, jac),
        FD_TOL,
        lambda i: f"backward (vector–Jacobian product) at z{_idx(i)}={z[i]:.4g}",
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
                        _fail(
                            check,
                            f"{label} warned {w!s}; use a stable form (branch on the sign, "
                            "logaddexp, expm1 of the clipped part, shift by the max)",
                        )
                    if not np.all(np.isfinite(out)):
                        _fail(check, f"{label} returned {out[0].tolist()}; expected finite values")


def _check_flag_is_implemented(check: str, act: Activation) -> None:
    """``elementwise`` names the methods the network may call: they must exist."""
    if act.elementwise:
        try:
            act.derivative(np.zeros((1, 2)), act.forward(np.zeros((1, 2))))
        except NotImplementedError:
            _fail(
                check,
                "declares elementwise = True (the default) but does not implement "
                "derivative(z, a); implement σ'(z) there, or set elementwise = False if backward "
                "is a full vector–Jacobian product",
            )
    elif not overrides(act, Activation, "backward"):
        _fail(
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
        err = _error(got, ref)
        i = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        tol = max(FUSED_TOL, 100 * float(np.finfo(dtype).eps))
        if not err[i] <= tol:
            _fail(
                check,
                f"declares elementwise = True, so backward(z, a, g) must equal "
                f"derivative(z, a) * g (the network may use either), but at z{_idx(i)}="
                f"{z[i]:.4g} ({np.dtype(dtype).name}) backward gives {got[i]:.6g} and "
                f"derivative * g gives {ref[i]:.6g} (relative error {err[i]:.1e}, tolerance "
                f"{tol:.0e}); drop the backward override, or set elementwise = False",
            )


# -- costs -----------------------------------------------------------------------------------

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
) -> None:
    """Check a cost against the contract; raise ``AssertionError`` on the first failure.

    For each output activation (default: the built-in sigmoid, softmax and
    identity, skipping those whose outputs don't fit the cost's ``domain``),
    with targets that fit it (0/1 labels, one-hot rows, real numbers):

    * ``value`` is a finite number and the mean of the per-row values;
    * ``gradient`` is ∂C_x/∂a per row: it matches finite differences of
      m · ``value`` (m = number of rows);
    * ``output_delta(z, a, y, activation)`` (fused or not) equals the generic
      path ``activation.backward(z, a, gradient(a, y))``;
    * ``gradient`` and ``output_delta`` keep the shape and dtype (float32 and
      float64) and no method changes its inputs.

    Rows of outputs closer than ``KINK_GAP`` to a kink the cost declares
    (``kink_distance``) are redrawn before the finite-difference checks.

    A cost keeping the default ``domain = "real"`` is also
    paired with identity outputs; a cost meant for probabilities should set
    ``domain = "unit"`` or ``"simplex"`` (or pass ``output_activations``).
    Explicitly given ``output_activations`` must fit the cost's domain.
    """
    c = _instance(cost, Cost, "check_cost")
    check = f"check_cost({_label(c)})"
    domain = c.domain
    if domain not in _FITS:
        raise ValueError(f"{check}: unknown domain {domain!r}; use 'real', 'unit' or 'simplex'")
    if output_activations is None:
        from deltaw.plugins.activations import Identity, Sigmoid, Softmax

        acts, explicit = [Sigmoid(), Softmax(), Identity()], False
    else:
        acts, explicit = [_instance(a, Activation, check) for a in output_activations], True

    rng = np.random.default_rng(seed)
    checked = 0
    for act in acts:
        z = _away_from_zero(rng, (6, 4), 0.01, 2.5)
        a = act.forward(z)
        kind = _output_range(a)
        if kind not in _FITS[domain]:
            if explicit:
                raise ValueError(
                    f"{check}: outputs of {_label(act)} ({kind}) don't fit the cost's domain {domain!r}"
                )
            continue
        checked += 1
        y = _targets(rng, a.shape, kind)
        z, a = _away_from_cost_kinks(check, c, act, z, a, y, rng)
        _check_cost_pair(check, c, act, z, a, y)
    if not checked:
        raise ValueError(
            f"{check}: no output activation fits the cost's domain {domain!r}; pass output_activations"
        )


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
        z[near] = _away_from_zero(rng, z[near].shape, 0.01, 2.5)
        a = act.forward(z)
    raise ValueError(
        f"{check}: kink_distance puts every output of {_label(act)} within {KINK_GAP} of a kink "
        f"after {KINK_REDRAWS} draws; pass output_activations whose outputs can avoid them"
    )


def _check_cost_pair(
    check: str, c: Cost, act: Activation, z: np.ndarray, a: np.ndarray, y: np.ndarray
) -> None:
    with_act = f"with {_label(act)} outputs"
    m = len(a)
    for dtype in DTYPES:
        zd, ad, yd = z.astype(dtype), a.astype(dtype), y.astype(dtype)
        name = np.dtype(dtype).name
        before = (ad.copy(), yd.copy())
        v = c.value(ad, yd)
        if not (np.array_equal(ad, before[0]) and np.array_equal(yd, before[1])):
            _fail(
                check,
                f"value changed its input a or y ({name}, {with_act}); plugins must not mutate their inputs",
            )
        if not (np.ndim(v) == 0 and np.isfinite(float(v))):
            _fail(check, f"value returned {v!r} ({name}, {with_act}); expected one finite number")
        _call(check, f"gradient ({with_act})", c.gradient, {"a": ad, "y": yd}, a.shape, dtype)
        _call(
            check,
            f"output_delta ({with_act})",
            lambda z_, a_, y_: c.output_delta(z_, a_, y_, act),
            {"z": zd, "a": ad, "y": yd},
            a.shape,
            dtype,
        )

    v = float(c.value(a, y))
    rows = float(np.mean([float(c.value(a[i : i + 1], y[i : i + 1])) for i in range(m)]))
    if not _error(np.array(v), np.array(rows)) <= 1e-9:
        _fail(
            check,
            f"value(a, y) = {v:.6g} {with_act} but the mean of the per-row values is {rows:.6g}; "
            "value must be the mean over the rows of the per-sample cost",
        )

    h = FD_STEP
    fd = np.empty_like(a)
    for i in np.ndindex(a.shape):
        ap, am = a.copy(), a.copy()
        ap[i] += h
        am[i] -= h
        fd[i] = (
            m * (c.value(ap, y) - c.value(am, y)) / (2 * h)
        )  # value is a mean, C_x a sum over rows
    _assert_close(
        check,
        c.gradient(a, y),
        fd,
        FD_TOL,
        lambda i: f"gradient at a{_idx(i)}={a[i]:.4g} (y={y[i]:.4g}, {with_act})",
        "finite differences of m·value",
    )

    generic = act.backward(z, a, c.gradient(a, y))
    _assert_close(
        check,
        c.output_delta(z, a, y, act),
        generic,
        FUSED_TOL,
        lambda i: f"output_delta at z{_idx(i)}={z[i]:.4g} (a={a[i]:.4g}, y={y[i]:.4g}, {with_act})",
        "the generic path activation.backward(z, a, gradient(a, y)) would",
    )


# -- initializers ----------------------------------------------------------------------------


def _expected(value: Expected, fan_in: int, fan_out: int) -> float | None:
    return value(fan_in, fan_out) if callable(value) else value


def check_initializer(
    initializer: Initializer | type[Initializer],
    *,
    expected_mean: Expected = None,
    expected_var: Expected = None,
    seed: int = 0,
) -> None:
    """Check an initializer against the contract; raise ``AssertionError`` on the first failure.

    * ``weights(fan_in, fan_out, rng)`` is a finite float64 array of shape
      ``(fan_in, fan_out)``, and ``biases(fan_out, rng)`` a finite float
      array of shape ``(fan_out,)``;
    * every draw comes from ``rng``: the same seed gives the same weights;
    * if given, the sample mean and variance of the weights of a 500×200 and a
      200×500 layer (so a fan-in/fan-out mix-up shows) lie within
      ``MOMENT_SIGMAS`` standard errors of ``expected_mean`` / ``expected_var``
      — numbers, or callables of ``(fan_in, fan_out)``.
    """
    init = _instance(initializer, Initializer, "check_initializer")
    check = f"check_initializer({_label(init)})"
    for fan_in, fan_out in ((3, 7), (7, 3), (1, 1), (500, 200), (200, 500)):
        w = init.weights(fan_in, fan_out, np.random.default_rng(seed))
        b = init.biases(fan_out, np.random.default_rng(seed))
        call = f"weights({fan_in}, {fan_out})"
        if not isinstance(w, np.ndarray) or w.shape != (fan_in, fan_out):
            _fail(
                check,
                f"{call} returned {getattr(w, 'shape', type(w).__name__)}, expected shape {(fan_in, fan_out)}",
            )
        if w.dtype != np.float64:
            _fail(
                check,
                f"{call} returned {w.dtype}, expected float64 (the network casts to its dtype)",
            )
        if not np.all(np.isfinite(w)):
            _fail(check, f"{call} returned non-finite values")
        if (
            not isinstance(b, np.ndarray)
            or b.shape != (fan_out,)
            or b.dtype.kind != "f"
            or not np.all(np.isfinite(b))
        ):
            _fail(
                check,
                f"biases({fan_out}) returned {b!r:.80}, expected finite floats of shape {(fan_out,)}",
            )
        if not np.array_equal(w, init.weights(fan_in, fan_out, np.random.default_rng(seed))):
            _fail(
                check,
                f"{call} gave different weights for the same seed; draw only from the rng passed in",
            )
        if w.size >= 10_000:
            _check_moments(
                check,
                call,
                w.ravel(),
                _expected(expected_mean, fan_in, fan_out),
                _expected(expected_var, fan_in, fan_out),
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
            _fail(
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
            _fail(
                check,
                f"sample variance of {call} is {s_var:.6g} but expected {var:.6g} "
                f"(relative error {diff / max(var, 1e-300):.1e}; {off})",
            )


# -- optimizers ------------------------------------------------------------------------------


def _check_state(check: str, state: Any, dtype: Any, when: str) -> None:
    if not isinstance(state, dict):
        _fail(check, f"{when} the state is {type(state).__name__}; expected a dict of numpy arrays")
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, np.ndarray):
            _fail(
                check,
                f"{when} state[{k!r}] is {type(v).__name__}; the state must hold numpy arrays only "
                "(counters come from `step`), so it can be saved with np.savez",
            )
        if v.dtype.kind == "f" and v.dtype != np.dtype(dtype):
            _fail(
                check,
                f"{when} state[{k!r}] is {v.dtype} for a {np.dtype(dtype).name} param; "
                "state arrays must keep the param's dtype",
            )


def check_optimizer(optimizer: Optimizer | type[Optimizer], *, seed: int = 0) -> None:
    """Check an update rule against the contract; raise ``AssertionError`` on the first failure.

    * ``Params`` has a positive ``lr`` (the base rate);
    * ``init(param)`` returns a dict of numpy arrays and leaves ``param`` alone;
    * ``update`` changes ``param`` in place, never changes ``grad``, keeps
      float32 params and state float32 (and float64 float64) and finite;
    * the state survives ``np.savez``/``np.load``: stopping after 3 steps and
      resuming in a fresh copy of the optimizer gives bit-identical params and
      state after 6 steps, as running straight through does;
    * 200 steps at the default lr decrease the convex quadratic
      f(θ) = ½θᵀAθ (A positive definite, eigenvalues in [0.5, 2]).
    """
    opt = _instance(optimizer, Optimizer, "check_optimizer")
    check = f"check_optimizer({_label(opt)})"
    lr = getattr(opt.params, "lr", None)
    if not isinstance(lr, (int, float)) or not lr > 0:
        _fail(check, f"Params must have a positive `lr` field (the base learning rate), got {lr!r}")
    lr = float(lr)
    pristine = copy.deepcopy(opt)
    rng = np.random.default_rng(seed)
    shape = (4, 3)

    for dtype in DTYPES:
        name = np.dtype(dtype).name
        param = rng.standard_normal(shape).astype(dtype)
        start = param.copy()
        o = copy.deepcopy(pristine)
        state = o.init(param)
        if not np.array_equal(param, start):
            _fail(check, f"init changed param ({name}); it must only read it")
        _check_state(check, state, dtype, f"after init ({name})")
        for step in range(1, 6):
            grad = rng.standard_normal(shape).astype(dtype)
            grad_before = grad.copy()
            o.update(param, grad, state, step, lr)
            where = f"after update step {step} ({name})"
            if not np.array_equal(grad, grad_before):
                _fail(check, f"{where}: update changed grad; it may only change param and state")
            if param.dtype != np.dtype(dtype) or not np.all(np.isfinite(param)):
                _fail(check, f"{where}: param is not finite {name}")
            _check_state(check, state, dtype, where)
        if np.array_equal(param, start):
            _fail(
                check,
                f"5 update steps ({name}) left param unchanged; update must change param in place "
                "(`param -= …`, not `param = param - …`)",
            )

    _check_resume(check, pristine, lr, rng)
    _check_descent(check, pristine, lr, rng)


def _run(
    opt: Optimizer,
    param: np.ndarray,
    state: dict,
    grads: list[np.ndarray],
    first_step: int,
    lr: float,
) -> None:
    for k, grad in enumerate(grads):
        opt.update(param, grad, state, first_step + k, lr)


def _check_resume(check: str, pristine: Optimizer, lr: float, rng: np.random.Generator) -> None:
    param0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal(param0.shape) for _ in range(6)]

    straight, p_straight = copy.deepcopy(pristine), param0.copy()
    s_straight = straight.init(p_straight)
    _run(straight, p_straight, s_straight, grads, 1, lr)

    first, p_resumed = copy.deepcopy(pristine), param0.copy()
    state = first.init(p_resumed)
    _run(first, p_resumed, state, grads[:3], 1, lr)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "state.npz")
        np.savez(path, **state)
        with np.load(path) as saved:
            loaded = {k: saved[k] for k in saved.files}
    second = copy.deepcopy(pristine)  # a new process: nothing carried over but the saved state
    _run(second, p_resumed, loaded, grads[3:], 4, lr)

    if not np.array_equal(p_resumed, p_straight):
        diff = float(np.max(np.abs(p_resumed - p_straight)))
        _fail(
            check,
            f"resuming from a state saved with np.savez after step 3 gives a different param after "
            f"step 6 than running straight through (max |difference| {diff:.1e}); keep everything the "
            "rule needs in the state dict, as arrays",
        )
    for k in s_straight:
        if k not in loaded or not np.array_equal(loaded[k], s_straight[k]):
            _fail(
                check,
                f"resuming from a saved state gives a different state[{k!r}] after step 6 "
                "than running straight through",
            )


def _check_descent(
    check: str, pristine: Optimizer, lr: float, rng: np.random.Generator, steps: int = 200
) -> None:
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    A = q @ np.diag(np.linspace(0.5, 2.0, 6)) @ q.T

    def f(theta: np.ndarray) -> float:
        return 0.5 * float(theta.ravel() @ A @ theta.ravel())

    opt, theta = copy.deepcopy(pristine), rng.standard_normal((3, 2))
    f0, state = f(theta), opt.init(theta)
    for step in range(1, steps + 1):
        opt.update(theta, (A @ theta.ravel()).reshape(theta.shape), state, step, lr)
    f1 = f(theta)
    if not (np.isfinite(f1) and f1 < f0):
        _fail(
            check,
            f"{steps} steps at its default lr={lr:g} did not decrease the convex quadratic "
            f"f(θ) = ½θᵀAθ: f went from {f0:.6g} to {f1:.6g}",
        )


# -- regularizers ----------------------------------------------------------------------------


def check_regularizer(
    regularizer: Regularizer | type[Regularizer], *, n: int = 10, seed: int = 0
) -> None:
    """Check a weight penalty against the contract; raise ``AssertionError`` on the first failure.

    * ``penalty(weights, n)`` is one finite number;
    * ``gradient(w, n)`` is ∂penalty/∂w: it matches finite differences of
      ``penalty`` for every weight matrix, at weights away from 0 (where L1
      has its kink);
    * ``gradient`` keeps the shape and dtype (float32 and float64) and neither
      method changes its inputs.

    ``n`` is the training-set size passed to both methods.
    """
    reg = _instance(regularizer, Regularizer, "check_regularizer")
    check = f"check_regularizer({_label(reg)})"
    rng = np.random.default_rng(seed)
    weights = [_away_from_zero(rng, (5, 4), 0.01, 2.0), _away_from_zero(rng, (4, 3), 0.01, 2.0)]

    for dtype in DTYPES:
        ws = [w.astype(dtype) for w in weights]
        before = [w.copy() for w in ws]
        p = reg.penalty(ws, n)
        if not all(np.array_equal(w, b) for w, b in zip(ws, before)):
            _fail(
                check,
                f"penalty changed the weights ({np.dtype(dtype).name}); it must only read them",
            )
        if not (np.ndim(p) == 0 and np.isfinite(float(p))):
            _fail(
                check,
                f"penalty returned {p!r} ({np.dtype(dtype).name}); expected one finite number",
            )
        for w in ws:
            _call(
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
        _assert_close(
            check,
            reg.gradient(w, n),
            fd,
            FD_TOL,
            lambda i, layer=layer, w=w: (
                f"gradient of weights[{layer}] at {_idx(i)} (w={w[i]:.4g}, n={n})"
            ),
            "finite differences of penalty",
        )
