"""``deltaw plot``: learning curves and decision regions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deltaw.cli.app import app, err, friendly_errors, registry
from deltaw.cli.options import PathsArg


@app.command()
def plot(
    paths: PathsArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="PNG file to write (default: curves.png, or regions.png, "
            "in the folder given, or here for several).",
        ),
    ] = None,  # noqa: UP045
    regions: Annotated[
        bool,
        typer.Option(
            "--regions",
            help="Draw the decision regions of each trained run over its 2-D data "
            "instead of learning curves.",
        ),
    ] = False,
    group: Annotated[
        bool,
        typer.Option(
            "--group/--no-group",
            help="Draw repeats (runs differing only in seed) as one band: mean ± std.",
        ),
    ] = True,
) -> None:
    """Learning curves of one or several runs on shared axes, labelled by the keys that differ.

    Repeats of one configuration under several seeds are drawn as a band: the
    mean curve with ± one standard deviation shaded."""
    from deltaw.cli.report import collect_with_warnings
    from deltaw.plots import pyplot
    from deltaw.runs.report import labels

    default = "regions.png" if regions else "curves.png"
    target = output or (
        (paths[0] / default) if len(paths) == 1 and paths[0].is_dir() else Path(default)
    )
    with friendly_errors():
        runs, _ = collect_with_warnings(paths)
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
                        f"{r.folder}: decision regions need 2-D inputs; "
                        f"this network takes {trained.network.sizes[0]}."
                    )
                nets.append(trained.network)
                data, prep = input_data(trained, None, registry())[0], trained.exp.preprocess
                datas.append(data if prep is None else prep.apply_splits(data))  # as trained on
            decision_regions(nets, datas, target, names)
        else:
            from deltaw.runs.repeats import draw_runs

            shown = [r for r in runs if r.history]
            if not shown:
                from deltaw.errors import DeltawError

                raise DeltawError("None of these runs has finished an epoch yet: nothing to plot.")
            title = (
                runs[0].resolved.get("name")
                if len({str(r.resolved.get("name")) for r in runs}) == 1
                else None
            )
            draw_runs(shown, target, title=title, group=group)
    err.print(f"Wrote {target}", highlight=False, soft_wrap=True)
