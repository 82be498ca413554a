"""check_executor and check_transform: every built-in passes; broken ones are named."""

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

import deltaw
from deltaw.plugins.executors import Local, Serial
from deltaw.plugins.transforms import AddNoise, ClipGlobalNorm, Lookahead
from deltaw.registry import Registry
from deltaw.testing import check_executor, check_transform


def builtin_entries(kind):
    reg = Registry()
    reg.load_builtins()
    return reg.entries(kind)


# -- executors ---------------------------------------------------------------------------------


def test_serial_passes():
    check_executor(Serial)


@pytest.mark.slow
def test_local_passes_with_every_start_method():
    check_executor(Local, workers=(2,))  # four settings: spawn, forkserver, fork, spawn


def test_local_passes_with_fork_and_one_or_two_workers():
    check_executor(Local(start_method="fork"))


class StopsAtTheFirstFailure(Serial):
    def run(self, fn, jobs, workers):
        for job in jobs:
            try:
                result = fn(job)
            except Exception as exc:  # noqa: BLE001
                yield job, exc
                return
            yield job, result


class Retries(Serial):
    def run(self, fn, jobs, workers):
        for job in jobs:
            try:
                result = fn(job)
            except Exception:  # noqa: BLE001 - one retry, then the error
                try:
                    result = fn(job)
                except Exception as exc:  # noqa: BLE001
                    result = exc
            yield job, result


class Raises(Serial):
    def run(self, fn, jobs, workers):
        for job in jobs:
            yield job, fn(job)


class Stringly(Serial):
    def run(self, fn, jobs, workers):
        for job, result in super().run(fn, jobs, workers):
            yield job, (repr(result) if isinstance(result, Exception) else result)


class IndexOnly(Serial):
    def run(self, fn, jobs, workers):
        for i, (_job, result) in enumerate(super().run(fn, jobs, workers)):
            yield i, result


@pytest.mark.parametrize(
    ("cls", "pattern"),
    [
        (StopsAtTheFirstFailure, r"run yielded results for jobs \[0, 1, 2\] of \[0, 1, .*6\]"),
        (Retries, r"job 2 ran 2 times \(with workers=1\); every job must run exactly once"),
        (Stringly, r"job 2 raised ValueError\('job 2 fails on purpose'\) but its result is \"Val"),
        (IndexOnly, r"run yielded results for jobs \[\] of"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_broken_executor_is_named_by_the_check_it_fails(cls, pattern):
    with pytest.raises(AssertionError, match=rf"^check_executor\({cls.__name__}\): {pattern}"):
        check_executor(cls)


def test_an_executor_that_lets_a_job_error_escape_fails_loudly():
    with pytest.raises(ValueError, match="job 2 fails on purpose"):
        check_executor(Raises)


# -- transforms --------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", builtin_entries("transform"), ids=lambda e: e.name)
def test_every_builtin_transform_passes_at_several_settings(entry):
    check_transform(entry.cls)


class Upcasts(ClipGlobalNorm):
    def apply_all(self, grads, states, params, step):
        return [g.astype(np.float64) for g in super().apply_all(grads, states, params, step)]


class TouchesParams(deltaw.Transform):
    def apply(self, grad, state, param, step):
        param *= 0.999  # decay belongs after the update (acts_on = "params")
        return grad


class FreshNoise(AddNoise):
    def apply_all(self, grads, states, params, step):
        rng = np.random.default_rng()  # not from the seed and the step
        return [g + rng.standard_normal(g.shape).astype(g.dtype) for g in grads]


class HiddenCounter(deltaw.Transform):
    """Averages the gradient with the previous one, kept on the object, not in the state."""

    def __init__(self, params=None, **kwargs):
        super().__init__(params, **kwargs)
        self.previous = {}

    def apply(self, grad, state, param, step):
        last = self.previous.get(grad.shape)
        self.previous[grad.shape] = grad.copy()
        return grad if last is None else 0.5 * (grad + last)


class Float64Slow(Lookahead):
    def init(self, param):
        return {"slow": param.astype(np.float64)}


class Nothing(deltaw.Transform):
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        k: int = Field(1, ge=1)


@pytest.mark.parametrize(
    ("transform", "pattern"),
    [
        (Upcasts(max_norm=1.0), r"apply returned float64 of shape \(4, 3\) for a float32 gradient"),
        (TouchesParams(), r"apply changed a param at step 1 \(float64\); params are read-only"),
        (FreshNoise(), r"two fresh copies give different numbers for the same inputs \(float64\)"),
        (HiddenCounter(), r"resuming from a state saved with np.savez after step 3 gives a diff"),
        (Float64Slow(), r"after init \(float32\) state\['slow'\] is float64 for a float32 param"),
        (Nothing(), r"acts_on = 'gradient' but implements none of apply, apply_all"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_a_broken_transform_is_named_by_the_check_it_fails(transform, pattern):
    with pytest.raises(
        AssertionError, match=rf"^check_transform\({type(transform).__name__}.*\): {pattern}"
    ):
        check_transform(transform)
