"""The callback that records every completed epoch into the run folder.

Each epoch costs the same whatever the epoch number: one line appended to
``metrics.jsonl`` and to ``metrics.csv`` (rewritten only when a new column
appears), a checkpoint without the history, and then whatever ``after_epoch`` does
(the run layer refreshes ``run.json`` every few seconds).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deltaw.core.base import Callback
from deltaw.core.training import Trainer
from deltaw.files import write_text
from deltaw.runs.checkpoint import save_run_checkpoint
from deltaw.runs.folder import append_line, append_metrics_csv, write_metrics_csv


class RunWriter(Callback):
    """Writes metrics and the checkpoint of every completed epoch into the run folder.

    ``stateful`` are the spec's callbacks whose state goes into the checkpoint;
    ``after_epoch(trainer)`` runs once the epoch's checkpoint is written.
    """

    def __init__(
        self,
        folder: Path,
        stateful: Sequence[Callback] = (),
        after_epoch: Callable[[Trainer], None] | None = None,
    ) -> None:
        super().__init__()
        self.folder = folder
        self.stateful = list(stateful)
        self.after_epoch = after_epoch
        self.saved_epoch: int | None = None
        self.columns: list[str] = []

    def on_run_start(self, trainer: Trainer) -> None:
        self.rewrite(trainer.history)
        if (self.folder / "checkpoint.npz").exists():
            self.saved_epoch = trainer.epoch

    def rewrite(self, history: list[dict[str, float]]) -> None:
        """Make both metrics files hold ``history`` (a resumed run's: up to its checkpoint)."""
        write_text(self.folder / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in history))
        self.columns = write_metrics_csv(self.folder / "metrics.csv", history)

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        append_line(self.folder / "metrics.jsonl", json.dumps(metrics) + "\n")
        if self.columns and all(k in self.columns for k in metrics):
            append_metrics_csv(self.folder / "metrics.csv", self.columns, metrics)
        else:  # a new column: the header changes
            self.columns = write_metrics_csv(self.folder / "metrics.csv", trainer.history)
        save_run_checkpoint(
            self.folder / "checkpoint.npz", trainer.state_dict(), callback_states(self.stateful)
        )
        self.saved_epoch = epoch
        if self.after_epoch is not None:
            self.after_epoch(trainer)


def callback_states(callbacks: Sequence[Callback]) -> list[dict[str, Any]]:
    """Every callback's ``state_dict()`` (``{}`` for a stateless one), in spec order."""
    return [cb.state_dict() for cb in callbacks]
