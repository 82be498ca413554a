"""Looking at plugins: ``deltaw plugins`` and ``deltaw show``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from deltaw.cli.app import app, friendly_errors, out, registry


@app.command()
def plugins(kind: Annotated[Optional[str], typer.Argument(help="Only this kind (cost, optimizer, …).")] = None) -> None:  # noqa: UP045
    """List every registered name with its kind, origin and summary, and every plugin's status."""
    from rich.table import Table

    with friendly_errors():
        reg = registry()
        entries = reg.entries(kind)
    table = Table(title="Registered names", title_justify="left")
    for col in ("kind", "name", "plugin", "origin", "summary"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(e.kind, e.name, e.plugin.name, e.plugin.origin, e.summary)
    out.print(table)
    status = Table(title="Plugins", title_justify="left")
    for col in ("plugin", "distribution", "version", "status", "registers"):
        status.add_column(col, overflow="fold")
    for p in reg.plugins.values():
        what = p.error if p.status == "failed" else f"{len(p.registers)} names"
        colour = {"loaded": "green", "disabled": "yellow", "failed": "red"}[p.status]
        status.add_row(p.name, p.distribution or "-", p.version or "-", f"[{colour}]{p.status}[/]", what)
    out.print(status)


@app.command()
def show(
    kind: Annotated[str, typer.Argument(help="Plugin kind: cost, activation, initializer, optimizer, …")],
    name: Annotated[str, typer.Argument(help="Registered name.")],
) -> None:
    """Show a plugin's documentation and its parameters with types and defaults."""
    import inspect

    from rich.table import Table

    with friendly_errors():
        entry = registry().entry(kind, name, where=f"`deltaw show {kind} {name}`")
    out.print(f"[bold]{entry.kind} {entry.name}[/]  ({entry.plugin.origin}; {entry.cls.__module__}.{entry.cls.__qualname__})")
    out.print(inspect.cleandoc(entry.cls.__doc__ or "(no documentation)"), highlight=False, markup=False)
    params = getattr(entry.cls, "Params", None)
    if params is None:
        out.print("\nParameters: none.")
        return
    table = Table(title="Parameters", title_justify="left")
    for col in ("name", "type", "default", "description"):
        table.add_column(col, overflow="fold")
    for field_name, field in params.model_fields.items():
        default = "(required)" if field.is_required() else repr(field.get_default(call_default_factory=True))
        ann = getattr(field.annotation, "__name__", None) or str(field.annotation).replace("typing.", "")
        constraints = " ".join(str(m) for m in field.metadata)
        desc = (field.description or "") + (f" [{constraints}]" if constraints else "")
        table.add_row(field_name, ann, default, desc)
    out.print(table)
