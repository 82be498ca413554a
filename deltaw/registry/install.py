"""Installing and removing plugin packages with pip, into the Python deltaw runs in.

``deltaw install`` runs ``sys.executable -m pip install …`` (as ``llm install``
does), so a plugin always lands in the environment that will load it, never in
whichever ``pip`` happens to be first on ``PATH``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata

from deltaw.errors import PluginError
from deltaw.registry.distributions import canonical_name

GROUP = "deltaw"


@dataclass(frozen=True)
class Available:
    """A plugin entry point as installed (not loaded): name, distribution, version."""

    name: str
    distribution: str
    version: str


def available() -> set[Available]:
    """Every installed entry point of the group ``deltaw``, read from metadata only."""
    importlib.invalidate_caches()
    out = set()
    for ep in metadata.entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        out.add(Available(ep.name, dist.name if dist else "?", dist.version if dist else "?"))
    return out


def pip_command(action: str, packages: list[str], options: list[str]) -> list[str]:
    """The pip command line for ``action`` (install/uninstall) in this very interpreter."""
    if not packages:
        raise PluginError(
            f"Name at least one package to {action}, e.g. `deltaw {action} deltaw-lion`."
        )
    return [sys.executable, "-m", "pip", action, *options, *packages]


def install_options(
    upgrade: bool = False,
    force_reinstall: bool = False,
    no_cache_dir: bool = False,
    pre: bool = False,
) -> list[str]:
    """pip options for ``deltaw install`` (the same set as ``llm install``)."""
    flags = {
        "--upgrade": upgrade,
        "--force-reinstall": force_reinstall,
        "--no-cache-dir": no_cache_dir,
        "--pre": pre,
    }
    return [f for f, on in flags.items() if on]


def run_pip(action: str, packages: list[str], options: list[str] | None = None) -> int:
    """Run pip; returns its exit code. Refuses to uninstall deltaw itself."""
    if action == "uninstall" and any(_bare(p) == "deltaw" for p in packages):
        raise PluginError(
            "`deltaw uninstall` removes plugins, not deltaw itself; use `python -m pip uninstall deltaw`."
        )
    if importlib.util.find_spec("pip") is None:
        raise PluginError(
            f"pip is not available in the Python environment deltaw runs in ({sys.executable}). "
            f"Add it with `{sys.executable} -m ensurepip`, then try again."
        )
    cmd = pip_command(action, packages, options or [])
    return subprocess.call(cmd)


def plugin_status(names: list[str]) -> dict[str, dict[str, object]]:
    """Load the plugins afresh in a child process (new packages are only importable there)."""
    if not names:
        return {}
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "deltaw", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        return {
            n: {
                "status": "failed",
                "error": (proc.stderr.strip().splitlines() or ["unknown error"])[-1],
            }
            for n in names
        }
    return {p["name"]: p for p in report.get("plugins", []) if p["name"] in names}


def _bare(requirement: str) -> str:
    """'deltaw>=0.1' → 'deltaw' (good enough to recognise deltaw itself)."""
    for sep in "<>=!~[; @":
        requirement = requirement.split(sep)[0]
    return canonical_name(requirement.strip())
