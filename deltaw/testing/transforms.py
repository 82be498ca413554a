"""``check_transform``: a chain link's state and dtype, its determinism and resume, in a chain."""

from __future__ import annotations

import copy

import numpy as np

from deltaw.core.base import Transform, overrides
from deltaw.core.chain import Chain
from deltaw.testing._common import DTYPES, Settings, fail, instances
from deltaw.testing.optimizers import SHAPES, check_state, resume_gives_the_same

__all__ = ["check_transform"]

STEPS = 6


def check_transform(
    transform: Transform | type[Transform], *, seed: int = 0, settings: Settings = None
) -> None:
    """Check a transform (a link of an optimizer chain) against the contract.

    Raise ``AssertionError`` on the first failure. On a W and its b, as the
    chain calls it (``apply_all`` before the update rule, or
    ``after_update_all`` after it for ``acts_on = "params"``), in float64 and
    float32:

    * ``acts_on`` is "gradient" or "params" and the matching method is
      implemented;
    * ``init(param)`` returns a dict of arrays in the param's dtype and leaves
      ``param`` alone;
    * a gradient transform returns one array per gradient, of its shape and
      dtype, finite, and leaves the params alone; a parameter transform keeps
      the params finite and in their dtype; the state keeps its dtype;
    * two fresh copies give the same numbers (randomness from a seed and the
      step only);
    * in a :class:`deltaw.Chain` with SGD, saving the state with ``np.savez``
      after 3 steps and resuming in a fresh copy gives bit-identical params
      and state after 6 steps, as running straight through does.

    ``transform`` is an instance, or a class checked at several settings of
    its ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    for t, check in instances(transform, Transform, "check_transform", settings):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _check_one(t, check, seed)


def _check_one(t: Transform, check: str, seed: int) -> None:
    if t.acts_on not in ("gradient", "params"):
        fail(check, f"acts_on is {t.acts_on!r}; use 'gradient' or 'params'")
    methods = (
        ("apply", "apply_all") if t.acts_on == "gradient" else ("after_update", "after_update_all")
    )
    if not any(overrides(t, Transform, m) for m in methods):
        fail(
            check,
            f"acts_on = {t.acts_on!r} but implements none of {', '.join(methods)}; the chain "
            f"calls {methods[-1]}",
        )
    for dtype in DTYPES:
        first = _steps(check, copy.deepcopy(t), dtype, seed)
        second = _steps(check, copy.deepcopy(t), dtype, seed)
        if not all(np.array_equal(a, b) for a, b in zip(first, second)):
            fail(
                check,
                f"two fresh copies give different numbers for the same inputs "
                f"({np.dtype(dtype).name}); draw randomness from a seed and the step only",
            )
    rule = Chain([t, _sgd()]) if t.acts_on == "gradient" else Chain([_sgd(), t])
    resume_gives_the_same(check, rule, 0.01, np.random.default_rng(seed))


def _sgd():
    from deltaw.plugins.optimizers import SGD

    return SGD(lr=0.01)


def _steps(check: str, t: Transform, dtype, seed: int) -> list[np.ndarray]:
    """Six steps on a W and its b in ``dtype``; every output and param, in order."""
    name = np.dtype(dtype).name
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    start = [p.copy() for p in params]
    states = [t.init(p) for p in params]
    if not all(np.array_equal(p, s) for p, s in zip(params, start)):
        fail(check, f"init changed param ({name}); it must only read it")
    for state in states:
        check_state(check, state, dtype, f"after init ({name})")
    out: list[np.ndarray] = []
    for step in range(1, STEPS + 1):
        grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        where = f"at step {step} ({name})"
        if t.acts_on == "gradient":
            before = [p.copy() for p in params]
            got = t.apply_all([g.copy() for g in grads], states, params, step)
            if not all(np.array_equal(p, b) for p, b in zip(params, before)):
                fail(check, f"apply changed a param {where}; params are read-only to it")
            if not isinstance(got, (list, tuple)) or len(got) != len(grads):
                fail(check, f"apply_all returned {type(got).__name__} {where}; expected a list")
            for g, new in zip(grads, got):
                if not isinstance(new, np.ndarray) or new.shape != g.shape or new.dtype != g.dtype:
                    fail(
                        check,
                        f"apply returned {getattr(new, 'dtype', type(new).__name__)} of shape "
                        f"{getattr(new, 'shape', '?')} for a {g.dtype} gradient of shape "
                        f"{g.shape} {where}; keep the gradient's shape and dtype",
                    )
                if not np.all(np.isfinite(new)):
                    fail(check, f"apply returned non-finite values {where}")
                out.append(new.copy())
        else:
            for p, g in zip(params, grads):
                p -= 0.01 * g  # the update rule's step, before the link
            t.after_update_all(params, states, step)
            for p in params:
                if p.dtype != np.dtype(dtype) or not np.all(np.isfinite(p)):
                    fail(check, f"after_update left a param that is not finite {name} {where}")
                out.append(p.copy())
        for state in states:
            check_state(check, state, dtype, where)
    return out
