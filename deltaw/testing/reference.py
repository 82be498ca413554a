"""An update rule against its reference: a plain function for one step, or a recorded trajectory.

"Descends on a convex quadratic" is a weak test of an update rule: Adam or
AdaBelief without their bias correction descend too. The reference check
replays :data:`REFERENCE_STEPS` steps of gradients whose scale changes over
time (so running averages and maxima matter) with a rate that changes every
step (as a schedule would; a rule must use the ``lr`` it is given), in
float64, and compares the parameters after every step.

A reference function is written from the paper or the reference
implementation's pseudocode, in plain numpy::

    def adam(param, grad, state, step, lr, beta1, beta2, eps, amsgrad):
        m = state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * grad
        v = state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * grad**2
        if amsgrad:
            v = state["v_max"] = np.maximum(state.get("v_max", 0.0), v)
        m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
        return param - lr * m_hat / (np.sqrt(v_hat) + eps)

``state`` is the reference's own dict (empty at step 1, kept between steps),
``step`` is 1-based and every field of ``Params`` but ``lr`` comes as a
keyword. A :class:`Trajectory` holds what another library computed for one
setting: feed it the inputs of :func:`reference_inputs` and record θ after
every step.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltaw.core.base import Optimizer
from deltaw.testing._common import error, fail, idx

__all__ = ["REFERENCE_STEPS", "REFERENCE_TOL", "Trajectory", "reference_inputs"]

REFERENCE_STEPS = 25
REFERENCE_TOL = 1e-10  # float64, the same math in another order: only rounding differs


@dataclass
class Trajectory:
    """An update rule's run recorded elsewhere (PyTorch, optax, the paper's code).

    ``thetas[t]`` is the parameter after step ``t + 1``, starting from
    ``theta0`` with gradient ``grads[t]`` and rate ``lrs[t]``; ``params`` are
    the rule's parameters it was recorded with (keyword arguments of the
    class; ignored when the check is given an instance).
    """

    theta0: np.ndarray
    grads: Sequence[np.ndarray]
    lrs: Sequence[float]
    thetas: Sequence[np.ndarray]
    params: Mapping[str, Any] = field(default_factory=dict)


Reference = Callable[..., np.ndarray] | Trajectory | Sequence[Trajectory]


def reference_inputs(
    shape: tuple[int, ...] = (4, 3), steps: int = REFERENCE_STEPS, lr: float = 1e-3, seed: int = 0
) -> tuple[np.ndarray, list[np.ndarray], list[float]]:
    """``(theta0, grads, lrs)``: the inputs the reference check replays, to record a trajectory.

    Gradients are standard normal times a scale e^u, u uniform in [−2, 1],
    drawn anew every step; the rate of step t is ``lr`` times a factor uniform
    in [0.5, 1.5].
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    theta0 = rng.standard_normal(shape)
    scales = np.exp(rng.uniform(-2.0, 1.0, steps))
    grads = [s * rng.standard_normal(shape) for s in scales]
    lrs = [float(lr * f) for f in rng.uniform(0.5, 1.5, steps)]
    return theta0, grads, lrs


def check_reference(check: str, opt: Optimizer, reference: Reference, seed: int) -> None:
    """Replay the steps on ``opt`` (float64) and compare θ after each with the reference's."""
    if isinstance(reference, Trajectory):
        reference = [reference]
    if not callable(reference):
        for k, trajectory in enumerate(reference):
            rule = opt if not trajectory.params else type(opt)(**trajectory.params)
            where = (
                f"trajectory {k + 1} of {len(reference)}" if len(reference) > 1 else "trajectory"
            )
            _compare(
                check,
                rule,
                np.asarray(trajectory.theta0, np.float64),
                [np.asarray(g, np.float64) for g in trajectory.grads],
                [float(lr) for lr in trajectory.lrs],
                [np.asarray(t, np.float64) for t in trajectory.thetas],
                f"the recorded {where}",
            )
        return
    lr = float(getattr(opt.params, "lr", 1e-3))
    theta0, grads, lrs = reference_inputs(lr=lr, seed=seed)
    kwargs = {k: v for k, v in opt.params.model_dump().items() if k != "lr"}
    theta, state, expected = theta0.copy(), {}, []
    for step, (g, rate) in enumerate(zip(grads, lrs), start=1):
        theta = np.asarray(reference(theta.copy(), g.copy(), state, step, rate, **kwargs))
        expected.append(theta.copy())
    _compare(check, opt, theta0, grads, lrs, expected, "the reference")


def _compare(
    check: str,
    opt: Optimizer,
    theta0: np.ndarray,
    grads: list[np.ndarray],
    lrs: list[float],
    expected: list[np.ndarray],
    against: str,
) -> None:
    if not (len(grads) == len(lrs) == len(expected)):
        raise ValueError(
            f"{check}: {against} has {len(grads)} gradients, {len(lrs)} rates and "
            f"{len(expected)} parameters; it needs one of each per step"
        )
    rule = copy.deepcopy(opt)
    theta = theta0.copy()
    states = [rule.init(theta)]
    for step, (g, lr, want) in enumerate(zip(grads, lrs, expected), start=1):
        rule.update_all([theta], [g.copy()], states, step, [lr])
        if want.shape != theta.shape:
            raise ValueError(
                f"{check}: {against} gives shape {want.shape} at step {step}, "
                f"the parameter has {theta.shape}"
            )
        err = error(theta, want)
        i = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        if not err[i] <= REFERENCE_TOL:
            fail(
                check,
                f"step {step} of {len(grads)} strays from {against}: param{idx(i)} is "
                f"{theta[i]:.10g} but {against} gives {want[i]:.10g} (relative error "
                f"{err[i]:.1e}, tolerance {REFERENCE_TOL:.0e}; float64, random gradients of "
                "changing scale, lr changing every step)",
            )
