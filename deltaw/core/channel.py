"""The trial-event channel: trials tell the sweep's driver how they go; the driver may stop them.

A sweep's driver and its trials may live in different processes or machines.
Each executor offers a channel (:meth:`deltaw.Executor.channel`); every job
carries the channel's picklable :meth:`TrialChannel.endpoint`, through which
the trial

- reports events (plain dicts, string keys): ``{"kind": "start", "index": i,
  "epochs": n}`` when it starts and ``{"kind": "epoch", "index": i, "epoch": k,
  "metrics": {...}, "files": {...} or None}`` after every epoch (``files``: the
  run folder's files, when the trial runs away from the sweep folder, so the
  driver always holds the latest checkpoint);
- asks at every epoch end whether to stop (:meth:`TrialEndpoint.stop_requested`):
  ``"interrupt"`` (Ctrl-C: stop with a checkpoint, resumable) or ``"prune"`` (a
  search gave up on it);
- fetches the files the driver holds for it (:meth:`TrialEndpoint.fetch`), so a
  trial that runs away from the sweep folder resumes from its last checkpoint.

The driver sets :attr:`TrialChannel.handler` (called with every event) and
:attr:`TrialChannel.files_for` (answers fetches); executors call
:meth:`TrialChannel.pump` at least every :data:`PUMP_SECONDS` while they wait,
so events reach the handler in the driver's own thread. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PUMP_SECONDS = 0.1
ALL = "all"  # the key of a stop request that concerns every trial, started or not
STOP_REASONS = ("interrupt", "prune")

Event = dict[str, Any]
Files = dict[str, bytes]


class TrialEndpoint:
    """The trial's side. This base one is silent: events go nowhere, no stop is ever asked."""

    def report(self, event: Event) -> None:
        """Send an event to the driver (never blocks for long; never raises)."""

    def stop_requested(self, index: int) -> str | None:
        """``"interrupt"``, ``"prune"`` or None: whether trial ``index`` should stop now."""
        return None

    def fetch(self, index: int) -> Files | None:
        """The files the driver holds for trial ``index`` (None: start afresh)."""
        return None


class TrialChannel:
    """The driver's side. This base one is silent, for executors that offer no channel."""

    def __init__(self) -> None:
        self.handler: Callable[[Event], None] | None = None
        self.files_for: Callable[[int], Files | None] | None = None
        self.stops: dict[str, str] = {}

    def endpoint(self) -> TrialEndpoint:
        """What every job carries (picklable for executors that ship jobs elsewhere)."""
        return TrialEndpoint()

    def request_stop(self, index: int | None, reason: str) -> None:
        """Ask trial ``index`` (None: every trial, and those not started) to stop at its next
        epoch end."""
        if reason not in STOP_REASONS:
            raise ValueError(f"a stop reason is one of {STOP_REASONS}, got {reason!r}")
        self.stops[ALL if index is None else str(index)] = reason

    @property
    def stopping(self) -> bool:
        """Whether every trial was asked to stop (the sweep is ending)."""
        return ALL in self.stops

    def pump(self) -> None:
        """Hand the events that arrived to :attr:`handler`, answer fetches (the driver's thread)."""

    def close(self) -> None:
        """Release what the channel holds."""

    def deliver(self, event: Event) -> Files | None:
        """One event to the handler; a fetch is answered with :attr:`files_for`."""
        if event.get("kind") == "fetch":
            return self.files_for(int(event["index"])) if self.files_for is not None else None
        if self.handler is not None:
            self.handler(event)
        return None


def stop_reason(stops: Any, index: int) -> str | None:
    """The stop asked of trial ``index`` in a mapping of stop requests (its own, else every
    trial's)."""
    return stops.get(str(index)) or stops.get(ALL)


class InProcessChannel(TrialChannel):
    """Trials in the driver's own process (``serial``): every call is direct."""

    def endpoint(self) -> TrialEndpoint:
        return _InProcessEndpoint(self)


class _InProcessEndpoint(TrialEndpoint):
    def __init__(self, channel: InProcessChannel) -> None:
        self.channel = channel

    def report(self, event: Event) -> None:
        self.channel.deliver(event)

    def stop_requested(self, index: int) -> str | None:
        return stop_reason(self.channel.stops, index)

    def fetch(self, index: int) -> Files | None:
        return self.channel.deliver({"kind": "fetch", "index": index})
