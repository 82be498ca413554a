"""``deltaw run``: train a spec into a new run folder, or resume one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deltaw.cli.app import SetOpt, app, err, friendly_errors, registry


@app.command()
def run(
    spec: Annotated[
        Path | None,
        typer.Argument(help="Spec file (.yaml, .yml, .toml or .json).", show_default=False),
    ] = None,  # noqa: UP045
    set_: SetOpt = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            "-r",
            help="Continue the run in this run folder from its last checkpoint.",
            show_default=False,
        ),
    ] = None,  # noqa: UP045
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder that receives the run folder.")
    ] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON object per epoch on stdout.")
    ] = False,
    plots: Annotated[
        bool,
        typer.Option(
            "--plots/--no-plots",
            help="Write curves.png (and regions.png for 2-D data) when matplotlib is installed.",
        ),
    ] = True,
    tensorboard: Annotated[
        bool,
        typer.Option(
            "--tensorboard",
            help="Add the tensorboard callback: event files in RUN/tb (as DELTAW_TENSORBOARD=1).",
        ),
    ] = False,
) -> None:
    """Train the experiment in SPEC into a new run folder, or continue one with --resume RUN_DIR.

    Ctrl-C keeps the last epoch's checkpoint and prints the command that resumes it (exit code
    130); SIGTERM (kill, timeout, a batch scheduler) does the same with exit code 143.
    """
    from deltaw.cli.progress import JsonLines, ProgressDisplay
    from deltaw.cli.render import metrics_text
    from deltaw.runs.train import resume_run, run_spec

    if (spec is None) == (resume is None):
        err.print(
            "[bold red]Error:[/] give a spec file to start a run, or --resume RUN_DIR to continue one (not both).",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    shown = [] if quiet or json_lines else [ProgressDisplay(err)]
    if json_lines:
        shown.append(JsonLines())
    with friendly_errors():
        try:
            if resume is not None:
                result = resume_run(
                    resume,
                    set_ or [],
                    callbacks=shown,
                    registry=registry(),
                    plots=plots,
                    tensorboard=tensorboard or None,
                )
            else:
                result = run_spec(
                    spec,
                    set_ or [],
                    out_dir,
                    callbacks=shown,
                    registry=registry(),
                    plots=plots,
                    tensorboard=tensorboard or None,
                )
        finally:
            for cb in shown:
                cb.on_run_end(None)
    if result.status == "interrupted":
        err.print(f"[yellow]{result.message}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(143 if result.signal == "SIGTERM" else 130)  # 128 + the signal
    if not quiet and not json_lines:
        final = result.history[-1] if result.history else {}
        summary = metrics_text(final)
        if result.status == "stopped":
            head = f"[yellow]Stopped[/] after {len(result.history)} epochs in {result.wall_time:.1f}s ({result.message})"
        else:
            head = f"[green]Done[/] in {result.wall_time:.1f}s"
        err.print(
            f"{head}: {summary}\nRun folder: {result.folder}", highlight=False, soft_wrap=True
        )
