"""Built-in executors: what runs a sweep's trials. Registered like any plugin.

``run(fn, jobs, workers)`` calls ``fn(job)`` for every job and yields
``(job, result)`` pairs as jobs finish, where ``result`` is what ``fn``
returned or the exception it raised: one failing job never stops the
others. ``fn`` and the jobs are picklable (a module-level function and plain
data), so an executor may run them anywhere. Jobs may come from a generator:
at most ``workers`` are in flight, and the next is taken only after the
result that freed its slot was handed on (:func:`stream`, the one futures
loop of ``local`` and ``dask``). Each executor offers a trial-event channel
(:mod:`deltaw.core.channel`): ``serial`` direct calls, ``local`` a
multiprocessing manager, ``dask`` the cluster's queues and variables.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing.managers import SyncManager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import deltaw
from deltaw.core.channel import (
    ALL,
    PUMP_SECONDS,
    InProcessChannel,
    TrialChannel,
    TrialEndpoint,
    stop_reason,
)
from deltaw.workers import ignore_sigint, init_worker

Pending = dict[Any, Any]  # future → job
_END = object()


def stream(
    submit: Callable[[Any], Any],
    jobs: Iterable[Any],
    workers: int,
    *,
    channel: TrialChannel,
    wait_first: Callable[[Pending, float], set[Any]] | None = None,
    abandon: Callable[[Pending], None] | None = None,
) -> Iterator[tuple[Any, Any]]:
    """Submit jobs, at most ``workers`` in flight; yield ``(job, result or exception)`` as they end.

    ``submit(job)`` returns a future; ``wait_first(pending, timeout)`` returns the
    futures done within ``timeout`` seconds (``concurrent.futures.wait`` by
    default). The channel is pumped every :data:`PUMP_SECONDS`. Once the channel
    is stopping (every trial asked to stop) no job is taken any more. The first
    Ctrl-C asks every trial to stop (they end with a checkpoint) and the loop
    goes on collecting their results, then raises KeyboardInterrupt; a second
    Ctrl-C leaves at once. Futures still pending when the loop is left are
    handed to ``abandon`` (default: cancelled).
    """
    wait_first = wait_first or _wait_first
    it = iter(jobs)
    pending: Pending = {}
    interrupted = False
    try:
        while True:
            done: set[Any] = set()
            try:
                while not channel.stopping and len(pending) < workers:
                    job = next(it, _END)
                    if job is _END:
                        break
                    try:
                        pending[submit(job)] = job
                    except Exception as exc:  # noqa: BLE001 - this job's result
                        yield job, exc
                if not pending:
                    break
                done = wait_first(pending, PUMP_SECONDS)
                channel.pump()
            except KeyboardInterrupt:
                if interrupted or channel.stopping:  # asked again: leave now
                    raise
                interrupted = True
                channel.request_stop(None, "interrupt")
            for future in done:
                yield pending.pop(future), _outcome(future)
        if interrupted:
            raise KeyboardInterrupt
    finally:
        if pending:
            (abandon or _cancel_all)(pending)


def _wait_first(pending: Pending, timeout: float) -> set[Any]:
    done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
    return set(done)


def _outcome(future: Any) -> Any:
    try:
        return future.result()
    except BaseException as exc:  # noqa: BLE001 - a crashed worker is this job's result
        return exc


def _cancel_all(pending: Pending) -> None:
    for future in pending:
        future.cancel()


class Serial(deltaw.Executor):
    """One job after another, in this process.

    Simplest and easiest to debug (a breakpoint in a plugin works); ``workers``
    is ignored. No parameters.
    """

    streams = True

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._channel: TrialChannel = TrialChannel()

    def channel(self) -> TrialChannel:
        self._channel = InProcessChannel()
        return self._channel

    def run(
        self, fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int
    ) -> Iterator[tuple[Any, Any]]:
        for job in jobs:
            if self._channel.stopping:
                return
            try:
                result = fn(job)
            except Exception as exc:  # noqa: BLE001 - recorded, and the other jobs go on
                result = exc
            yield job, result


class Local(deltaw.Executor):
    """Jobs in parallel worker processes on this machine (\
``concurrent.futures.ProcessPoolExecutor``).

    ``workers`` processes (default: the number of CPU cores, never more than
    the number of jobs). Workers start with the ``spawn`` method by default,
    so nothing of the parent's state leaks in, and, while more than one runs,
    each limits its BLAS library to ``blas_threads`` threads (set in the
    worker before numpy loads) so that N workers do not fight over the cores
    (null: leave BLAS alone). Ctrl-C stops every running trial at once with
    its last checkpoint; jobs not started are not started.
    """

    streams = True

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

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._channel: TrialChannel = TrialChannel()

    def channel(self) -> TrialChannel:
        self._channel = ManagerChannel(multiprocessing.get_context(self.params.start_method))
        return self._channel

    def close(self) -> None:
        self._channel.close()

    def run(
        self, fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int
    ) -> Iterator[tuple[Any, Any]]:
        workers = max(1, int(workers or os.cpu_count() or 1))
        if isinstance(jobs, (list, tuple)):
            if not jobs:
                return
            workers = min(workers, len(jobs))
        threads = self.params.blas_threads if workers > 1 else None
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(self.params.start_method),
            initializer=init_worker,
            initargs=(threads,),
        )
        channel = self._channel
        if isinstance(channel, ManagerChannel):
            channel.pids = lambda: list(getattr(pool, "_processes", None) or {})
        try:
            yield from stream(lambda job: pool.submit(fn, job), jobs, workers, channel=channel)
        finally:
            try:
                pool.shutdown(wait=True, cancel_futures=True)
            except KeyboardInterrupt:  # Ctrl-C again while trials write their state: stop now
                _terminate(pool)
                raise


def _terminate(pool: ProcessPoolExecutor) -> None:
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


class ManagerChannel(TrialChannel):
    """Trial events of worker processes on this machine, through a multiprocessing manager.

    Events go through a managed queue, stop requests through a managed dict;
    the manager process ignores Ctrl-C so it outlives the trials' last words.
    Asking every trial to stop also sends SIGINT to the worker processes
    (``pids``): a training trial stops at once with its last checkpoint.
    """

    def __init__(self, context: Any) -> None:
        super().__init__()
        self.manager = SyncManager(ctx=context)
        self.manager.start(ignore_sigint)
        self.events = self.manager.Queue()
        self.shared = self.manager.dict()
        self.pids: Callable[[], list[int]] = list

    def endpoint(self) -> TrialEndpoint:
        return ManagerEndpoint(self.events, self.shared)

    def request_stop(self, index: int | None, reason: str) -> None:
        first = index is None and not self.stopping
        super().request_stop(index, reason)
        with contextlib.suppress(Exception):
            self.shared[ALL if index is None else str(index)] = reason
        if first and reason == "interrupt" and hasattr(signal, "SIGINT"):
            for pid in self.pids():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGINT)

    def pump(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except (queue.Empty, EOFError, OSError):
                return
            self.deliver(event)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.pump()
        with contextlib.suppress(Exception):
            self.manager.shutdown()


class ManagerEndpoint(TrialEndpoint):
    """A trial's side of :class:`ManagerChannel` (proxies of the managed queue and dict)."""

    def __init__(self, events: Any, shared: Any) -> None:
        self.events, self.shared = events, shared

    def report(self, event: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            self.events.put(event)

    def stop_requested(self, index: int) -> str | None:
        try:
            return stop_reason(self.shared, index)
        except Exception:  # noqa: BLE001 - the driver is gone: stop with a checkpoint
            return "interrupt"


@deltaw.hookimpl
def register_executors(register: Any) -> None:
    register("local", Local)
    register("serial", Serial)
