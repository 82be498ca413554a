"""``deltaw plugins``: every plugin and what it registers."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.text import Text

from deltaw.cli.app import app, err, friendly_errors, out, registry, styled


@app.command()
def plugins(
    kind: Annotated[str | None, typer.Argument(help="Only this kind (cost, optimizer, …).")] = None,  # noqa: UP045
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every plugin and name as JSON.")
    ] = False,
) -> None:
    """List every registered name, and every plugin with its distribution, version and status."""
    from rich.table import Table

    with friendly_errors():
        reg = registry()
        entries = reg.entries(kind)
    if as_json:
        report = reg.report()
        if kind:
            report["names"] = (
                [n for n in report["names"] if n["kind"] == entries[0].kind] if entries else []
            )
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    table = Table(title="Registered names", title_justify="left")
    for col in ("kind", "name", "plugin", "origin", "summary"):
        table.add_column(col, overflow="fold")
    for e in entries:  # text, not markup: a summary's [a, b] or a file's path stay as written
        table.add_row(
            *(Text(c) for c in (e.kind, e.name, e.plugin.name, e.plugin.origin, e.summary))
        )
    out.print(table)
    status = Table(
        title="Plugins (disable one with --disable-plugin NAME or DELTAW_DISABLE_PLUGINS=NAME)",
        title_justify="left",
    )
    for col in ("plugin", "distribution or file", "version", "status", "registers"):
        status.add_column(col, overflow="fold")
    for p in reg.plugins.values():
        colour = {"loaded": "green", "disabled": "yellow", "failed": "red"}[p.status]
        status.add_row(
            Text(p.name),
            Text(p.distribution or p.path or "-"),
            p.version or "-",
            Text(p.status, style=colour),
            _registers(p),
            style=None,
        )
    out.print(status)
    for found in reg.conflicts():
        first = found[0]
        who = " and ".join(f"{e.plugin.origin} ({e.qualified!r})" for e in found)
        err.print(
            styled(
                "[yellow]Ambiguous:[/] {} {} is registered by {}; "
                "a spec must use a qualified name.",
                first.kind,
                repr(first.name),
                who,
            ),
            soft_wrap=True,
        )
    for mine, theirs in reg.shadows():
        err.print(
            f"Shadowed: {mine.kind} {mine.name!r} is registered by deltaw and by "
            f"{mine.plugin.origin}; a spec's {mine.name!r} means {mine.qualified!r}, "
            f"{theirs.qualified!r} is the built-in (a default the spec leaves out stays the "
            "built-in).",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _registers(p) -> str:  # noqa: ANN001
    if p.status != "loaded":
        return p.error or ""
    if p.name == "deltaw":
        counts: dict[str, int] = {}
        for k, _ in p.registers:
            counts[k] = counts.get(k, 0) + 1
        return ", ".join(f"{n} {k}s" for k, n in counts.items())
    by_kind: dict[str, list[str]] = {}
    for k, n in p.registers:
        by_kind.setdefault(k, []).append(n)
    if p.hooks:
        by_kind["hooks"] = sorted(p.hooks)
    return "; ".join(f"{k}: {', '.join(ns)}" for k, ns in by_kind.items()) or "nothing"
