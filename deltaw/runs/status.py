"""How a run ended, known to every callback and run hook when ``on_run_end`` is called.

``Trainer.fit`` calls ``on_run_end`` from its ``finally``, before the run layer
has seen how training ended; :class:`RunStatus`, the first callback of every
run, reads it then (from the exception on its way out, if any) into
``trainer.run.status``, so the callbacks after it (the spec's, the run hooks)
see the final status: a tracker marks its record finished, failed or killed.
:func:`run_ended` calls the ``deltaw_run_end`` hook once the run folder is complete.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

from deltaw.core.base import Callback
from deltaw.core.stall import StalledError
from deltaw.core.training import NonFiniteError
from deltaw.errors import DeltawPluginWarning
from deltaw.registry import Registry
from deltaw.registry.runhooks import HookCallbacks
from deltaw.runs.plugin_failure import plugin_failure
from deltaw.spec.build import Experiment


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


def run_ended(
    hooks: Sequence[Callback],
    trainer: Any,
    registry: Registry,
    exp: Experiment,
    saved: int | None,
    *,
    failing: bool = False,
) -> None:
    """Call ``deltaw_run_end`` after the run's files are written, however the run ended.

    A plugin that raises there is named as anywhere else in a run (a ``PluginError``).
    While the run itself is ``failing`` (its own error on the way out), that error
    matters more: the plugin's is a warning.
    """
    for adapter in hooks:
        if not isinstance(adapter, HookCallbacks):
            continue
        try:
            adapter.end(trainer)
        except Exception as exc:
            folder = trainer.run.folder if trainer.run is not None else None
            failure = plugin_failure(registry, exc, exp.plugins_used, folder, saved)
            if failing:
                warnings.warn(DeltawPluginWarning(str(failure or exc)), stacklevel=2)
            elif failure is None:
                raise
            else:
                raise failure from exc
