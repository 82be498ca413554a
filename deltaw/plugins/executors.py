"""Built-in executors: what runs a sweep's trials. Registered like any plugin.

``run(fn, jobs, workers)`` calls ``fn(job)`` for every job and yields
``(job, result)`` pairs as jobs finish, where ``result`` is what ``fn``
returned or the exception it raised: one failing job never stops the
others. ``fn`` and the jobs must be picklable (a module-level function and
plain data), so that an executor may run them anywhere. A distributed
executor (Ray, Dask, a batch queue) is a plugin implementing the same
method; the sweep logic does not change.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import deltaw

BLAS_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


class Serial(deltaw.Executor):
    """One job after another, in this process.

    Simplest and easiest to debug (a breakpoint in a plugin works); ``workers``
    is ignored. No parameters.
    """

    def run(
        self, fn: Callable[[Any], Any], jobs: list[Any], workers: int
    ) -> Iterator[tuple[Any, Any]]:
        for job in jobs:
            try:
                result = fn(job)
            except Exception as exc:  # noqa: BLE001 - recorded, and the other jobs go on
                result = exc
            yield job, result


class Local(deltaw.Executor):
    """Jobs in parallel worker processes on this machine (``concurrent.futures.ProcessPoolExecutor``).

    ``workers`` processes (default: the number of CPU cores, never more than
    the number of jobs). Workers start with the ``spawn`` method by default,
    so nothing of the parent's state leaks in, and, while more than one runs,
    each limits its BLAS library to ``blas_threads`` threads so that N workers
    do not fight over the cores (set it to null to leave BLAS alone).
    Ctrl-C reaches every worker: each trial keeps its checkpoint, and the
    jobs not yet started are cancelled.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        start_method: Literal["spawn", "forkserver", "fork"] = Field(
            "spawn", description="How worker processes start (multiprocessing start method)."
        )
        blas_threads: int | None = Field(
            1,
            ge=1,
            description="BLAS threads per worker when several run at once; null: unchanged.",
        )

    def run(
        self, fn: Callable[[Any], Any], jobs: list[Any], workers: int
    ) -> Iterator[tuple[Any, Any]]:
        if not jobs:
            return
        workers = max(1, min(int(workers or os.cpu_count() or 1), len(jobs)))
        context = multiprocessing.get_context(self.params.start_method)
        threads = self.params.blas_threads if workers > 1 else None
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            with _environment({v: str(threads) for v in BLAS_ENV} if threads else {}):
                pending: dict[Future[Any], Any] = {pool.submit(fn, job): job for job in jobs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    try:
                        result = future.result()
                    except BaseException as exc:  # noqa: BLE001 - a crashed worker is this job's result
                        result = exc
                    yield job, result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables (for the workers about to start) unless the user already set them."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@deltaw.hookimpl
def register_executors(register: Any) -> None:
    register("local", Local)
    register("serial", Serial)
