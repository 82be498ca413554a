"""The sweep's one progress display (rich), drawn by the driver from the trials' events.

Workers never draw: they send events (:mod:`deltaw.core.channel`). The display
shows the trials ended out of the total with an ETA (a running trial counts
for the fraction of its epochs done), one line per running trial with its
epoch, and prints a line for every trial that ends.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from deltaw.cli.app import styled
from deltaw.cli.render import fmt_metric

COLOURS = {"completed": "green", "stopped": "yellow", "interrupted": "yellow", "pruned": "yellow"}


class SweepProgress:
    """Trials done/total with ETA, and the current epoch of each running trial."""

    def __init__(self, console: Console, total: int, done: int = 0) -> None:
        self.console, self.total, self.done = console, total, done
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            auto_refresh=False,  # redrawn on events: no thread competing with serial training
        )
        self.overall: TaskID | None = None
        self.running: dict[int, TaskID] = {}
        self.fractions: dict[int, float] = {}

    def __enter__(self) -> SweepProgress:
        if self.console.is_terminal:  # a log file gets the lines of ended trials only
            self.progress.start()
            self.overall = self.progress.add_task(
                "[bold]sweep", total=self.total, completed=self.done, unit="trials"
            )
            self.progress.refresh()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.overall is not None:
            self.progress.stop()

    def event(self, trial: Any, event: dict[str, Any]) -> None:
        """A trial started or ended an epoch."""
        if self.overall is None:
            return
        epochs = int(event.get("epochs") or 1)
        epoch = int(event.get("epoch") or 0)
        if trial.index not in self.running:
            self.running[trial.index] = self.progress.add_task(
                f"  trial {trial.index} {escape(trial.label)}"[:60],
                total=epochs,
                completed=epoch,
                unit="epochs",
            )
        self.progress.update(self.running[trial.index], completed=epoch, total=epochs)
        self.fractions[trial.index] = epoch / epochs
        self._overall()

    def trial(self, trial: Any, done: int) -> None:
        """A trial ended: drop its line, print its outcome."""
        task = self.running.pop(trial.index, None)
        if task is not None and self.overall is not None:
            self.progress.remove_task(task)
        self.fractions.pop(trial.index, None)
        self.done = done
        colour = COLOURS.get(trial.status, "red")
        final = trial.result.get("final", {}) if trial.result else {}
        shown = ", ".join(fmt_metric(k, v) for k, v in final.items() if k.startswith("validation_"))
        note = f"  {trial.error.splitlines()[0]}" if trial.error else ""
        self.console.print(
            styled(
                f"{{}} [{colour}]{{}}[/] {{}}  {{}}{{}}",
                f"[{done}/{self.total}]",
                trial.status,
                trial.label,
                shown,
                note,
            ),
            soft_wrap=True,
        )
        self._overall()

    def _overall(self) -> None:
        if self.overall is not None:
            partial = min(sum(self.fractions.values()), max(0, self.total - self.done))
            self.progress.update(self.overall, completed=self.done + partial)
            self.progress.refresh()
