"""The callback that records every completed epoch into the run folder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deltaw.core.base import Callback
from deltaw.core.training import Trainer
from deltaw.files import write_text
from deltaw.runs.checkpoint import save_run_checkpoint
from deltaw.runs.folder import write_metrics_csv


class RunWriter(Callback):
    """Writes metrics and the checkpoint of every completed epoch into the run folder.

    ``stateful`` are the spec's callbacks whose state goes into the checkpoint.
    """

    def __init__(self, folder: Path, stateful: Sequence[Callback] = ()) -> None:
        super().__init__()
        self.folder = folder
        self.stateful = list(stateful)
        self.saved_epoch: int | None = None

    def on_run_start(self, trainer: Trainer) -> None:
        # rewrite from the (possibly resumed) history, so a resumed run has no duplicate rows
        write_text(
            self.folder / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in trainer.history)
        )
        write_metrics_csv(self.folder / "metrics.csv", trainer.history)
        if (self.folder / "checkpoint.npz").exists():
            self.saved_epoch = trainer.epoch

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        with open(self.folder / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics) + "\n")
        write_metrics_csv(self.folder / "metrics.csv", trainer.history)
        save_run_checkpoint(
            self.folder / "checkpoint.npz", trainer.state_dict(), callback_states(self.stateful)
        )
        self.saved_epoch = epoch


def callback_states(callbacks: Sequence[Callback]) -> list[dict[str, Any]]:
    """Every callback's ``state_dict()`` (``{}`` for a stateless one), in spec order."""
    return [cb.state_dict() for cb in callbacks]
