"""``deltaw sweep``: run a spec's sweep, trials in parallel."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from deltaw.cli.app import (
    SetOpt,
    SpecArg,
    _disabled,
    app,
    err,
    friendly_errors,
    out,
    registry,
    styled,
)
from deltaw.cli.options import ByOpt, MetricOpt, check_by
from deltaw.cli.render import fmt_metric
from deltaw.cli.report import print_report, report_json


@app.command()
def sweep(
    spec: SpecArg,
    set_: SetOpt = None,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder that receives the sweep folder.")
    ] = Path("runs"),
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            help="Trials at once (default: sweep.workers, else the number of CPU cores).",
        ),
    ] = None,  # noqa: UP045
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="Executor plugin that runs the trials (default: sweep.executor, local processes).",
        ),
    ] = None,  # noqa: UP045
    metric: MetricOpt = None,
    by: ByOpt = "final",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate every trial and list them; run nothing.")
    ] = False,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Write learning curves (needs matplotlib).")
    ] = True,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the summary as JSON on stdout, with sweep_folder, status and exit_code.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="No progress or table; print only the sweep folder's path on stdout.",
        ),
    ] = False,
) -> None:
    """Run every trial of the `sweep:` section of SPEC, each a run folder inside one sweep folder; rank them."""
    from deltaw.runs.sweep import plan, run_sweep

    check_by(by)
    if dry_run:
        with friendly_errors():
            _, trials = plan(spec, set_ or [], registry=registry())
        for t in trials:
            out.print(
                f"trial {t.index}: " + " ".join(f"--set {o}" for o in t.overrides),
                highlight=False,
                soft_wrap=True,
            )
        err.print(f"{len(trials)} trials, every one valid.")
        return

    def progress(trial: Any, done: int) -> None:
        colour = {"completed": "green", "stopped": "yellow", "interrupted": "yellow"}.get(
            trial.status, "red"
        )
        final = trial.result.get("final", {}) if trial.result else {}
        shown = (
            ", ".join(fmt_metric(k, v) for k, v in final.items() if k.startswith("validation_"))
            or ""
        )
        note = f"  {trial.error.splitlines()[0]}" if trial.error else ""
        if quiet:
            return
        err.print(
            styled(
                f"{{}} [{colour}]{{}}[/] {{}}  {{}}{{}}",
                f"[{done}/{total[0]}]",
                trial.status,
                trial.label,
                shown,
                note,
            ),
            soft_wrap=True,
        )

    total = [0]
    with friendly_errors():
        _, planned = plan(spec, set_ or [], registry=registry())
        total[0] = len(planned)
        if not quiet:
            err.print(f"Sweep of {len(planned)} trials …")
        result = run_sweep(
            spec,
            set_ or [],
            out_dir,
            executor=executor,
            workers=workers,
            metric=metric,
            registry=registry(),
            disable=list(_disabled),
            plots=plots,
            on_trial=progress,
            by=by,
        )
    report = result.report
    everything_failed = bool(result.trials) and len(result.failed) == len(result.trials)
    status = "interrupted" if result.interrupted else "failed" if everything_failed else "completed"
    code = 130 if result.interrupted else 1 if everything_failed else 0
    if json_out:
        data = {**report_json(report, result.folder), "status": status, "exit_code": code}
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif quiet:
        sys.stdout.write(f"{result.folder}\n")
    else:
        print_report(report)
    if not quiet:
        err.print(f"Sweep folder: {result.folder}", soft_wrap=True)
    if result.interrupted:
        err.print(
            styled(
                "[yellow]The sweep was interrupted[/]; finished trials are kept, interrupted ones "
                "can be resumed with deltaw run --resume <trial folder>."
            ),
            soft_wrap=True,
        )
    elif result.failed:
        err.print(
            styled(
                "[yellow]{} of {} trials did not finish[/]; their errors are in sweep.json and "
                "sweep.csv.",
                len(result.failed),
                len(result.trials),
            ),
            soft_wrap=True,
        )
    if code:
        raise typer.Exit(code)
