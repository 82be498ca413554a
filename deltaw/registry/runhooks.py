"""The adapter from the trainer's callback events to pluggy's ``deltaw_*`` run hooks.

Every hook receives the run's context as ``run`` (``trainer.run``, a
:class:`~deltaw.core.run_context.RunContext`); an implementation that does not
name ``run`` (one written before it existed) is called without it.
``deltaw_run_end`` is called by the run layer through :meth:`HookCallbacks.end`
after the run's files are written, so a tracker can copy the whole folder.
"""

from __future__ import annotations

from typing import Any

from deltaw.core.base import Callback
from deltaw.registry.manager import Registry


class HookCallbacks(Callback):
    """Forwards training events to every plugin implementing the ``deltaw_*`` hooks."""

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self.hook = registry.pm.hook

    def on_run_start(self, trainer: Any) -> None:
        self.hook.deltaw_run_start(trainer=trainer, run=trainer.run)

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        self.hook.deltaw_epoch_end(trainer=trainer, epoch=epoch, metrics=metrics, run=trainer.run)

    def end(self, trainer: Any) -> None:
        """Call ``deltaw_run_end``: the run layer calls it once the run has ended and its
        folder is complete (``run.json``, ``weights.npz``, plots), not from ``on_run_end``."""
        self.hook.deltaw_run_end(trainer=trainer, run=trainer.run)


class BatchHookCallbacks(HookCallbacks):
    """:class:`HookCallbacks` for when some plugin implements ``deltaw_batch_end``."""

    def on_batch_end(self, trainer: Any, epoch: int, batch: int) -> None:
        self.hook.deltaw_batch_end(trainer=trainer, epoch=epoch, batch=batch, run=trainer.run)


def hook_callbacks(registry: Registry) -> list[Callback]:
    """The adapter to pluggy's run hooks, or nothing when no plugin implements them."""
    hooks = registry.pm.hook
    names = ("deltaw_run_start", "deltaw_epoch_end", "deltaw_batch_end", "deltaw_run_end")
    if not any(getattr(hooks, n).get_hookimpls() for n in names):
        return []
    cls = BatchHookCallbacks if hooks.deltaw_batch_end.get_hookimpls() else HookCallbacks
    return [cls(registry)]
