"""Progress for the Python API: rich on stderr, or drawn into the notebook under Jupyter."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deltaw.core.base import Callback

if TYPE_CHECKING:
    from rich.console import Console

    from deltaw.runs.train import RunResult


def make_console() -> Console:
    """rich's console on stderr; under Jupyter rich draws into the notebook instead."""
    from rich.console import Console

    return Console(stderr=True)


def displays(quiet: bool) -> list[Callback]:
    """The progress display: a bar and a line per epoch (lines only in a notebook without
    ipywidgets, which rich needs to redraw a bar in place); nothing when ``quiet``."""
    if quiet:
        return []
    from deltaw.cli.progress import ProgressDisplay

    console = make_console()
    bar = not console.is_jupyter or importlib.util.find_spec("ipywidgets") is not None
    return [ProgressDisplay(console, bar=bar)]


def with_progress(quiet: bool, train: Callable[[list[Callback]], RunResult]) -> RunResult:
    """``train(displays)``, then one summary line (unless ``quiet``); the display always ends."""
    shown = displays(quiet)
    try:
        result = train(shown)
    finally:
        for cb in shown:
            cb.on_run_end(None)
    if not quiet:
        summary(result)
    return result


def summary(result: RunResult) -> None:
    """``Done in 3.2s: training cost … · validation accuracy …`` and the run folder."""
    from deltaw.cli.render import metrics_text

    final = metrics_text(result.history[-1]) if result.history else "no epoch finished"
    from deltaw.cli.app import styled

    if result.status == "interrupted":
        head = styled("[yellow]{}[/]\nRun folder: {}", result.message, result.folder)
    elif result.status == "stopped":
        head = styled(
            "[yellow]Stopped[/] after {} epochs ({}): {}\nRun folder: {}",
            len(result.history),
            result.message,
            final,
            result.folder,
        )
    else:
        head = styled(
            "[green]Done[/] in {}s: {}\nRun folder: {}",
            f"{result.wall_time:.1f}",
            final,
            result.folder,
        )
    make_console().print(head, highlight=False, soft_wrap=True)


def trial_line(console: Console, total: int) -> Any:
    """``on_trial`` for :func:`deltaw.runs.sweep.run_sweep`: a line per finished trial."""
    from deltaw.cli.render import fmt_metric

    def show(trial: Any, done: int) -> None:
        colour = (
            "green"
            if trial.status == "completed"
            else "yellow"
            if trial.status in ("stopped", "interrupted")
            else "red"
        )
        final = (trial.result or {}).get("final", {})
        shown = ", ".join(fmt_metric(k, v) for k, v in final.items() if k.startswith("validation_"))
        note = f"  {trial.error.splitlines()[0]}" if trial.error else ""
        from deltaw.cli.app import styled

        console.print(
            styled(
                f"{{}} [{colour}]{{}}[/] {{}}  {{}}{{}}",
                f"[{done}/{total}]",
                trial.status,
                trial.label,
                shown,
                note,
            ),
            highlight=False,
            soft_wrap=True,
        )

    return show
