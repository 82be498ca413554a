"""Which distribution provided which names: remembered across runs, for error messages.

When a spec names ``lion`` after ``deltaw-lion`` was uninstalled (or while it
is disabled) the registry no longer knows the name. This small JSON cache,
updated whenever third-party plugins load, lets the error say which package
used to provide it. It is a convenience only: it is never required, and a
missing, corrupt or read-only cache is silently ignored.

The file is ``plugin-names.json`` in ``$DELTAW_CACHE_DIR``, else the user's
cache folder (``$XDG_CACHE_HOME/deltaw`` or ``~/.cache/deltaw`` on Linux,
``~/Library/Caches/deltaw`` on macOS, ``%LOCALAPPDATA%\\deltaw\\Cache`` on
Windows).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deltaw.errors import DeltawError
from deltaw.files import atomic_write, read_json
from deltaw.registry.kinds import BUILTIN

FILENAME = "plugin-names.json"


def cache_dir() -> Path:
    """deltaw's per-user cache folder (``DELTAW_CACHE_DIR`` overrides it)."""
    if os.environ.get("DELTAW_CACHE_DIR"):
        return Path(os.environ["DELTAW_CACHE_DIR"]).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "deltaw" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "deltaw"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deltaw"


def cache_file() -> Path:
    return cache_dir() / FILENAME


def read() -> dict[str, dict[str, dict[str, Any]]]:
    """``{kind: {name: {"plugin", "distribution", "version"}}}``; empty when unreadable."""
    try:
        data = read_json(cache_file(), {})
    except DeltawError:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("names"), dict):
        return {}
    return {k: v for k, v in data["names"].items() if isinstance(v, dict)}


def provider(kind: str, name: str) -> dict[str, Any] | None:
    """Who last provided ``kind`` ``name`` (a third-party plugin), or None."""
    found = read().get(kind, {}).get(name)
    return found if isinstance(found, dict) and found.get("plugin") else None


def remember(plugins: Iterable[Any]) -> None:
    """Record the names every loaded third-party plugin registers; write only on change."""

    known = read()
    merged = {k: dict(v) for k, v in known.items()}
    for p in plugins:
        if p.status != "loaded" or not p.distribution or p.name == BUILTIN:
            continue
        for kind, name in p.registers:
            merged.setdefault(kind, {})[name] = {
                "plugin": p.name,
                "distribution": p.distribution,
                "version": p.version,
            }
    if merged != known:
        _write(merged)


def _write(names: dict[str, Any]) -> None:
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": 1, "names": names}
        atomic_write(path, lambda f: json.dump(data, f, indent=1, sort_keys=True))
    except OSError:
        pass  # a cache we cannot write only costs a less specific error message later
