"""The ``dask`` executor: trials on a Dask distributed cluster (optional extra ``deltaw[dask]``).

Nothing of Dask is imported until a sweep starts, so ``deltaw`` works without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

import deltaw
from deltaw.core.channel import TrialChannel, TrialEndpoint, stop_reason
from deltaw.errors import DeltawError, PluginError
from deltaw.plugins.executors import Pending, stream

INSTALL = "pip install 'deltaw[dask]'"
FETCH_SECONDS = 120.0
TIMEOUTS = (TimeoutError, asyncio.TimeoutError)  # one class from Python 3.11 on


def import_distributed() -> Any:
    """The ``distributed`` module, or an error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise PluginError(
            f"executor 'dask' needs Dask distributed, which is not installed: {INSTALL}"
        ) from None
    return distributed


class Dask(deltaw.Executor):
    """Trials on a Dask cluster: a LocalCluster here, or any cluster by its scheduler's address.

    Without ``address`` or ``scheduler_file``: a LocalCluster of ``workers``
    processes with one thread each, on 127.0.0.1, no dashboard. With one of
    them: that scheduler's cluster (``dask scheduler`` + ``dask worker``, SSH,
    SLURM through dask-jobqueue, Kubernetes). A job holds the spec's text and
    overrides, never a path of this machine. ``results: return`` (the default
    for a remote cluster) runs each trial in a temporary folder on its worker
    and ships the run folder back, its checkpoint after every epoch, so no
    shared file system is needed; ``shared`` (the default for a LocalCluster)
    writes into the sweep folder, which every worker must see at the same
    path. Every worker must have deltaw and each plugin distribution the spec
    uses at the driver's versions. Ctrl-C stops running trials at their next
    epoch end with a checkpoint; trials not started do not start.
    """

    streams = True

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        address: str | None = Field(
            None, description="Scheduler address, e.g. tcp://10.0.0.5:8786; none: a LocalCluster."
        )
        scheduler_file: str | None = Field(
            None, description="A scheduler file written by `dask scheduler --scheduler-file`."
        )
        results: Literal["auto", "return", "shared"] = Field(
            "auto",
            description="return: ship each run folder back; shared: write into the sweep folder; "
            "auto: return for a remote cluster, shared for a LocalCluster.",
        )
        timeout: float = Field(
            60.0, gt=0, description="Seconds to wait for the scheduler and for a first worker."
        )

        @model_validator(mode="after")
        def _one_cluster(self) -> Dask.Params:
            if self.address and self.scheduler_file:
                raise ValueError("give address or scheduler_file, not both")
            return self

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.client: Any = None
        self.cluster: Any = None
        self._channel: TrialChannel = TrialChannel()

    @property
    def remote(self) -> bool:
        return bool(self.params.address or self.params.scheduler_file)

    @property
    def results(self) -> str:  # type: ignore[override]
        if self.params.results != "auto":
            return str(self.params.results)
        return "return" if self.remote else "shared"

    def start(self, workers: int, requires: dict[str, str]) -> None:
        distributed = import_distributed()
        p = self.params
        if self.remote:
            where = p.address or f"the scheduler file {p.scheduler_file}"
            try:
                self.client = distributed.Client(
                    address=p.address, scheduler_file=p.scheduler_file, timeout=p.timeout
                )
            except (OSError, ValueError, *TIMEOUTS) as exc:
                raise DeltawError(
                    f"sweep.executor dask: cannot reach the Dask scheduler at {where} "
                    f"({type(exc).__name__}: {exc}). Start one (`dask scheduler`) or correct "
                    f"sweep.executor.address / scheduler_file."
                ) from None
            try:
                self.client.wait_for_workers(1, timeout=p.timeout)
            except TIMEOUTS:
                raise DeltawError(
                    f"sweep.executor dask: no worker joined the scheduler at {where} within "
                    f"{p.timeout:g} s. Start workers: dask worker {p.address or '<address>'}"
                ) from None
        else:
            with _sigint_ignored():  # the terminal's Ctrl-C must not reach the cluster's processes
                self.cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            self.client = distributed.Client(self.cluster)
        check_workers(self.client, requires)

    def channel(self) -> TrialChannel:
        self._channel = DaskChannel(self.client)
        return self._channel

    def run(
        self, fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int
    ) -> Iterator[tuple[Any, Any]]:
        if self.client is None:
            self.start(workers, {})
        client = self.client

        def submit(job: Any) -> Any:
            key = f"deltaw-trial-{job.get('index', 0)}-{uuid.uuid4().hex[:8]}"
            return client.submit(fn, job, key=key, pure=False)

        yield from stream(
            submit,
            jobs,
            max(1, int(workers)),
            channel=self._channel,
            wait_first=_wait_first,
            abandon=_cancel,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._channel.close()
        for thing in (self.client, self.cluster):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()
        self.client = self.cluster = None


def _wait_first(pending: Pending, timeout: float) -> set[Any]:
    distributed = import_distributed()
    with contextlib.suppress(*TIMEOUTS):
        distributed.wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED")
    return {f for f in pending if f.done()}


def _cancel(pending: Pending) -> None:
    for future in pending:
        with contextlib.suppress(Exception):
            future.cancel()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while processes start, so they inherit the ignoring (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def check_workers(client: Any, requires: dict[str, str]) -> None:
    """Every worker has each distribution in ``requires`` at the driver's version, else an error
    naming the worker and the package."""
    names = sorted(requires)

    def versions() -> dict[str, str | None]:  # runs on each worker, shipped by value
        from importlib import metadata

        found: dict[str, str | None] = {}
        for name in names:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = None
            if name == "deltaw":  # the deltaw that trials import (a source tree too)
                try:
                    import deltaw

                    found[name] = deltaw.__version__
                except ImportError:
                    found[name] = None
        return found

    answers = client.run(versions, on_error="return")
    problems = []
    for address, found in sorted(answers.items()):
        if isinstance(found, BaseException):
            problems.append(
                f"worker {address} could not be asked ({type(found).__name__}: {found})"
            )
            continue
        for name in names:
            have, wanted = found.get(name), requires[name]
            if have is None:
                problems.append(
                    f"worker {address}: {name} is not installed (the driver has {wanted})"
                )
            elif wanted and have != wanted:
                problems.append(f"worker {address}: {name} {have}, but the driver has {wanted}")
    if problems:
        wanted = " ".join(f"{n}=={v}" for n, v in sorted(requires.items()) if v)
        raise PluginError(
            "The Dask workers cannot run this sweep; nothing was started:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + f"\nInstall the same versions on every worker: pip install {wanted}"
        )


class DaskChannel(TrialChannel):
    """Trial events through the cluster: a distributed Queue for events, a Variable for stops.

    A fetch is answered in a Variable named by the trial.
    """

    def __init__(self, client: Any) -> None:
        super().__init__()
        distributed = import_distributed()
        token = uuid.uuid4().hex[:12]
        self.client = client
        self.names = (f"deltaw-events-{token}", f"deltaw-stops-{token}")
        self.queue = distributed.Queue(self.names[0], client=client)
        self.variable = distributed.Variable(self.names[1], client=client)
        self.variable.set({})

    def endpoint(self) -> TrialEndpoint:
        return DaskEndpoint(*self.names)

    def request_stop(self, index: int | None, reason: str) -> None:
        super().request_stop(index, reason)
        with contextlib.suppress(Exception):
            self.variable.set(dict(self.stops))

    def pump(self) -> None:
        distributed = import_distributed()
        try:
            events = self.queue.get(batch=True)
        except Exception:  # noqa: BLE001 - the scheduler is going away; nothing to hand on
            return
        for event in events:
            files = self.deliver(event)
            if event.get("kind") == "fetch":
                reply = distributed.Variable(str(event["reply"]), client=self.client)
                reply.set({"files": files})

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.pump()
        with contextlib.suppress(Exception):
            self.variable.delete()


class DaskEndpoint(TrialEndpoint):
    """A trial's side of :class:`DaskChannel`: names only, so a job pickles to a few strings."""

    def __init__(self, events: str, stops: str) -> None:
        self.events, self.stops = events, stops
        self._queue: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"events": self.events, "stops": self.stops, "_queue": None}

    def report(self, event: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            if self._queue is None:
                from distributed import Queue

                self._queue = Queue(self.events)
            self._queue.put(event)

    def stop_requested(self, index: int) -> str | None:
        from distributed import Variable

        try:
            return stop_reason(Variable(self.stops).get(timeout=30) or {}, index)
        except Exception:  # noqa: BLE001 - the scheduler did not answer: keep training
            return None

    def fetch(self, index: int) -> dict[str, bytes] | None:
        from distributed import Variable

        reply = f"deltaw-reply-{uuid.uuid4().hex}"
        self.report({"kind": "fetch", "index": index, "reply": reply})
        variable = Variable(reply)
        try:
            answer = variable.get(timeout=FETCH_SECONDS)
        except TIMEOUTS:
            raise DeltawError(
                f"trial {index}: the sweep's driver did not send the trial's files within "
                f"{FETCH_SECONDS:g} s."
            ) from None
        with contextlib.suppress(Exception):
            variable.delete()
        return (answer or {}).get("files")


@deltaw.hookimpl
def register_executors(register: Any) -> None:
    register("dask", Dask)
