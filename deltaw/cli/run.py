"""``deltaw run``: train a spec into a new run folder, or resume one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from deltaw.cli.app import SetOpt, app, err, friendly_errors, registry, styled


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
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress display; print only the run folder's path on stdout."
        ),
    ] = False,
    json_lines: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per epoch on stdout, then one with run_folder, status, epochs, "
            "wall_time and exit_code.",
        ),
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
            styled(
                "[bold red]Error:[/] give a spec file to start a run, or --resume RUN_DIR to "
                "continue one (not both)."
            ),
            soft_wrap=True,
        )
        raise typer.Exit(2)
    shown: list[Any] = [] if quiet or json_lines else [ProgressDisplay(err)]
    if json_lines:
        shown.append(JsonLines())
    where = _run_folder()  # which folder the run writes, even when it then fails
    try:
        with friendly_errors():
            try:
                if resume is not None:
                    result = resume_run(
                        resume,
                        set_ or [],
                        callbacks=[*shown, where],
                        registry=registry(),
                        plots=plots,
                        tensorboard=tensorboard or None,
                    )
                else:
                    result = run_spec(
                        spec,
                        set_ or [],
                        out_dir,
                        callbacks=[*shown, where],
                        registry=registry(),
                        plots=plots,
                        tensorboard=tensorboard or None,
                    )
            finally:
                for cb in shown:
                    cb.on_run_end(None)
    except typer.Exit as stop:
        if where.folder is not None:
            _tell_script(where.folder, None, quiet, json_lines, stop.exit_code)
        raise
    interrupted = result.status == "interrupted"
    code = (143 if result.signal == "SIGTERM" else 130) if interrupted else 0  # 128 + signal
    _tell_script(result.folder, result, quiet, json_lines, code)
    if interrupted:
        err.print(styled("[yellow]{}[/]", result.message), soft_wrap=True)
        raise typer.Exit(code)
    if not quiet and not json_lines:
        final = result.history[-1] if result.history else {}
        summary = metrics_text(final)
        if result.status == "stopped":
            head = styled(
                "[yellow]Stopped[/] after {} epochs in {}s ({})",
                len(result.history),
                f"{result.wall_time:.1f}",
                result.message,
            )
        else:
            head = styled("[green]Done[/] in {}s", f"{result.wall_time:.1f}")
        err.print(head, f": {summary}\nRun folder: {result.folder}", sep="", soft_wrap=True)


def _run_folder() -> Any:
    """A callback that remembers the run folder when training starts (``trainer.run``)."""
    from deltaw.core.base import Callback

    class RunFolder(Callback):
        folder: Path | None = None

        def on_run_start(self, trainer: Any) -> None:
            self.folder = getattr(getattr(trainer, "run", None), "folder", None)

    return RunFolder()


def _tell_script(
    folder: Path, result: Any, quiet: bool, json_lines: bool, exit_code: int | None
) -> None:
    """The run folder for scripts: ``--quiet`` prints its path alone on stdout; ``--json`` ends
    with ``{"run_folder": …, "status": …, "exit_code": …}``."""
    import json
    import sys

    if quiet and not json_lines:
        sys.stdout.write(f"{folder}\n")
    elif json_lines:
        if result is not None:
            status, epochs, wall = result.status, len(result.history), result.wall_time
        else:  # it failed: what the folder says
            from deltaw.runs.folder import read_run_info

            try:
                info = read_run_info(folder)
            except Exception:  # noqa: BLE001 - the error itself was reported already
                info = {}
            status, epochs, wall = info.get("status", "failed"), info.get("epochs"), None
            wall = info.get("wall_time")
        final = {
            "run_folder": str(folder),
            "status": status,
            "epochs": epochs,
            "wall_time": wall,
            "exit_code": 130 if status == "interrupted" else exit_code or 0,
        }
        sys.stdout.write(json.dumps(final) + "\n")
    sys.stdout.flush()
