"""``deltaw install`` and ``deltaw uninstall``: plugin packages through this Python's pip."""

from __future__ import annotations

from typing import Annotated

import typer

from deltaw.cli.app import app, err, friendly_errors, registry, styled
from deltaw.errors import PluginError

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
        before = inst.snapshot()
        targets = list(packages or []) + [a for path in editable or [] for a in ("-e", path)]
        code = inst.run_pip(
            "install",
            targets,
            inst.install_options(
                upgrade, force_reinstall=force_reinstall, no_cache_dir=no_cache_dir, pre=pre
            ),
        )
    if code != 0:
        err.print(styled("[red]pip failed[/] (exit code {}); nothing changed in deltaw.", code))
        raise typer.Exit(code)
    added = inst.touched(before, inst.snapshot(), targets)
    if not added:
        err.print(
            "Installed. None of the packages pip installed is a deltaw plugin; "
            "run `deltaw plugins` to see the plugins there are.",
            soft_wrap=True,
        )
        return
    status = inst.plugin_status([a.name for a in added])
    failed = []
    for a in added:
        st = status.get(a.name, {})
        state = st.get("status", "unknown")
        what = ", ".join(
            [f"{r['kind']} {r['name']}" for r in st.get("registers", [])]
            + [f"hook {h}" for h in sorted(st.get("hooks", []))]
        )
        detail = (
            f": {what}" if state == "loaded" else f": {st.get('error')}" if st.get("error") else ""
        )
        colour = {"loaded": "green", "disabled": "yellow"}.get(str(state), "red")
        if state not in ("loaded", "disabled"):
            failed.append(a)
        err.print(
            styled(
                f"Plugin {{}} ({{}} {{}}) [{colour}]{{}}[/]{{}}",
                repr(a.name),
                a.distribution,
                a.version,
                state,
                detail,
            ),
            soft_wrap=True,
        )
    if failed:
        dists = sorted({f"{a.distribution} {a.version}" for a in failed})
        names = ", ".join(repr(a.name) for a in failed)
        err.print(
            f"pip installed {', '.join(dists)}, but deltaw cannot load its plugin {names}: "
            "deltaw skips it (DELTAW_STRICT_PLUGINS=1 stops instead). Fix it, or remove it "
            f"with `deltaw uninstall {' '.join(sorted({a.distribution for a in failed}))}`.",
            style="red",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(PluginError.exit_code)


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
        err.print(styled("[red]pip failed[/] (exit code {}).", code))
        raise typer.Exit(code)
    for a in sorted(before - inst.available(), key=lambda a: a.name):
        err.print(
            f"Removed plugin {a.name!r} ({a.distribution} {a.version}).",
            highlight=False,
            soft_wrap=True,
        )
