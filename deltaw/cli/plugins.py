"""Plugins from the command line: ``plugins``, ``show``, ``install``, ``uninstall``, ``new-plugin``, ``schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from deltaw.cli.app import app, err, friendly_errors, out, registry


@app.command()
def plugins(
    kind: Annotated[
        str | None, typer.Argument(help="Only this kind (cost, optimizer, …).")
    ] = None,  # noqa: UP045
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
    for e in entries:
        table.add_row(e.kind, e.name, e.plugin.name, e.plugin.origin, e.summary)
    out.print(table)
    status = Table(
        title="Plugins (disable one with --disable-plugin NAME or DELTAW_DISABLE_PLUGINS=NAME)",
        title_justify="left",
    )
    for col in ("plugin", "distribution", "version", "status", "registers"):
        status.add_column(col, overflow="fold")
    for p in reg.plugins.values():
        colour = {"loaded": "green", "disabled": "yellow", "failed": "red"}[p.status]
        status.add_row(
            p.name,
            p.distribution or "-",
            p.version or "-",
            f"[{colour}]{p.status}[/]",
            _registers(p),
            style=None,
        )
    out.print(status)
    for found in reg.conflicts():
        first = found[0]
        who = " and ".join(f"{e.plugin.origin} ({e.qualified!r})" for e in found)
        err.print(
            f"[yellow]Ambiguous:[/] {first.kind} {first.name!r} is registered by {who}; a spec must use a qualified name.",
            highlight=False,
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
    return "; ".join(f"{k}: {', '.join(ns)}" for k, ns in by_kind.items()) or "nothing"


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
        f"[bold]{entry.kind} {entry.name}[/]  (plugin {entry.plugin.name!r}, {entry.plugin.origin}; "
        f"{entry.cls.__module__}.{entry.cls.__qualname__})",
        highlight=False,
    )
    out.print(
        inspect.cleandoc(entry.cls.__doc__ or "(no documentation)"), highlight=False, markup=False
    )
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


Packages = Annotated[
    list[str] | None,
    typer.Argument(help="Packages, as pip takes them: names, paths, URLs.", show_default=False),
]  # noqa: UP045


@app.command()
def install(
    packages: Packages = None,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", "-U", help="Upgrade to the newest version.")
    ] = False,
    editable: Annotated[
        list[str] | None,
        typer.Option(
            "--editable",
            "-e",
            help="Install this folder in editable (development) mode; repeatable.",
        ),
    ] = None,  # noqa: UP045
    force_reinstall: Annotated[
        bool, typer.Option("--force-reinstall", help="Reinstall even if already installed.")
    ] = False,
    no_cache_dir: Annotated[
        bool, typer.Option("--no-cache-dir", help="Do not use pip's cache.")
    ] = False,
    pre: Annotated[bool, typer.Option("--pre", help="Allow pre-release versions.")] = False,
) -> None:
    """Install plugin packages with pip into the very Python environment deltaw runs in."""
    from deltaw.registry import install as inst

    with friendly_errors():
        before = inst.available()
        targets = list(packages or []) + [a for path in editable or [] for a in ("-e", path)]
        code = inst.run_pip(
            "install",
            targets,
            inst.install_options(
                upgrade, force_reinstall=force_reinstall, no_cache_dir=no_cache_dir, pre=pre
            ),
        )
    if code != 0:
        err.print(f"[red]pip failed[/] (exit code {code}); nothing changed in deltaw.")
        raise typer.Exit(code)
    added = sorted(inst.available() - before, key=lambda a: a.name)
    if not added:
        err.print(
            "Installed. No new plugin name appeared (a reinstall or upgrade keeps its names); "
            "run `deltaw plugins` to check their status.",
            soft_wrap=True,
        )
        return
    status = inst.plugin_status([a.name for a in added])
    for a in added:
        st = status.get(a.name, {})
        state = st.get("status", "unknown")
        what = ", ".join(f"{r['kind']} {r['name']}" for r in st.get("registers", [])) or ""
        detail = (
            f": {what}" if state == "loaded" else f": {st.get('error')}" if st.get("error") else ""
        )
        colour = {"loaded": "green", "disabled": "yellow"}.get(str(state), "red")
        err.print(
            f"Plugin {a.name!r} ({a.distribution} {a.version}) [{colour}]{state}[/]{detail}",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def uninstall(
    packages: Packages = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Uninstall plugin packages with pip from the Python environment deltaw runs in."""
    from deltaw.registry import install as inst

    with friendly_errors():
        registry()  # remembers which package provides which names, for later error messages
        before = inst.available()
        code = inst.run_pip("uninstall", list(packages or []), ["--yes"] if yes else [])
    if code != 0:
        err.print(f"[red]pip failed[/] (exit code {code}).")
        raise typer.Exit(code)
    for a in sorted(before - inst.available(), key=lambda a: a.name):
        err.print(
            f"Removed plugin {a.name!r} ({a.distribution} {a.version}).",
            highlight=False,
            soft_wrap=True,
        )


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

    with friendly_errors():
        made = scaffold(name, kind, directory, author=author, description=description)
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


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,  # noqa: UP045
) -> None:
    """Print the JSON Schema of a spec, built from the installed plugins (for editors)."""
    from deltaw.spec.schema import spec_schema, write_schema

    with friendly_errors():
        if output is None:
            sys.stdout.write(json.dumps(spec_schema(registry()), indent=2) + "\n")
            return
        write_schema(output, registry())
    err.print(
        f"Wrote {output}. In a YAML spec, point your editor at it with a first line:\n"
        f"  # yaml-language-server: $schema={output}",
        highlight=False,
    )
