"""``deltaw new-plugin``: scaffold a plugin package with one or several kinds, or add kinds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deltaw.cli.app import app, err, friendly_errors

KINDS_HELP = (
    "optimizer, cost, activation, initializer, regularizer, metric, dataset, schedule, callback "
    "or transform"
)


@app.command("new-plugin")
def new_plugin(
    name: Annotated[
        str,
        typer.Argument(
            help="The plugin's name, e.g. my-cost (the package becomes deltaw-my-cost); with "
            "--add-kind, the folder of the package to add to.",
            show_default=False,
        ),
    ],
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind", "-k", help=f"A kind to write: {KINDS_HELP}; repeatable. Default: optimizer."
        ),
    ] = None,  # noqa: UP045
    add_kind: Annotated[
        list[str] | None,
        typer.Option(
            "--add-kind",
            help="Add this kind to the existing package in the folder NAME; repeatable.",
        ),
    ] = None,  # noqa: UP045
    names: Annotated[
        list[str] | None,
        typer.Option(
            "--name",
            "-n",
            help="The name a kind registers, KIND=NAME (e.g. cost=focal), or NAME for every "
            "kind; default: the plugin's name. Repeatable.",
        ),
    ] = None,  # noqa: UP045
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
    """Write a ready plugin package (pyproject with the entry point, a documented template, tests
    and an example spec per kind, README), or add kinds to one with --add-kind."""
    from deltaw import scaffold
    from deltaw.errors import DeltawError

    with friendly_errors():
        if add_kind:
            if kind or directory or author or description:
                raise DeltawError(
                    "new-plugin: --add-kind adds to the package in the folder NAME; it takes "
                    "no --kind, --dir, --author or --description."
                )
            made = scaffold.add_kinds(
                name, add_kind, names=scaffold.parse_names(names or [], add_kind)
            )
        else:
            kinds = kind or ["optimizer"]
            made = scaffold.new_plugin(
                name,
                kinds,
                directory,
                names=scaffold.parse_names(names or [], kinds),
                author=author,
                description=description,
            )
        warnings = scaffold.shadowed_builtins(made.registers)
    what = ", ".join(f"{p.kind} {p.name!r} ({p.class_name})" for p in made.parts)
    if add_kind:
        head = f"Added to {made.folder}/ (plugin {made.plugin!r}, package {made.distribution}): "
    else:
        head = f"Created {made.folder}/ (plugin {made.plugin!r}, package {made.distribution}): "
    err.print(head + what, highlight=False, markup=False, soft_wrap=True)
    for f in made.files:
        err.print(f"  {f}", highlight=False, markup=False)
    hints = "".join(
        f"\n  # the {p.kind}:\n" + "\n".join(f"    {line}" for line in p.spec_hint.splitlines())
        for p in made.parts
    )
    err.print(
        f"Next: edit the modules in {made.folder / made.package_dir}, then\n"
        f"  deltaw install -e {made.folder}        # and name them in a spec:{hints}\n"
        f"  python -m pytest {made.folder}/tests   # the deltaw.testing contract checks",
        highlight=False,
        markup=False,
    )
    for warning in warnings:
        err.print(warning, style="yellow", highlight=False, markup=False, soft_wrap=True)
