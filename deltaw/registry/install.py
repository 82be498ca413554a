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


def snapshot() -> dict[Available, tuple[object, ...]]:
    """Every installed entry point of the group ``deltaw``, each with a stamp of its
    distribution's metadata folder: pip reinstalling the package changes the stamp."""
    importlib.invalidate_caches()
    out: dict[Available, tuple[object, ...]] = {}
    for ep in metadata.entry_points(group=GROUP):
        dist = getattr(ep, "dist", None)
        found = Available(ep.name, dist.name if dist else "?", dist.version if dist else "?")
        out[found] = _stamp(dist)
    return out


def _stamp(dist: metadata.Distribution | None) -> tuple[object, ...]:
    folder = getattr(dist, "_path", None)  # the .dist-info folder of a PathDistribution
    try:
        st = os.stat(folder)  # type: ignore[arg-type]
    except (TypeError, OSError):
        return ()
    return (str(folder), st.st_ino, st.st_mtime_ns)


def touched(
    before: dict[Available, tuple[object, ...]],
    after: dict[Available, tuple[object, ...]],
    requested: list[str],
) -> list[Available]:
    """The plugins of what pip just installed: new, upgraded or reinstalled entry points, and
    those of a distribution named on the command line (even when pip found it satisfied)."""
    named = {_bare(r) for r in requested if not r.startswith("-")}
    return sorted(
        (
            a
            for a, stamp in after.items()
            if before.get(a) != stamp or _bare(a.distribution) in named
        ),
        key=lambda a: a.name,
    )


def pip_command(action: str, packages: list[str], options: list[str]) -> list[str]:
    """The pip command line for ``action`` (install/uninstall) in this very interpreter."""
    if not packages:
        raise PluginError(
            f"Name at least one package to {action}, e.g. `deltaw {action} deltaw-lion`."
        )
    return [sys.executable, "-m", "pip", action, *options, *packages]


def pip_commands(action: str, packages: list[str], options: list[str]) -> list[list[str]]:
    """The pip command lines to run in turn for ``action``.

    ``--force-reinstall`` reinstalls the named packages only: pip's own flag
    would reinstall every dependency too, deltaw and numpy included (the very
    deltaw that is running, perhaps an editable checkout). So it runs as
    ``--force-reinstall --no-deps`` on the named packages, then a plain install
    of the same packages brings in any dependency that is missing and leaves the
    installed ones alone.
    """
    if action != "install" or "--force-reinstall" not in options:
        return [pip_command(action, packages, options)]
    plain = [o for o in options if o not in ("--force-reinstall", "--no-deps")]
    return [
        pip_command(action, packages, [*plain, "--force-reinstall", "--no-deps"]),
        pip_command(action, packages, plain),
    ]


def install_options(
    upgrade: bool = False,
    force_reinstall: bool = False,
    no_cache_dir: bool = False,
    pre: bool = False,
) -> list[str]:
    """pip options for ``deltaw install`` (the same set as ``llm install``); see
    :func:`pip_commands` for what ``--force-reinstall`` becomes."""
    flags = {
        "--upgrade": upgrade,
        "--force-reinstall": force_reinstall,
        "--no-cache-dir": no_cache_dir,
        "--pre": pre,
    }
    return [f for f, on in flags.items() if on]


def run_pip(action: str, packages: list[str], options: list[str] | None = None) -> int:
    """Run pip (once, or twice for ``--force-reinstall``); returns the exit code of the
    first call that fails, else 0. Refuses to uninstall deltaw itself."""
    if action == "uninstall" and any(_bare(p) == "deltaw" for p in packages):
        raise PluginError(
            "`deltaw uninstall` removes plugins, not deltaw itself;"
            " use `python -m pip uninstall deltaw`."
        )
    if importlib.util.find_spec("pip") is None:
        raise PluginError(
            f"pip is not available in the Python environment deltaw runs in ({sys.executable}). "
            f"Add it with `{sys.executable} -m ensurepip`, then try again."
        )
    for cmd in pip_commands(action, packages, options or []):
        code = subprocess.call(cmd)
        if code != 0:
            return code
    return 0


def plugin_status(names: list[str]) -> dict[str, dict[str, object]]:
    """Load the plugins afresh in a child process (new packages are only importable there).

    The child reports every plugin, so ``DELTAW_STRICT_PLUGINS`` is not passed
    on: a plugin that fails is a ``failed`` status, not a failed child.
    """
    if not names:
        return {}
    env = {k: v for k, v in os.environ.items() if k != "DELTAW_STRICT_PLUGINS"}
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
    """'deltaw>=0.1' → 'deltaw' (good enough to recognise a distribution by its name)."""
    for sep in "<>=!~[; @":
        requirement = requirement.split(sep)[0]
    return canonical_name(requirement.strip())
