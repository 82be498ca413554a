"""``check_executor``: every job runs once, results pair with their jobs, failures are results."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from deltaw.core.base import Executor
from deltaw.testing._common import Settings, fail, instances

__all__ = ["check_executor", "kit_job"]

JOBS = 7
FAILING = {2, 5}  # these jobs raise


def kit_job(job: tuple[str, int]) -> int:
    """The check's job (module level, so a worker process can import it): ``i²``, or raise.

    Leaves one marker file per call in the job's folder, so the check can
    count how often each job ran, in whichever process it ran.
    """
    folder, i = job
    Path(folder, f"{i}.{os.getpid()}.{uuid.uuid4().hex}").touch()
    if i in FAILING:
        raise ValueError(f"job {i} fails on purpose")
    return i * i


def check_executor(
    executor: Executor | type[Executor],
    *,
    workers: tuple[int, ...] = (1, 2),
    settings: Settings = None,
) -> None:
    """Check a sweep executor against the contract; raise ``AssertionError`` on the first failure.

    ``run(fn, jobs, workers)`` with a module-level ``fn`` and plain-data jobs
    (picklable, as a sweep's are), for each number of ``workers``:

    * yields one ``(job, result)`` pair per job, the job as given (jobs may
      finish in any order);
    * every job runs exactly once (each call leaves a marker file);
    * a job that raises yields its exception as the result — a
      ``ValueError`` with its message — and the other jobs still run;
    * no jobs: nothing is yielded, nothing fails.

    ``executor`` is an instance, or a class checked at several settings of its
    ``Params`` (``settings``: see :func:`deltaw.testing.param_settings`).
    """
    for ex, check in instances(executor, Executor, "check_executor", settings):
        for n in workers:
            _check_one(ex, check, n)


def _check_one(ex: Executor, check: str, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(tmp, i) for i in range(JOBS)]
        given = list(jobs)
        pairs = list(ex.run(kit_job, jobs, workers))
        where = f"with workers={workers}"
        if jobs != given:
            fail(check, f"run changed the list of jobs ({where})")
        if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            fail(check, f"run yielded {pairs[:3]!r}…; expected (job, result) pairs ({where})")
        seen = sorted(job[1] for job, _ in pairs if isinstance(job, tuple) and len(job) == 2)
        if seen != list(range(JOBS)):
            fail(
                check,
                f"run yielded results for jobs {seen} of {list(range(JOBS))} ({where}); "
                "expected one pair per job, with the job as given",
            )
        runs: dict[int, int] = {}
        for marker in os.listdir(tmp):
            i = int(marker.split(".")[0])
            runs[i] = runs.get(i, 0) + 1
        for i in range(JOBS):
            if runs.get(i, 0) != 1:
                fail(
                    check,
                    f"job {i} ran {runs.get(i, 0)} times ({where}); every job must run "
                    "exactly once",
                )
        for job, result in pairs:
            _check_result(check, job, result, where)
        if list(ex.run(kit_job, [], workers)):
            fail(check, f"run yielded something for an empty list of jobs ({where})")


def _check_result(check: str, job: Any, result: Any, where: str) -> None:
    i = job[1]
    if i in FAILING:
        if not isinstance(result, ValueError) or f"job {i} fails on purpose" not in str(result):
            fail(
                check,
                f"job {i} raised ValueError('job {i} fails on purpose') but its result is "
                f"{result!r} ({where}); a failing job's result is the exception it raised",
            )
    elif result != i * i:
        fail(check, f"job {i} returned {i * i} but its result is {result!r} ({where})")
