"""``deltaw sweep``: run a spec's sweep, trials in parallel; resume it; sweeps from the options."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from deltaw.cli.app import SetOpt, _disabled, app, err, friendly_errors, out, registry, styled
from deltaw.cli.options import ByOpt, MetricOpt, check_by
from deltaw.cli.report import print_report, report_json
from deltaw.errors import SpecError

RANDOM_FORMS = {"log": "log_range", "uniform": "range", "range": "range", "int": "int_range"}


def _number(text: str) -> Any:
    """A command-line value: an int, a float (``1e-3`` too, which YAML reads as text), else YAML."""
    import yaml  # here, not at the top: `deltaw --help` loads no YAML

    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _values(option: str, text: str) -> tuple[str, list[Any]]:
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise SpecError(
            f"{option} {text!r}: expected KEY=V1,V2,… with a dotted spec key, "
            f"e.g. {option} optimizer.lr=0.05,0.5,5"
        )
    if raw.strip().startswith("["):  # a YAML list, for values that hold commas: [[2,8,2],[2,16,2]]
        try:
            values = yaml.safe_load(raw)
        except yaml.YAMLError:
            values = None
        if not isinstance(values, list):
            raise SpecError(f"{option} {text!r}: the value is not a YAML list such as [1, 2].")
        return key.strip(), values
    return key.strip(), [_number(v) for v in raw.split(",")]


def _draw(text: str) -> tuple[str, dict[str, Any]]:
    key, sep, raw = text.partition("=")
    form, _, rest = raw.partition(":")
    form = form.strip()
    if sep and key.strip() and form == "choice" and rest:
        return key.strip(), {"choice": [_number(v) for v in rest.split(",")]}
    bounds = rest.split(":")
    if sep and key.strip() and form in RANDOM_FORMS and len(bounds) == 2:
        return key.strip(), {RANDOM_FORMS[form]: [_number(b) for b in bounds]}
    raise SpecError(
        f"--random {text!r}: expected KEY=log:LOW:HIGH, KEY=uniform:LOW:HIGH, KEY=int:LOW:HIGH "
        f"or KEY=choice:A,B,…, e.g. --random optimizer.lr=log:1e-3:1"
    )


def sweep_overrides(
    grid: Sequence[str] = (),
    zip_: Sequence[str] = (),
    random: Sequence[str] = (),
    trials: int | None = None,
    seeds: str | None = None,
    repeat: int | None = None,
) -> list[str]:
    """The ``--set sweep.…`` overrides that the command-line sweep options stand for."""
    from deltaw.runs.sweep_plan import format_override

    sets = [format_override(f"sweep.grid.{k}", v) for k, v in (_values("--grid", t) for t in grid)]
    sets += [format_override(f"sweep.zip.{k}", v) for k, v in (_values("--zip", t) for t in zip_)]
    sets += [format_override(f"sweep.random.params.{k}", v) for k, v in map(_draw, random)]
    if trials is not None:
        sets.append(f"sweep.random.samples={trials}")
    if seeds is not None:
        try:
            sets.append(format_override("sweep.seeds", [int(s) for s in seeds.split(",")]))
        except ValueError:
            raise SpecError(
                f"--seeds {seeds!r}: expected whole numbers, e.g. --seeds 0,1,2"
            ) from None
    if repeat is not None:
        sets.append(f"sweep.repeat={repeat}")
    return sets


@app.command()
def sweep(
    spec: Annotated[
        Path | None,
        typer.Argument(help="Spec file (.yaml, .yml, .toml or .json).", show_default=False),
    ] = None,  # noqa: UP045
    set_: SetOpt = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid", help="Grid values of a spec key: --grid optimizer.lr=0.05,0.5,5 (repeatable)."
        ),
    ] = None,  # noqa: UP045
    zip_: Annotated[
        list[str] | None,
        typer.Option(
            "--zip", help="Paired values, one length for all: --zip seed=1,2 (repeatable)."
        ),
    ] = None,  # noqa: UP045
    random: Annotated[
        list[str] | None,
        typer.Option(
            "--random",
            help="Random draws of a key: log:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH or "
            "choice:A,B (repeatable), e.g. --random optimizer.lr=log:1e-3:1.",
        ),
    ] = None,  # noqa: UP045
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help="How many random draws.")
    ] = None,  # noqa: UP045
    seeds: Annotated[
        str | None,
        typer.Option("--seeds", help="Repeat every configuration with these seeds: --seeds 0,1,2."),
    ] = None,  # noqa: UP045
    repeat: Annotated[
        int | None,
        typer.Option("--repeat", min=1, help="Repeat every configuration N times (seeds seed…)."),
    ] = None,  # noqa: UP045
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue the sweep in this folder: finished trials are kept, interrupted ones "
            "continue from their checkpoints, pending ones run.",
        ),
    ] = None,  # noqa: UP045
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
            help="What runs the trials: local (processes, the default), serial, dask, or a plugin.",
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
    """Run every trial of the `sweep:` section of SPEC (or of --grid/--random/--seeds), each a run
    folder inside one sweep folder; rank them. --resume SWEEP_DIR continues a stopped sweep."""
    from deltaw.cli.sweep_progress import SweepProgress
    from deltaw.runs.sweep import plan, read_sweep_info, resume_sweep, run_sweep, with_executor
    from deltaw.runs.sweep_plan import FINAL

    check_by(by)
    cli_sets: list[str] = []
    with friendly_errors():
        cli_sets = sweep_overrides(grid or [], zip_ or [], random or [], trials, seeds, repeat)
        if resume is not None and (spec is not None or cli_sets):
            raise SpecError(
                "--resume SWEEP_DIR continues a sweep as it was planned: give no spec or sweep "
                "options with it (--workers, --executor, --set sweep.executor…, --metric and "
                "--no-plots may change)."
            )
        if resume is None and spec is None:
            raise SpecError("Give a spec file (deltaw sweep SPEC) or --resume SWEEP_DIR.")
        if dry_run and spec is None:
            raise SpecError("--dry-run lists the trials of a spec: give SPEC.")
        overrides = [*(set_ or []), *cli_sets]
        if spec is not None:  # --executor NAME is the override it stands for
            overrides = with_executor(spec, overrides, executor)
    if dry_run:
        assert spec is not None
        with friendly_errors():
            planned = plan(spec, overrides, registry=registry())
        for t in planned.trials:
            out.print(
                f"trial {t.index}: " + " ".join(f"--set {o}" for o in t.overrides),
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        err.print(f"{len(planned.trials)} trials, every one valid.")
        return
    options = dict(
        executor=executor if resume is not None else None,
        workers=workers,
        metric=metric,
        registry=registry(),
        disable=list(_disabled),
        plots=plots,
        by=by,
    )
    with friendly_errors():
        if resume is not None:
            recorded = read_sweep_info(resume).get("trials", [])
            total = len(recorded)
            done = sum(1 for t in recorded if t.get("status") in FINAL)
            if not quiet:
                err.print(f"Resuming the sweep of {total} trials ({done} ended) …")
        else:
            assert spec is not None
            total, done = len(plan(spec, overrides, registry=registry()).trials), 0
            if not quiet:
                err.print(f"Sweep of {total} trials …")
        shown = contextlib.nullcontext() if quiet else SweepProgress(err, total, done)
        with shown as display:
            if display is not None:
                options.update(on_trial=display.trial, on_event=display.event)
            if resume is not None:
                result = resume_sweep(resume, set_ or [], **options)  # type: ignore[arg-type]
            else:
                assert spec is not None
                result = run_sweep(spec, overrides, out_dir, **options)  # type: ignore[arg-type]
    _summary(result, json_out, quiet)


def _summary(result: Any, json_out: bool, quiet: bool = False) -> None:
    import shlex

    from deltaw.cli.report import print_groups
    from deltaw.runs.repeats import group_report

    report = result.report
    groups = group_report(report)
    everything_failed = bool(result.trials) and len(result.failed) == len(result.trials)
    status = "interrupted" if result.interrupted else "failed" if everything_failed else "completed"
    code = 130 if result.interrupted else 1 if everything_failed or result.resumable else 0
    if json_out:
        data = {**report_json(report, result.folder), "status": status, "exit_code": code}
        if groups:
            data["groups"] = [g.to_json() for g in groups]
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif quiet:
        sys.stdout.write(f"{result.folder}\n")  # a script needs the folder, nothing else
    elif groups:
        print_groups(report, groups)
    else:
        print_report(report)
    if not quiet:
        err.print(f"Sweep folder: {result.folder}", highlight=False, soft_wrap=True)
    again = f"deltaw sweep --resume {shlex.quote(str(result.folder))}"
    if result.interrupted:
        err.print(
            styled(
                "[yellow]The sweep was interrupted[/]; finished trials are kept. "
                "Resume it with: {}",
                again,
            ),
            soft_wrap=True,
        )
    elif result.resumable:
        err.print(
            styled(
                "[yellow]{} of {} trials did not run to their end[/] (a worker was lost). "
                "Resume them with: {}",
                len(result.resumable),
                len(result.trials),
                again,
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
