"""``check_optimizer``: state, dtype, resume, descent — and, given one, a reference rule."""

from __future__ import annotations

import copy
import os
import tempfile
from typing import Any

import numpy as np

from deltaw.core.base import Optimizer
from deltaw.testing._common import DTYPES, Settings, fail, instances
from deltaw.testing.reference import Reference, check_reference

__all__ = ["check_optimizer", "check_state", "resume_gives_the_same"]

SHAPES = ((4, 3), (3,))  # a W and its b: the trainer hands every array of a step at once


def check_state(check: str, state: Any, dtype: Any, when: str) -> None:
    """A state is a dict of numpy arrays, floating ones in the param's dtype."""
    if not isinstance(state, dict):
        fail(check, f"{when} the state is {type(state).__name__}; expected a dict of numpy arrays")
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, np.ndarray):
            fail(
                check,
                f"{when} state[{k!r}] is {type(v).__name__}; the state must hold numpy arrays "
                "only (counters come from `step`), so it can be saved with np.savez",
            )
        if v.dtype.kind == "f" and v.dtype != np.dtype(dtype):
            fail(
                check,
                f"{when} state[{k!r}] is {v.dtype} for a {np.dtype(dtype).name} param; "
                "state arrays must keep the param's dtype",
            )


def check_optimizer(
    optimizer: Optimizer | type[Optimizer],
    *,
    seed: int = 0,
    settings: Settings = None,
    reference: Reference | None = None,
) -> None:
    """Check an update rule against the contract; raise ``AssertionError`` on the first failure.

    * ``Params`` has a positive ``lr`` (the base rate);
    * ``init(param)`` returns a dict of numpy arrays and leaves ``param`` alone;
    * ``update_all`` (what the trainer calls; by default ``update`` array by
      array) changes the params in place, never changes a ``grad``, keeps
      float32 params and state float32 (and float64 float64) and finite;
    * the state survives ``np.savez``/``np.load``: stopping after 3 steps and
      resuming in a fresh copy of the optimizer gives bit-identical params and
      state after 6 steps, as running straight through does;
    * 200 steps at the setting's lr decrease the convex quadratic
      f(θ) = ½θᵀAθ (A positive definite, eigenvalues in [0.5, 2], scaled down
      by 0.5/lr when lr > 0.5 so that plain SGD would converge);
    * with a ``reference`` — a plain function for one step,
      ``reference(param, grad, state, step, lr, **params) -> new param``, or a
      recorded :class:`~deltaw.testing.Trajectory` (or a list of them) — 25
      steps of random gradients and changing rates, in float64, follow it to
      a relative error of 1e-10 at every setting; the message names the first
      step that strays. Descending is not enough: Adam without its bias
      correction descends too.

    ``optimizer`` is an instance, or a class checked at several settings of
    its ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    for opt, check in instances(optimizer, Optimizer, "check_optimizer", settings):
        # an overflow shows as a non-finite param in the check's own message, not as a warning
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _check_one(opt, check, seed)
            if reference is not None:
                check_reference(check, opt, reference, seed)


def _check_one(opt: Optimizer, check: str, seed: int) -> None:
    lr = getattr(opt.params, "lr", None)
    if not isinstance(lr, (int, float)) or not lr > 0:
        fail(check, f"Params must have a positive `lr` field (the base learning rate), got {lr!r}")
    lr = float(lr)
    pristine = copy.deepcopy(opt)
    rng = np.random.default_rng(seed)

    for dtype in DTYPES:
        name = np.dtype(dtype).name
        params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        start = [p.copy() for p in params]
        o = copy.deepcopy(pristine)
        states = [o.init(p) for p in params]
        if not all(np.array_equal(p, s) for p, s in zip(params, start)):
            fail(check, f"init changed param ({name}); it must only read it")
        for state in states:
            check_state(check, state, dtype, f"after init ({name})")
        for step in range(1, 6):
            grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
            before = [g.copy() for g in grads]
            o.update_all(params, grads, states, step, [lr] * len(params))
            where = f"after update step {step} ({name})"
            if not all(np.array_equal(g, b) for g, b in zip(grads, before)):
                fail(check, f"{where}: update changed grad; it may only change param and state")
            for p, state in zip(params, states):
                if p.dtype != np.dtype(dtype) or not np.all(np.isfinite(p)):
                    fail(check, f"{where}: param is not finite {name}")
                check_state(check, state, dtype, where)
        if any(np.array_equal(p, s) for p, s in zip(params, start)):
            fail(
                check,
                f"5 update steps ({name}) left param unchanged; update must change param in "
                "place (`param -= …`, not `param = param - …`)",
            )

    resume_gives_the_same(check, pristine, lr, rng)
    _check_descent(check, pristine, lr, rng)


def _run(
    opt: Optimizer,
    params: list[np.ndarray],
    states: list[dict],
    grads: list[list[np.ndarray]],
    first_step: int,
    lr: float,
) -> None:
    for k, step_grads in enumerate(grads):
        opt.update_all(params, step_grads, states, first_step + k, [lr] * len(params))


def _saved(states: list[dict]) -> list[dict]:
    """``states`` after a round trip through ``np.savez``/``np.load``, as a checkpoint does."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, state in enumerate(states):
            path = os.path.join(tmp, f"state{i}.npz")
            np.savez(path, **state)
            with np.load(path) as saved:
                out.append({k: saved[k] for k in saved.files})
    return out


def resume_gives_the_same(
    check: str, pristine: Optimizer, lr: float, rng: np.random.Generator
) -> None:
    params0 = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(6)]

    straight, p_straight = copy.deepcopy(pristine), [p.copy() for p in params0]
    s_straight = [straight.init(p) for p in p_straight]
    _run(straight, p_straight, s_straight, grads, 1, lr)

    first, p_resumed = copy.deepcopy(pristine), [p.copy() for p in params0]
    states = [first.init(p) for p in p_resumed]
    _run(first, p_resumed, states, grads[:3], 1, lr)
    loaded = _saved(states)
    second = copy.deepcopy(pristine)  # a new process: nothing carried over but the saved state
    _run(second, p_resumed, loaded, grads[3:], 4, lr)

    for p, q in zip(p_resumed, p_straight):
        if not np.array_equal(p, q):
            diff = float(np.max(np.abs(p - q)))
            fail(
                check,
                "resuming from a state saved with np.savez after step 3 gives a different param "
                f"after step 6 than running straight through (max |difference| {diff:.1e}); "
                "keep everything the rule needs in the state dict, as arrays",
            )
    for got, want in zip(loaded, s_straight):
        for k in want:
            if k not in got or not np.array_equal(got[k], want[k]):
                fail(
                    check,
                    f"resuming from a saved state gives a different state[{k!r}] after step 6 "
                    "than running straight through",
                )


def _check_descent(
    check: str, pristine: Optimizer, lr: float, rng: np.random.Generator, steps: int = 200
) -> None:
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    c = min(1.0, 0.5 / lr)  # curvature scaled so that lr·λ ≤ 1: plain SGD descends at any lr
    A = q @ np.diag(c * np.linspace(0.5, 2.0, 6)) @ q.T

    def f(theta: np.ndarray) -> float:
        return 0.5 * float(theta.ravel() @ A @ theta.ravel())

    opt, theta = copy.deepcopy(pristine), rng.standard_normal((3, 2))
    f0, states = f(theta), [opt.init(theta)]
    for step in range(1, steps + 1):
        grad = (A @ theta.ravel()).reshape(theta.shape)  # ∇f = Aθ
        opt.update_all([theta], [grad], states, step, [lr])
    f1 = f(theta)
    if not (np.isfinite(f1) and f1 < f0):
        fail(
            check,
            f"{steps} steps at lr={lr:g} did not decrease the convex quadratic "
            f"f(θ) = ½θᵀAθ: f went from {f0:.6g} to {f1:.6g}",
        )
