"""Comparing experiments: ``deltaw sweep``, ``deltaw report``, ``deltaw plot`` and ``deltaw predict``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from deltaw.cli.app import SetOpt, SpecArg, _disabled, app, err, friendly_errors, out, registry

PathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Run folders, sweep folders, or folders of runs (e.g. runs/).", show_default=False
    ),
]
MetricOpt = Annotated[
    str | None,
    typer.Option(
        "--metric",
        "-m",
        help="Metric that ranks the runs, e.g. validation_cost; default: validation accuracy when recorded.",
    ),
]  # noqa: UP045
ByOpt = Annotated[
    str,
    typer.Option(
        "--by", help="Rank by the final value of the metric, or the best over the epochs."
    ),
]


def _check_by(by: str) -> str:
    if by not in ("best", "final"):
        err.print(f"[bold red]Error:[/] --by {by!r}: use best or final.")
        raise typer.Exit(2)
    return by


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
        bool, typer.Option("--json", help="Print the summary as JSON on stdout.")
    ] = False,
) -> None:
    """Run every trial of the `sweep:` section of SPEC, each a run folder inside one sweep folder; rank them."""
    from deltaw.runs.sweep import plan, run_sweep

    _check_by(by)
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
            ", ".join(_fmt_metric(k, v) for k, v in final.items() if k.startswith("validation_"))
            or ""
        )
        note = f"  {trial.error.splitlines()[0]}" if trial.error else ""
        err.print(
            f"[{done}/{total[0]}] [{colour}]{trial.status}[/] {trial.label}  {shown}{note}",
            highlight=False,
            soft_wrap=True,
        )

    total = [0]
    with friendly_errors():
        _, planned = plan(spec, set_ or [], registry=registry())
        total[0] = len(planned)
        err.print(f"Sweep of {len(planned)} trials …", highlight=False)
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
    if json_out:
        sys.stdout.write(
            json.dumps(_report_json(report, result.folder), indent=2, default=str) + "\n"
        )
    else:
        _print_report(report)
    err.print(f"Sweep folder: {result.folder}", highlight=False, soft_wrap=True)
    if result.interrupted:
        err.print(
            "[yellow]The sweep was interrupted[/]; finished trials are kept, interrupted ones can be resumed with "
            "deltaw run --resume <trial folder>.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130)
    if result.failed:
        err.print(
            f"[yellow]{len(result.failed)} of {len(result.trials)} trials did not finish[/]; their errors are in sweep.json and sweep.csv.",
            highlight=False,
            soft_wrap=True,
        )
        if len(result.failed) == len(result.trials):
            raise typer.Exit(1)


@app.command()
def report(
    paths: PathsArg,
    metric: MetricOpt = None,
    by: ByOpt = "final",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout.")
    ] = False,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Also write the report as CSV to this file.")
    ] = None,  # noqa: UP045
) -> None:
    """A table of runs: status, epochs, wall time, best and final metrics, and the spec keys in which they differ."""
    from deltaw.files import write_text
    from deltaw.runs.report import collect_runs, report_csv, summarize

    _check_by(by)
    with friendly_errors():
        runs = collect_runs(paths)
        rep = summarize(runs, metric, registry=registry(), by=by)
        if csv_path is not None:
            write_text(csv_path, report_csv(rep))
    if json_out:
        sys.stdout.write(json.dumps(_report_json(rep), indent=2, default=str) + "\n")
        return
    _print_report(rep)
    if csv_path is not None:
        err.print(f"Wrote {csv_path}", highlight=False)


@app.command()
def plot(
    paths: PathsArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="PNG file to write (default: curves.png, or regions.png, in the folder given, or here for several).",
        ),
    ] = None,  # noqa: UP045
    regions: Annotated[
        bool,
        typer.Option(
            "--regions",
            help="Draw the decision regions of each trained run over its 2-D data instead of learning curves.",
        ),
    ] = False,
) -> None:
    """Learning curves of one or several runs on shared axes, labelled by the spec keys in which they differ."""
    from deltaw.plots import pyplot
    from deltaw.runs.report import collect_runs, labels

    default = "regions.png" if regions else "curves.png"
    target = output or (
        (paths[0] / default) if len(paths) == 1 and paths[0].is_dir() else Path(default)
    )
    with friendly_errors():
        runs = collect_runs(paths)
        pyplot()  # says how to install matplotlib when it is missing
        names = labels(runs)
        if regions:
            from deltaw.errors import DeltawError
            from deltaw.plots.curves import decision_regions
            from deltaw.runs.predict import input_data, load_trained

            nets, datas = [], []
            for r in runs:
                trained = load_trained(r.folder, registry())
                if trained.network.sizes[0] != 2:
                    raise DeltawError(
                        f"{r.folder}: decision regions need 2-D inputs; this network takes {trained.network.sizes[0]}."
                    )
                nets.append(trained.network)
                datas.append(input_data(trained, None, registry())[0])
            decision_regions(nets, datas, target, names)
        else:
            from deltaw.plots.curves import learning_curves

            shown = [(r, n) for r, n in zip(runs, names) if r.history]
            if not shown:
                from deltaw.errors import DeltawError

                raise DeltawError("None of these runs has finished an epoch yet: nothing to plot.")
            title = (
                runs[0].resolved.get("name")
                if len({str(r.resolved.get("name")) for r in runs}) == 1
                else None
            )
            learning_curves(
                [r.history for r, _ in shown], [n for _, n in shown], target, title=title
            )
    err.print(f"Wrote {target}", highlight=False, soft_wrap=True)


@app.command()
def predict(
    run_dir: Annotated[
        Path, typer.Argument(help="A run folder (holds weights.npz).", show_default=False)
    ],
    data: Annotated[
        Path | None,
        typer.Argument(
            help="Data-set spec (.yaml/.toml/.json with a data: section) or array file (.npz/.csv); default: the run's own data set.",
            show_default=False,
        ),
    ] = None,  # noqa: UP045
    weights: Annotated[
        Path | None,
        typer.Option(
            "--weights",
            help="Weights file to use instead of RUN_DIR/weights.npz (e.g. RUN_DIR/best.npz).",
        ),
    ] = None,  # noqa: UP045
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Also write the outputs and predicted classes to this .npz."
        ),
    ] = None,  # noqa: UP045
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the metrics as JSON on stdout.")
    ] = False,
) -> None:
    """Load a trained run and report its metrics on a data set (or array file) per split."""
    from rich.table import Table

    from deltaw.runs.predict import evaluate, input_data, load_trained, save_predictions

    with friendly_errors():
        trained = load_trained(run_dir, registry(), weights)
        splits, where = input_data(trained, data, registry())
        results = evaluate(trained, splits)
        if output is not None:
            save_predictions(trained, splits, output)
    if json_out:
        sys.stdout.write(
            json.dumps({"run": str(run_dir), "data": where, "splits": results}, indent=2) + "\n"
        )
    else:
        table = Table(title=f"{run_dir} on {where}", title_justify="left")
        metric_names = (
            [m for m in next(iter(results.values())) if m != "samples"] if results else []
        )
        for col in ("split", "samples", *metric_names):
            table.add_column(col, justify="left" if col == "split" else "right")
        for split, values in results.items():
            table.add_row(
                split,
                str(values["samples"]),
                *(_fmt_metric(m, values[m], bare=True) for m in metric_names),
            )
        out.print(table)
    if output is not None:
        err.print(f"Wrote {output}", highlight=False)


# -- printing --------------------------------------------------------------------------------
def _fmt_metric(key: str, value: Any, bare: bool = False) -> str:
    if value is None:
        return "-"
    text = (
        f"{value:.2%}"
        if key.endswith("accuracy") and isinstance(value, float)
        else f"{value:.4g}"
        if isinstance(value, float)
        else str(value)
    )
    return text if bare else f"{key.replace('_', ' ')} {text}"


def _abbrev(key: str) -> str:
    return (
        key.replace("training_", "train ")
        .replace("validation_", "val ")
        .replace("test_", "test ")
        .replace("accuracy", "acc")
    )


MAX_KEY_COLUMNS = 4  # more differing keys than this are stacked in one column


def _print_report(rep: Any) -> None:
    from rich.table import Table

    from deltaw.runs.report import fmt_value, short_keys

    short = short_keys(rep.keys)
    metric = rep.metric or "metric"
    suffix = metric.split("_", 1)[-1]
    finals: list[str] = []  # the ranking metric on every split (JSON and CSV have every metric)
    for row in rep.rows:
        finals += [k for k in row["final"] if k.split("_", 1)[-1] == suffix and k not in finals]
    direction = "higher" if rep.higher else "lower"
    title = f"{len(rep.rows)} runs, ranked by the {rep.by} {metric} ({direction} is better); last-epoch values per split"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column(
        "run", overflow="fold", min_width=min(20, max((len(r["run"]) for r in rep.rows), default=3))
    )
    stacked = (
        len(rep.keys) > MAX_KEY_COLUMNS
    )  # many differing keys: one column, a key=value line each
    if stacked:
        table.add_column(f"differing keys ({len(rep.keys)})", overflow="fold", min_width=16)
    else:
        for k in rep.keys:
            table.add_column(short[k], overflow="fold")
    table.add_column("status", min_width=9)
    table.add_column(f"best {_abbrev(metric)} (epoch)", justify="right")
    for k in finals:
        table.add_column(_abbrev(k), justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("time", justify="right")
    colours = {
        "completed": "green",
        "stopped": "yellow",
        "interrupted": "yellow",
        "running": "cyan",
    }
    for i, row in enumerate(rep.rows, 1):
        status = f"[{colours.get(row['status'], 'red')}]{row['status']}[/]"
        best = (
            f"{_fmt_metric(metric, row['best'], bare=True)} ({row['best_epoch']})"
            if row["best"] is not None
            else "-"
        )
        keys = [fmt_value(row["keys"][k]) for k in rep.keys]
        if stacked:
            keys = ["\n".join(f"{short[k]}={v}" for k, v in zip(rep.keys, keys))]
        table.add_row(
            str(i),
            row["run"],
            *keys,
            status,
            best,
            *(_fmt_metric(k, row["final"].get(k), bare=True) for k in finals),
            str(row["epochs"]),
            f"{row['wall_time']:.1f}s",
        )
    out.print(table)
    for row in rep.rows:
        if row["status"] not in ("completed", "running") and row["message"]:
            err.print(
                f"{row['run']}: {row['status']}: {row['message']}", highlight=False, soft_wrap=True
            )


def _report_json(rep: Any, folder: Path | None = None) -> dict[str, Any]:
    data = {
        "metric": rep.metric,
        "higher_is_better": rep.higher,
        "ranked_by": rep.by,
        "differing_keys": rep.keys,
        "runs": rep.rows,
    }
    if folder is not None:
        data["sweep_folder"] = str(folder)
    return data
