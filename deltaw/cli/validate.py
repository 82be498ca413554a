"""``deltaw validate``: check a spec as ``run`` would, and print it resolved."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from deltaw.cli.app import SetOpt, SpecArg, app, friendly_errors, registry


@app.command()
def validate(
    spec: SpecArg,
    set_: SetOpt = None,
    data: Annotated[
        bool,
        typer.Option(
            "--data/--no-data",
            help="Load the data set, as run does, to check it against the network and monitors.",
        ),
    ] = True,
) -> None:
    """Check SPEC as `deltaw run` would before training; print it resolved (defaults filled in).

    Every problem of the spec, its --set overrides and its plugins is listed at once (exit 2).

    Then the network's memory, the data set (exit 4) and every monitor, as run checks them.
    """
    import yaml

    from deltaw.runs.train import check_spec

    with friendly_errors():
        resolved, _ = check_spec(spec, set_ or [], registry(), load_data=data)
    sys.stdout.write(yaml.safe_dump(resolved.resolved(), sort_keys=False))
