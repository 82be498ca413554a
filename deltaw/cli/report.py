"""``deltaw report``: compare runs and sweeps in one table."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from deltaw.cli.app import app, err, friendly_errors, out, registry, warn
from deltaw.cli.options import ByOpt, MetricOpt, PathsArg, check_by
from deltaw.cli.render import fmt_metric


@app.command(
    help="A table of runs: status, epochs, wall time, best and final metrics, "
    "and the spec keys in which they differ."
)
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
    group: Annotated[
        bool,
        typer.Option(
            "--group/--no-group",
            help="Show repeats (runs differing only in seed) as one row: mean ± std and n.",
        ),
    ] = True,
) -> None:
    from deltaw.files import write_text
    from deltaw.runs.repeats import group_report
    from deltaw.runs.report import report_csv, summarize

    check_by(by)
    with friendly_errors():
        runs, problems = collect_with_warnings(paths)
        rep = summarize(runs, metric, registry=registry(), by=by)
        if csv_path is not None:
            write_text(csv_path, report_csv(rep))
    groups = group_report(rep) if group else None
    if json_out:
        data = {**report_json(rep), "warnings": problems}
        if groups:
            data["groups"] = [g.to_json() for g in groups]
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if groups:
        print_groups(rep, groups)
    else:
        print_report(rep)
    if csv_path is not None:
        err.print(f"Wrote {csv_path}", highlight=False, soft_wrap=True)


def collect_with_warnings(paths: Any) -> tuple[list[Any], list[str]]:
    """The runs under ``paths``; every damaged file among them is named in a warning on stderr."""
    from deltaw.runs.report import collect_runs

    problems: list[str] = []
    runs = collect_runs(paths, problems)
    problems += [p for r in runs for p in r.problems]
    for problem in problems:
        warn(problem)
    return runs, problems


# -- printing --------------------------------------------------------------------------------
def _abbrev(key: str) -> str:
    return (
        key.replace("training_", "train ")
        .replace("validation_", "val ")
        .replace("test_", "test ")
        .replace("accuracy", "acc")
    )


MAX_KEY_COLUMNS = 4  # more differing keys than this are stacked in one column


def print_report(rep: Any) -> None:
    from rich.table import Table

    from deltaw.runs.report import fmt_value, short_keys

    short = short_keys(rep.keys)
    metric = rep.metric or "metric"
    suffix = metric.split("_", 1)[-1]
    finals: list[str] = []  # the ranking metric on every split (JSON and CSV have every metric)
    for row in rep.rows:
        finals += [k for k in row["final"] if k.split("_", 1)[-1] == suffix and k not in finals]
    direction = "higher" if rep.higher else "lower"
    title = (
        f"{len(rep.rows)} runs, ranked by the {rep.by} {metric} ({direction} is better); "
        f"last-epoch values per split"
    )
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
        status = Text(row["status"], style=colours.get(row["status"], "red"))
        best = (
            f"{fmt_metric(metric, row['best'], bare=True)} ({row['best_epoch']})"
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
            *(fmt_metric(k, row["final"].get(k), bare=True) for k in finals),
            str(row["epochs"]),
            f"{row['wall_time']:.1f}s",
        )
    out.print(table)
    for row in rep.rows:
        if row["status"] not in ("completed", "running") and row["message"]:
            err.print(f"{row['run']}: {row['status']}: {row['message']}", soft_wrap=True)


def print_groups(rep: Any, groups: list[Any]) -> None:
    """One row per configuration: n runs (their seeds) and every metric as mean ± std."""
    from rich.markup import escape
    from rich.table import Table

    from deltaw.runs.repeats import fmt_mean_std

    metric = rep.metric or "metric"
    suffix = metric.split("_", 1)[-1]
    finals: list[str] = []
    for g in groups:
        finals += [k for k in g.final if k.split("_", 1)[-1] == suffix and k not in finals]
    direction = "higher" if rep.higher else "lower"
    grouped = sum(len(g.rows) for g in groups)
    table = Table(
        title=f"{len(groups)} configuration{'s' if len(groups) != 1 else ''} × seeds "
        f"({grouped} runs), ranked by the mean "
        f"{rep.by} {metric} ({direction} is better); mean ± std over the completed runs",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("configuration", overflow="fold", min_width=12)
    table.add_column("n", justify="right")
    table.add_column("seeds", overflow="fold", min_width=5)
    if rep.by == "best":  # the final values are columns anyway
        table.add_column(f"best {_abbrev(metric)}", justify="right")
    for k in finals:
        table.add_column(_abbrev(k), justify="right")
    table.add_column("done", justify="right")
    for i, g in enumerate(groups, 1):
        ok = sum(1 for row in g.rows if row["status"] in ("completed", "stopped"))
        best = [fmt_mean_std(g.value, metric)]
        table.add_row(
            str(i),
            escape(g.label),
            str(len(g.rows)),
            escape(",".join(str(s) for s in sorted(g.seeds, key=_seed_order))),
            *(best if rep.by == "best" else []),
            *(fmt_mean_std(g.final.get(k), k) for k in finals),
            f"{ok}/{len(g.rows)}",
        )
    out.print(table)
    if len(rep.rows) > grouped:
        err.print(f"{len(rep.rows) - grouped} runs have not started yet.", highlight=False)
    for row in rep.rows:
        if row["status"] not in ("completed", "running", "pending") and row["message"]:
            err.print(
                f"{row['run']}: {row['status']}: {row['message']}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


def _seed_order(seed: Any) -> tuple[bool, float, str]:
    number = isinstance(seed, (int, float)) and not isinstance(seed, bool)
    return (not number, float(seed) if number else 0.0, str(seed))


def report_json(rep: Any, folder: Path | None = None) -> dict[str, Any]:
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
