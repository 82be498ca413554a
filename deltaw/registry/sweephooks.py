"""The sweep driver's calls to pluggy's sweep hooks (``deltaw_sweep_start``, …).

The driver is the process that runs ``deltaw sweep`` (or ``deltaw.sweep``); the
trials may run anywhere (processes, a cluster), but these hooks are only ever
called here, so a tracker that logs a sweep never has to run on a worker. The
driver calls :func:`sweep_started` before the first trial, :func:`trial_ended`
as each trial ends (its status and folder already set), and :func:`sweep_ended`
once all have ended.
"""

from __future__ import annotations

from typing import Any

from deltaw.core.run_context import SweepContext
from deltaw.registry.manager import Registry


def sweep_started(registry: Registry, ctx: SweepContext) -> None:
    """Call ``deltaw_sweep_start(sweep=ctx)``."""
    ctx.status = "running"
    registry.pm.hook.deltaw_sweep_start(sweep=ctx)


def trial_ended(registry: Registry, ctx: SweepContext, trial: Any, result: Any) -> None:
    """Call ``deltaw_trial_end(sweep=ctx, trial=trial, result=…)``.

    ``result`` is what the trial returned (a dict) or the exception it raised;
    the hook always receives a dict with ``status``, ``message``, ``epochs``,
    ``wall_time`` and ``final``.
    """
    registry.pm.hook.deltaw_trial_end(sweep=ctx, trial=trial, result=trial_result(trial, result))


def sweep_ended(registry: Registry, ctx: SweepContext, status: str | None = None) -> None:
    """Call ``deltaw_sweep_end(sweep=ctx)``, with ``ctx.status`` set to ``status`` if given."""
    if status is not None:
        ctx.status = status
    registry.pm.hook.deltaw_sweep_end(sweep=ctx)


def trial_result(trial: Any, result: Any) -> dict[str, Any]:
    """One shape for a finished trial and a failed one (``trial.status``/``error`` set)."""
    if isinstance(result, dict):
        return {"message": "", "epochs": 0, "wall_time": 0.0, "final": {}, **result}
    return {
        "status": trial.status,
        "message": trial.error or f"{type(result).__name__}: {result}",
        "epochs": 0,
        "wall_time": 0.0,
        "final": {},
    }
