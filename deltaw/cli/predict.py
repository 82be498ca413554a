"""``deltaw predict``: evaluate a finished run or save its predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from deltaw.cli.app import app, err, friendly_errors, out, registry
from deltaw.cli.render import fmt_metric


@app.command()
def predict(
    run_dir: Annotated[
        Path, typer.Argument(help="A run folder (holds weights.npz).", show_default=False)
    ],
    data: Annotated[
        Path | None,
        typer.Argument(
            help=(
                "Data-set spec (.yaml/.toml/.json with a data: section) or array file"
                " (.npz/.csv); default: the run's own data set."
            ),
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
        if trained.note:
            err.print(trained.note, highlight=False, markup=False, soft_wrap=True)
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
                *(fmt_metric(m, values[m], bare=True) for m in metric_names),
            )
        out.print(table)
    if output is not None:
        err.print(f"Wrote {output}", highlight=False)
