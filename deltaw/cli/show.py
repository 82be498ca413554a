"""``deltaw show``: one plugin's documentation and parameters."""

from __future__ import annotations

from typing import Annotated

import typer

from deltaw.cli.app import app, friendly_errors, out, registry, styled


@app.command()
def show(
    kind: Annotated[
        str, typer.Argument(help="Plugin kind: cost, activation, initializer, optimizer, …")
    ],
    name: Annotated[str, typer.Argument(help="Registered name (or plugin:name).")],
) -> None:
    """Show a plugin's documentation and its parameters with types and defaults."""

    import inspect

    from rich.table import Table
    from rich.text import Text

    from deltaw.spec.describe import param_rows

    with friendly_errors():
        entry = registry().entry(kind, name, where=f"`deltaw show {kind} {name}`")
    out.print(
        styled(
            "[bold]{} {}[/]  (plugin {}, {}; {}.{})",
            entry.kind,
            entry.name,
            repr(entry.plugin.name),
            entry.plugin.origin,
            entry.cls.__module__,
            entry.cls.__qualname__,
        )
    )
    out.print(inspect.cleandoc(entry.cls.__doc__ or "(no documentation)"), highlight=False)
    rows = param_rows(entry.cls)
    if not rows:
        out.print("\nParameters: none.")
        return
    table = Table(title="Parameters", title_justify="left")
    for col in ("name", "type", "default", "description"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # text, not markup
    out.print(table)
