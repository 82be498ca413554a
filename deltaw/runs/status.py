"""How a run ended, known to every callback and run hook when ``on_run_end`` is called.

``Trainer.fit`` calls ``on_run_end`` from its ``finally``, before the run layer
has seen how training ended; :class:`RunStatus`, the first callback of every
run, reads it then (from the exception on its way out, if any) into
``trainer.run.status``, so the callbacks after it (the spec's, the run hooks)
see the final status: a tracker marks its record finished, failed or killed.
"""

from __future__ import annotations

import sys
from typing import Any

from deltaw.core.base import Callback
from deltaw.core.stall import StalledError
from deltaw.core.training import NonFiniteError


def ending_status(trainer: Any, exc: BaseException | None) -> str:
    """``completed``, ``stopped``, ``interrupted``, ``diverged`` or ``failed``.

    The same words as ``run.json``'s ``status`` (``deltaw.runs.train``).
    """
    if exc is None:
        return "stopped" if trainer.stop else "completed"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, (NonFiniteError, StalledError)):
        return "diverged"
    return "failed"


class RunStatus(Callback):
    """Sets ``trainer.run.status``: ``running`` at the start, how the run ended at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.outer: BaseException | None = None

    def on_run_start(self, trainer: Any) -> None:
        # an exception the caller is handling (fit called inside an `except`) is not the run's
        self.outer = sys.exc_info()[1]
        if trainer.run is not None:
            trainer.run.status = "running"

    def on_run_end(self, trainer: Any) -> None:
        if trainer.run is not None:
            # called from Trainer.fit's `finally`: the exception in flight, if any, is the cause
            exc = sys.exc_info()[1]
            trainer.run.status = ending_status(trainer, None if exc is self.outer else exc)
