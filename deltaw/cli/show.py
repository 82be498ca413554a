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
    params = getattr(entry.cls, "Params", None)
    if params is None:
        out.print("\nParameters: none.")
        return
    table = Table(title="Parameters", title_justify="left")
    for col in ("name", "type", "default", "description"):
        table.add_column(col, overflow="fold")
    for field_name, field in params.model_fields.items():
        default = (
            "(required)"
            if field.is_required()
            else repr(field.get_default(call_default_factory=True))
        )
        ann = getattr(field.annotation, "__name__", None) or str(field.annotation).replace(
            "typing.", ""
        )
        constraints = " ".join(str(m) for m in field.metadata)
        desc = (field.description or "") + (f" [{constraints}]" if constraints else "")
        table.add_row(field_name, ann, default, desc)
    out.print(table)
