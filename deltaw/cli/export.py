"""``deltaw export``: what run folders recorded, in the formats of other tools."""

from __future__ import annotations

from typing import Annotated

import typer

from deltaw.cli.app import app, err, friendly_errors, styled
from deltaw.cli.options import PathsArg

export_app = typer.Typer(
    help="Write what run folders recorded in the formats of other tools (TensorBoard).",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")


@export_app.command("tensorboard")
def tensorboard(
    paths: PathsArg,
    folder: Annotated[
        str, typer.Option("--folder", help="Sub-folder of each run folder for the event files.")
    ] = "tb",
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace event files a run folder already holds."),
    ] = False,
) -> None:
    """TensorBoard event files (RUN/tb) for runs made without the tensorboard callback.

    Read from each run's metrics.jsonl and resolved.yaml: every metric per split per epoch, the
    learning rate and the hyper-parameters (HParams). Then: tensorboard --logdir PATH.
    Needs pip install 'deltaw\\[tensorboard]'.
    """
    from deltaw.runs.export import export_tensorboard

    with friendly_errors():
        done = export_tensorboard(paths, folder=folder, force=force)
    for e in done:
        if e.written:
            err.print(f"Wrote {e.logdir} ({e.epochs} epochs)", highlight=False, soft_wrap=True)
        else:
            err.print(styled("[yellow]Skipped[/] {}: {}", e.folder, e.skipped), soft_wrap=True)
    if done and not any(e.written for e in done):
        raise typer.Exit(1)
