"""The plugin manager: built-ins first, then every entry point of the group ``deltaw``.

Each plugin (a module or object with ``@hookimpl`` functions) is loaded and
asked for its registrations on its own. One that fails to import, has a
misspelt hook, or raises inside a register hook is recorded as failed, its
partial registrations are rolled back, and everything else works. With
``DELTAW_STRICT_PLUGINS=1`` such a failure is an error instead.

Environment:

* ``DELTAW_LOAD_PLUGINS`` — comma-separated allow-list of entry-point names;
  set but empty means built-ins only.
* ``DELTAW_DISABLE_PLUGINS`` — comma-separated block-list.
* ``DELTAW_STRICT_PLUGINS=1`` — a broken plugin is a hard error.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from deltaw.errors import DuplicateNameError, PluginError, UnknownNameError
from deltaw.registry import hookspecs
from deltaw.registry.kinds import HOOK_TO_KIND, KINDS, kind

BUILTIN = "deltaw"  # the plugin name (and qualifier) of every built-in
BUILTIN_MODULES = (
    "deltaw.plugins.activations",
    "deltaw.plugins.costs",
    "deltaw.plugins.initializers",
    "deltaw.plugins.optimizers",
    "deltaw.plugins.regularizers",
    "deltaw.plugins.metrics",
    "deltaw.plugins.datasets",
    "deltaw.plugins.schedules",
    "deltaw.plugins.callbacks",
    "deltaw.plugins.executors",
)


@dataclass
class PluginInfo:
    """One plugin: the built-ins, an entry point, or an object registered in code."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"  # loaded | disabled | failed
    error: str | None = None
    registers: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)

    @property
    def origin(self) -> str:
        if self.name == BUILTIN:
            return "built-in"
        if self.distribution:
            return f"{self.distribution} {self.version}"
        return f"plugin {self.name!r}"


@dataclass
class Entry:
    """One registered name of one kind."""

    kind: str
    name: str
    cls: type
    plugin: PluginInfo

    @property
    def summary(self) -> str:
        doc = (self.cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def qualified(self) -> str:
        return f"{self.plugin.name}:{self.name}"


def _env_list(var: str) -> list[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


def strict() -> bool:
    return os.environ.get("DELTAW_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


class Registry:
    """Every plugin and every registered name, per kind."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("deltaw")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._entries: dict[str, dict[str, list[Entry]]] = {k: {} for k in KINDS}

    # -- loading -------------------------------------------------------------------------
    def load_builtins(self) -> None:
        """Register deltaw's own plugin modules, through the same hooks as everyone else."""
        info = PluginInfo(BUILTIN, "deltaw", _version("deltaw"))
        self.plugins[BUILTIN] = info
        for modname in BUILTIN_MODULES:
            self._add(importlib.import_module(modname), info, pm_name=modname)

    def load_entrypoints(self, disable: list[str] | tuple[str, ...] = ()) -> None:
        """Load every entry point of the group ``deltaw``, each on its own."""
        allow = _env_list("DELTAW_LOAD_PLUGINS")
        block = set(_env_list("DELTAW_DISABLE_PLUGINS") or []) | set(disable)
        for ep in sorted(metadata.entry_points(group="deltaw"), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(ep.name, dist.name if dist else None, dist.version if dist else None)
            if ep.name in self.plugins:
                info.status, info.error = "failed", f"another plugin is already called {ep.name!r}"
                self._failed(info)
                continue
            self.plugins[ep.name] = info
            if (allow is not None and ep.name not in allow) or ep.name in block:
                info.status = "disabled"
                continue
            try:
                obj = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a broken plugin must not break deltaw
                if isinstance(exc, KeyboardInterrupt):
                    raise
                info.status, info.error = "failed", _describe(exc)
                self._failed(info)
                continue
            self._add(obj, info, pm_name=ep.name)

    def register_plugin(self, obj: Any, name: str, distribution: str | None = None, version: str | None = None) -> PluginInfo:
        """Register a plugin object in code (tests, notebooks): same path as an entry point."""
        if name in self.plugins:
            raise PluginError(f"A plugin called {name!r} is already registered ({self.plugins[name].origin}).")
        info = PluginInfo(name, distribution, version)
        self.plugins[name] = info
        self._add(obj, info, pm_name=name)
        return info

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin and every name it registered."""
        info = self.plugins.pop(name)
        self._rollback(info)
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)

    def _add(self, obj: Any, info: PluginInfo, pm_name: str) -> None:
        try:
            self.pm.register(obj, name=pm_name)
            self.pm.check_pending()
        except Exception as exc:
            if self.pm.has_plugin(pm_name):
                self.pm.unregister(name=pm_name)
            info.status, info.error = "failed", _describe(exc)
            self._failed(info)
            return
        staged: list[Entry] = []
        try:
            for hook in KINDS.values():
                for impl in getattr(self.pm.hook, hook.hook).get_hookimpls():
                    if impl.plugin is obj:
                        register = self._stager(hook.name, info, staged)
                        impl.function(**{arg: register for arg in impl.argnames})
        except Exception as exc:
            self.pm.unregister(name=pm_name)
            info.status, info.error = "failed", _describe(exc)
            self._failed(info)
            return
        for e in staged:
            self._entries[e.kind].setdefault(e.name, []).append(e)
            info.registers.append((e.kind, e.name))

    def _stager(self, kind_name: str, info: PluginInfo, staged: list[Entry]) -> Any:
        k = KINDS[kind_name]

        def register(name: str, cls: type) -> None:
            if not isinstance(name, str) or not name or ":" in name:
                raise PluginError(f"{k.name} names must be non-empty strings without ':', got {name!r}")
            if not (isinstance(cls, type) and issubclass(cls, k.base)):
                raise PluginError(f"{k.name} {name!r} must be a subclass of deltaw.{k.base.__name__}, got {cls!r}")
            if any(e.kind == k.name and e.name == name for e in staged):
                raise PluginError(f"{k.name} {name!r} is registered twice by the same plugin")
            staged.append(Entry(k.name, name, cls, info))

        return register

    def _rollback(self, info: PluginInfo) -> None:
        for kind_name, name in info.registers:
            rest = [e for e in self._entries[kind_name].get(name, []) if e.plugin is not info]
            if rest:
                self._entries[kind_name][name] = rest
            else:
                self._entries[kind_name].pop(name, None)
        info.registers.clear()

    def _failed(self, info: PluginInfo) -> None:
        where = f" (from {info.distribution} {info.version})" if info.distribution else ""
        message = f"deltaw: plugin {info.name!r}{where} failed to load and was skipped: {info.error}"
        if strict():
            raise PluginError(message + " [DELTAW_STRICT_PLUGINS is set]")
        print(message, file=sys.stderr)

    # -- lookup --------------------------------------------------------------------------
    def names(self, kind_name: str) -> list[str]:
        return sorted(self._entries[kind(kind_name).name])

    def entries(self, kind_name: str | None = None) -> list[Entry]:
        kinds = [kind(kind_name).name] if kind_name else list(KINDS)
        return [e for k in kinds for name in sorted(self._entries[k]) for e in self._entries[k][name]]

    def entry(self, kind_name: str, name: str, where: str | None = None) -> Entry:
        """The entry for ``name`` (or ``plugin:name``); errors say where and suggest names."""
        k = kind(kind_name)
        where = where or k.spec_key
        qualifier, _, bare = name.rpartition(":")
        found = self._entries[k.name].get(bare, [])
        if qualifier:
            found = [e for e in found if qualifier in (e.plugin.name, e.plugin.distribution)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            both = " and ".join(f"{e.plugin.origin} (use {e.qualified!r})" for e in found)
            raise DuplicateNameError(
                f"The {k.name} name {name!r} at {where} is registered by more than one plugin: {both}. "
                f"Pick one with a qualified name, or disable one (DELTAW_DISABLE_PLUGINS or --disable-plugin)."
            )
        raise UnknownNameError(self.unknown_message(k.name, name, where))

    def unknown_message(self, kind_name: str, name: str, where: str) -> str:
        k = KINDS[kind_name]
        known = sorted(self._entries[k.name])
        bare = name.rpartition(":")[2]
        close = difflib.get_close_matches(bare, known, n=3, cutoff=0.0)[:3] if known else []
        msg = f"Unknown {k.name} {name!r} at {where}."
        if close:
            msg += f" Closest registered {k.name}s: {', '.join(close)}."
        inactive = [p for p in self.plugins.values() if p.status != "loaded"]
        if inactive:
            msg += " Not loaded: " + ", ".join(f"{p.name} ({p.status})" for p in inactive) + "."
        return msg + " Run `deltaw plugins` to see every registered name."


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


_REGISTRY: Registry | None = None


def get_registry(disable: list[str] | tuple[str, ...] = ()) -> Registry:
    """The process-wide registry, built on first use (never at import time)."""
    global _REGISTRY
    if _REGISTRY is None:
        reg = Registry()
        reg.load_builtins()
        reg.load_entrypoints(disable)
        _REGISTRY = reg
    return _REGISTRY


def reset_registry() -> None:
    """Forget the process-wide registry; the next :func:`get_registry` rebuilds it."""
    global _REGISTRY
    _REGISTRY = None


__all__ = ["BUILTIN", "Entry", "PluginInfo", "Registry", "get_registry", "reset_registry", "HOOK_TO_KIND"]
