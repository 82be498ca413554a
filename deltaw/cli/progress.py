"""Display of training progress (rich), for the CLI and the Python API (terminal or notebook)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from deltaw.cli.render import epoch_line
from deltaw.core.base import Callback


class ProgressDisplay(Callback):
    """A progress bar over epochs with ETA, and one line per epoch.

    ``bar=False`` prints only the lines (a notebook without ipywidgets, which rich needs
    to redraw a bar in place).
    """

    def __init__(self, console: Console | None = None, *, bar: bool = True) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self.bar = bar
        self.progress: Progress | None = None
        self.task: Any = None

    def on_run_start(self, trainer: Any) -> None:
        if not self.bar:
            return
        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("epochs"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            auto_refresh=False,  # a refresh thread would compete with BLAS and slow training
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=trainer.epochs, completed=trainer.epoch)
        self.progress.refresh()

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        if self.progress is None:
            self.console.print(epoch_line(metrics), highlight=False)
            return
        self.progress.console.print(epoch_line(metrics))
        self.progress.update(self.task, completed=epoch, refresh=True)

    def on_run_end(self, trainer: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


class JsonLines(Callback):
    """One JSON object per epoch on stdout, for other programs."""

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        sys.stdout.write(json.dumps(metrics) + "\n")
        sys.stdout.flush()
