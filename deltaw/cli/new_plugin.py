"""``deltaw new-plugin``: scaffold a plugin package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deltaw.cli.app import app, err, friendly_errors


@app.command("new-plugin")
def new_plugin(
    name: Annotated[
        str,
        typer.Argument(
            help="The plugin's name, e.g. my-cost (the package becomes deltaw-my-cost)."
        ),
    ],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            "-k",
            help="optimizer, cost, activation, initializer, regularizer, metric, dataset, schedule or callback.",
        ),
    ] = "optimizer",
    directory: Annotated[
        Path | None, typer.Option("--dir", "-d", help="Folder to create; default ./NAME.")
    ] = None,  # noqa: UP045
    author: Annotated[str, typer.Option("--author", help="Author for pyproject.toml.")] = "",
    description: Annotated[
        str,
        typer.Option(
            "--description", help="One-line description for pyproject.toml and the README."
        ),
    ] = "",
) -> None:
    """Write a ready plugin package: pyproject with the entry point, a documented template, tests, README."""
    from deltaw.scaffold import new_plugin as scaffold
    from deltaw.scaffold import shadow_warning

    with friendly_errors():
        made = scaffold(name, kind, directory, author=author, description=description)
        warning = shadow_warning(made.kind, made.name)
    err.print(
        f"Created {made.folder}/ ({made.kind} {made.name!r} in the package {made.distribution}):",
        highlight=False,
    )
    for f in made.files:
        err.print(f"  {f}", highlight=False)
    err.print(
        f"Next: edit {made.module_path}, then\n"
        f"  deltaw install -e {made.folder}        # use it in specs as {made.spec_hint}\n"
        f"  python -m pytest {made.folder}/tests   # the deltaw.testing contract checks",
        highlight=False,
    )
    if warning:
        err.print(warning, style="yellow", highlight=False, markup=False, soft_wrap=True)
