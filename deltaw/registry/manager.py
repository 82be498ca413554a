"""The plugin manager: built-ins first, then every entry point of the group ``deltaw``, then
every plugin file of ``DELTAW_PLUGINS_DIR`` (:mod:`deltaw.registry.local`).

Each plugin (a module or object with ``@hookimpl`` functions) is loaded and
asked for its registrations on its own. One that fails to import, has a
misspelt hook, or raises inside a register hook is recorded as failed, its
partial registrations are rolled back, a :class:`~deltaw.errors.DeltawPluginWarning`
says so, and everything else works. With
``DELTAW_STRICT_PLUGINS=1`` such a failure is an error instead.

Environment:

* ``DELTAW_LOAD_PLUGINS`` — comma-separated allow-list of plugin names;
  set but empty means built-ins only.
* ``DELTAW_DISABLE_PLUGINS`` — comma-separated block-list.
* ``DELTAW_STRICT_PLUGINS=1`` — a broken plugin is a hard error.
* ``DELTAW_PLUGINS_DIR`` — folders (``os.pathsep``-separated) whose ``*.py``
  files are plugins, one each (``deltaw --plugins-dir DIR``).
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from deltaw.errors import (
    DeltawPluginWarning,
    DuplicateNameError,
    PluginError,
    UnknownNameError,
)
from deltaw.registry import hookspecs
from deltaw.registry.distributions import canonical_name, installed_version
from deltaw.registry.kinds import BUILTIN, HOOK_TO_KIND, KINDS, kind
from deltaw.registry.local import load_plugin_files

BUILTIN_MODULES = (
    "deltaw.plugins.activations",
    "deltaw.plugins.costs",
    "deltaw.plugins.costs_margin",
    "deltaw.plugins.initializers",
    "deltaw.plugins.optimizers",
    "deltaw.plugins.optimizers_adaptive",
    "deltaw.plugins.optimizers_papers",
    "deltaw.plugins.transforms",
    "deltaw.plugins.chain",
    "deltaw.plugins.regularizers",
    "deltaw.plugins.metrics",
    "deltaw.plugins.datasets",
    "deltaw.plugins.schedules",
    "deltaw.plugins.callbacks",
    "deltaw.plugins.tensorboard",
    "deltaw.plugins.executors",
    "deltaw.plugins.executor_dask",
)


@dataclass
class PluginInfo:
    """One plugin: the built-ins, an entry point, a plugin file or an object registered in code."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"  # loaded | disabled | failed
    error: str | None = None  # why it failed, or why it is disabled
    registers: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)
    path: str | None = None  # the file of a plugin from DELTAW_PLUGINS_DIR
    hooks: list[str] = field(default_factory=list)  # the run and sweep hooks it implements

    @property
    def origin(self) -> str:
        if self.name == BUILTIN:
            return "built-in"
        if self.distribution:
            return f"{self.distribution} {self.version}"
        if self.path:
            return self.path
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
        info = PluginInfo(BUILTIN, "deltaw", installed_version("deltaw"))
        self.plugins[BUILTIN] = info
        for modname in BUILTIN_MODULES:
            error = self._add(importlib.import_module(modname), info, pm_name=modname)
            if error:  # a bug in deltaw itself: never hide it
                raise PluginError(f"deltaw's built-in module {modname} is broken: {error}")

    def load_entrypoints(self, disable: list[str] | tuple[str, ...] = ()) -> None:
        """Load every entry point of the group ``deltaw``, then every plugin file of
        ``DELTAW_PLUGINS_DIR``, each on its own (:meth:`load_plugin`)."""
        eps = sorted(metadata.entry_points(group="deltaw"), key=lambda e: e.name)
        for ep in eps:
            dist = getattr(ep, "dist", None)
            self.load_plugin(
                ep.name,
                ep.load,
                ep.value,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                disable=disable,
            )
        load_plugin_files(self, disable)
        allow = _env_list("DELTAW_LOAD_PLUGINS")
        self._warn_unknown_switches(allow, set(_env_list("DELTAW_DISABLE_PLUGINS") or []), disable)

    def load_plugin(
        self,
        name: str,
        load: Callable[[], Any],
        source: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
        path: str | None = None,
        disable: list[str] | tuple[str, ...] = (),
    ) -> PluginInfo:
        """Load one plugin on its own: ``load()`` imports it (``source`` names what it
        imports, for messages). A plugin that fails is recorded as failed and reported
        once (:class:`~deltaw.errors.PluginError` with ``DELTAW_STRICT_PLUGINS``); one
        that the allow-list, the block-list or ``disable`` leaves out is disabled."""
        allow = _env_list("DELTAW_LOAD_PLUGINS")
        block_env = set(_env_list("DELTAW_DISABLE_PLUGINS") or [])
        info = PluginInfo(name, distribution, version, path=path)
        if name in self.plugins:
            other = self.plugins[name]
            info.status, info.error = (
                "failed",
                f"another plugin is already called {name!r} ({other.origin})",
            )
            self._failed(info)
            return info
        self.plugins[name] = info
        if allow is not None and name not in allow:
            info.status, info.error = "disabled", "not in DELTAW_LOAD_PLUGINS"
            return info
        if name in block_env or name in disable:
            where = "DELTAW_DISABLE_PLUGINS" if name in block_env else "--disable-plugin"
            info.status, info.error = "disabled", f"named in {where}"
            return info
        try:
            obj = load()
        except BaseException as exc:  # noqa: BLE001 - a broken plugin must not break deltaw
            if isinstance(exc, KeyboardInterrupt):
                raise
            info.status, info.error = "failed", f"cannot import {source!r}: {_describe(exc)}"
            self._failed(info)
            return info
        error = self._add(obj, info, pm_name=name)
        if error:
            info.status, info.error = "failed", error
            self._failed(info)
        return info

    def register_plugin(
        self, obj: Any, name: str, distribution: str | None = None, version: str | None = None
    ) -> PluginInfo:
        """Register a plugin object in code (tests, notebooks): same checks as an entry point.

        Unlike an entry point, a plugin registered in code that fails is an
        error (:class:`~deltaw.errors.PluginError`), and the registry is left
        as it was.
        """
        if not isinstance(name, str) or not name or ":" in name:
            raise PluginError(f"Plugin names must be non-empty strings without ':', got {name!r}.")
        if name in self.plugins:
            raise PluginError(
                f"A plugin called {name!r} is already registered ({self.plugins[name].origin})."
            )
        info = PluginInfo(name, distribution, version)
        error = self._add(obj, info, pm_name=name)
        if error:
            raise PluginError(f"Plugin {name!r} could not be registered: {error}")
        self.plugins[name] = info
        return info

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin and every name it registered."""
        if name == BUILTIN or name not in self.plugins:
            raise PluginError(
                f"No plugin called {name!r} can be unregistered; registered: "
                f"{', '.join(p for p in self.plugins if p != BUILTIN) or 'none'}."
            )
        info = self.plugins.pop(name)
        self._rollback(info)
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)

    def _add(self, obj: Any, info: PluginInfo, pm_name: str) -> str | None:
        """Register ``obj`` and collect its names; on any error undo everything and return it."""
        try:
            self.pm.register(obj, name=pm_name)
            self.pm.check_pending()
        except Exception as exc:
            if self.pm.has_plugin(pm_name):
                self.pm.unregister(name=pm_name)
            return _describe(exc)
        staged: list[Entry] = []
        try:
            unmarked = _unmarked_hooks(obj)
            if unmarked:
                raise PluginError(
                    f"{', '.join(unmarked)} {'is' if len(unmarked) == 1 else 'are'} not decorated "
                    "with "
                    "@deltaw.hookimpl, so deltaw would never call "
                    f"{'it' if len(unmarked) == 1 else 'them'}"
                )
            for hook in KINDS.values():
                for impl in getattr(self.pm.hook, hook.hook).get_hookimpls():
                    if impl.plugin is obj:
                        register = self._stager(hook.name, info, staged)
                        impl.function(**{arg: register for arg in impl.argnames})
        except Exception as exc:
            self.pm.unregister(name=pm_name)
            return _describe(exc)
        for e in staged:
            self._entries[e.kind].setdefault(e.name, []).append(e)
            info.registers.append((e.kind, e.name))
        registering = {k.hook for k in KINDS.values()}
        callers = self.pm.get_hookcallers(obj) or []
        info.hooks += [c.name for c in callers if c.name not in registering]
        return None

    def _stager(self, kind_name: str, info: PluginInfo, staged: list[Entry]) -> Any:
        k = KINDS[kind_name]

        def register(name: str, cls: type) -> None:
            if not isinstance(name, str) or not name or ":" in name:
                raise PluginError(
                    f"{k.name} names must be non-empty strings without ':', got {name!r}"
                )
            if not (isinstance(cls, type) and issubclass(cls, k.base)):
                raise PluginError(
                    f"{k.name} {name!r} must be a subclass of deltaw.{k.base.__name__}, got {cls!r}"
                )
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
        where = f" (from {info.path})" if info.path else where
        message = (
            f"deltaw: plugin {info.name!r}{where} failed to load and was skipped: {info.error}"
        )
        if strict():
            raise PluginError(message + " [DELTAW_STRICT_PLUGINS is set]")
        _warn(message + " (set DELTAW_STRICT_PLUGINS=1 to make this an error)")

    def _warn_unknown_switches(
        self, allow: list[str] | None, block: set[str], disable: list[str] | tuple[str, ...]
    ) -> None:
        """A switch naming no plugin would silently do nothing: say so, and suggest the real
        name."""
        named = [("DELTAW_LOAD_PLUGINS", n) for n in allow or []]
        named += [("DELTAW_DISABLE_PLUGINS", n) for n in sorted(block)] + [
            ("--disable-plugin", n) for n in disable
        ]
        for where, name in named:
            if name in self.plugins and name != BUILTIN:
                continue
            if name == BUILTIN:
                _warn(f"deltaw: {where} names {name!r}: the built-ins are always loaded.")
                continue
            by_dist = [
                p.name
                for p in self.plugins.values()
                if p.distribution and canonical_name(p.distribution) == canonical_name(name)
            ]
            hint = (
                f" {name!r} is a distribution; its plugin name is "
                f"{' / '.join(repr(n) for n in by_dist)}."
                if by_dist
                else ""
            )
            if not hint:
                others = [p for p in self.plugins if p != BUILTIN]
                close = difflib.get_close_matches(name, others, n=3, cutoff=0.5)
                hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            _warn(
                f"deltaw: {where} names {name!r}, but no installed plugin has that name.{hint} "
                "Run `deltaw plugins` to see plugin names."
            )

    # -- lookup --------------------------------------------------------------------------
    def names(self, kind_name: str) -> list[str]:
        return sorted(self._entries[kind(kind_name).name])

    def entries(self, kind_name: str | None = None) -> list[Entry]:
        kinds = [kind(kind_name).name] if kind_name else list(KINDS)
        return [
            e for k in kinds for name in sorted(self._entries[k]) for e in self._entries[k][name]
        ]

    def report(self) -> dict[str, Any]:
        """Every plugin and every name as plain data (``deltaw plugins --json``)."""
        plugins = [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "status": p.status,
                "error": p.error,
                "registers": [{"kind": k, "name": n} for k, n in p.registers],
                "path": p.path,
                "hooks": list(p.hooks),
            }
            for p in self.plugins.values()
        ]
        names = [
            {
                "kind": e.kind,
                "name": e.name,
                "plugin": e.plugin.name,
                "qualified": e.qualified,
                "summary": e.summary,
            }
            for e in self.entries()
        ]
        return {"plugins": plugins, "names": names}

    def conflicts(self) -> list[list[Entry]]:
        """Every (kind, name) that two installed plugins register: naming it bare is an error."""
        return [
            found
            for k in KINDS
            for name, found in sorted(self._entries[k].items())
            if len(found) > 1 and self.bare_entry(k, name) is None
        ]

    def entry_among(self, kinds: tuple[str, ...], name: str, where: str) -> Entry:
        """The one registered plugin ``name`` (or ``plugin:name``) names among ``kinds``."""
        bare = name.rpartition(":")[2]
        hits: list[Entry] = []
        for kind_name in kinds:
            if bare in self.names(kind_name):
                try:
                    hits.append(self.entry(kind_name, name, where=where))
                except UnknownNameError:  # registered, but not by the plugin the qualifier names
                    continue
        if len(hits) == 1:
            return hits[0]
        what = " or ".join(kinds)
        if len(hits) > 1:
            both = " and ".join(f"{_an(e.kind)} {e.qualified!r} ({e.plugin.origin})" for e in hits)
            pick = (  # one plugin registering both: no qualifier tells them apart
                "Plugin authors: register them under different names."
                if len({e.qualified for e in hits}) == 1
                else "Pick one with its qualified name."
            )
            raise DuplicateNameError(f"The name {name!r} at {where} is both {both}. {pick}")
        known = sorted({n for k in kinds for n in self.names(k)})
        close = difflib.get_close_matches(bare, known, n=3, cutoff=0.0)[:3]
        raise UnknownNameError(
            f"Unknown {what} {name!r} at {where}. Closest registered names: {', '.join(close)}. "
            "Run `deltaw plugins` to see every registered name."
        )

    def shadows(self) -> list[tuple[Entry, Entry]]:
        """``(installed, built-in)`` for every name that one installed plugin takes from deltaw."""
        out = []
        for k in KINDS:
            for name, found in sorted(self._entries[k].items()):
                mine = self.bare_entry(k, name)
                if len(found) > 1 and mine is not None:
                    out += [(mine, e) for e in found if e.plugin.name == BUILTIN]
        return out

    def bare_entry(self, kind_name: str, name: str) -> Entry | None:
        """What the bare ``name`` means, or None if it is unknown or ambiguous.

        The name rule: a name only one plugin registers is that plugin's; a name
        that deltaw and one installed plugin register is the installed plugin's
        (so a later deltaw that adds a built-in of the same name never changes
        what a spec means; ``deltaw:NAME`` is the built-in); a name that two
        installed plugins register is ambiguous.
        """
        found = self._entries[kind(kind_name).name].get(name, [])
        if len(found) == 1:
            return found[0]
        installed = [e for e in found if e.plugin.name != BUILTIN]
        return installed[0] if len(installed) == 1 else None

    def entry(self, kind_name: str, name: str, where: str | None = None) -> Entry:
        """The entry for ``name`` (or ``plugin:name``); errors say where and suggest names."""
        k = kind(kind_name)
        where = where or k.spec_key
        qualifier, _, bare = name.rpartition(":")
        found = self._entries[k.name].get(bare, [])
        if qualifier:
            picked = [
                e
                for e in found
                if qualifier == e.plugin.name
                or (
                    e.plugin.distribution
                    and canonical_name(qualifier) == canonical_name(e.plugin.distribution)
                )
            ]
            if not picked and found:
                offered = ", ".join(f"{e.qualified!r} ({e.plugin.origin})" for e in found)
                raise UnknownNameError(
                    f"The {k.name} {name!r} at {where} asks for plugin {qualifier!r}, which does "
                    "not register "
                    f"{k.name} {bare!r}. It is registered as: {offered}. Run `deltaw plugins` to "
                    "see every plugin."
                )
            found = picked
        elif len(found) > 1 and (mine := self.bare_entry(k.name, bare)) is not None:
            _shadow_notice(k.name, bare, where, mine)
            return mine
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            both = " and ".join(f"{e.plugin.origin} (use {e.qualified!r})" for e in found)
            raise DuplicateNameError(
                f"The {k.name} name {name!r} at {where} is registered by more than one plugin: "
                f"{both}. Pick one with a qualified name, or disable one "
                "(DELTAW_DISABLE_PLUGINS or --disable-plugin)."
            )
        raise UnknownNameError(self.unknown_message(k.name, name, where))

    def unknown_message(self, kind_name: str, name: str, where: str) -> str:
        """'Unknown …': who used to provide the name (if known), the 3 closest names, what to
        run."""
        k = KINDS[kind_name]
        known = sorted(self._entries[k.name])
        bare = name.rpartition(":")[2]
        close = difflib.get_close_matches(bare, known, n=3, cutoff=0.0)[:3] if known else []
        msg = f"Unknown {k.name} {name!r} at {where}."
        msg += self._former_provider(k.name, bare)
        if close:
            msg += f" Closest registered {k.name}s: {', '.join(close)}."
        else:
            msg += f" No {k.name} is registered at all."
        inactive = [p for p in self.plugins.values() if p.status != "loaded"]
        if inactive:
            msg += " Not loaded: " + ", ".join(f"{p.name} ({p.status})" for p in inactive) + "."
        return msg + " Run `deltaw plugins` to see every registered name."

    def _former_provider(self, kind_name: str, name: str) -> str:
        from deltaw.registry import provenance

        was = provenance.provider(kind_name, name)
        if was is None:
            return ""
        dist, plugin = was.get("distribution") or "?", was["plugin"]
        version = f" {was['version']}" if was.get("version") else ""
        head = f" It was provided by plugin {plugin!r} of the package {dist}{version},"
        now = self.plugins.get(plugin)
        if now is None:
            return (
                f"{head} which is not installed in this Python environment ({sys.executable}); "
                f"install it with `deltaw install {dist}`."
            )
        if now.status == "disabled":
            return f"{head} which is disabled ({now.error}); enable it to use {name!r}."
        if now.status == "failed":
            return f"{head} which failed to load: {now.error}."
        return f"{head} but the installed {now.origin} no longer registers it."


def _shadow_notice(kind_name: str, name: str, where: str, mine: Entry) -> None:
    """One line: the bare name means the installed plugin's, and how to pick the built-in."""
    _warn(
        f"deltaw: the {kind_name} {name!r} at {where} means plugin {mine.plugin.name!r} "
        f"({mine.plugin.origin}), which shadows deltaw's built-in {name!r}: write "
        f"'{BUILTIN}:{name}' for the built-in, or {mine.qualified!r} to keep the plugin's "
        "without this notice."
    )


def _an(word: str) -> str:
    """``a cost``, ``an optimizer``."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _warn(message: str) -> None:
    """Report a skipped plugin, a switch naming none or a shadowed built-in (the CLI prints
    it on stderr)."""
    warnings.warn(message, DeltawPluginWarning, stacklevel=3)


def _unmarked_hooks(obj: Any) -> list[str]:
    """Functions named like a registration hook that lack ``@deltaw.hookimpl`` (a silent no-op
    otherwise)."""
    out = []
    for hook in [
        *HOOK_TO_KIND,
        "deltaw_run_start",
        "deltaw_epoch_end",
        "deltaw_batch_end",
        "deltaw_run_end",
    ]:
        fn = getattr(obj, hook, None)
        if callable(fn) and not hasattr(fn, "deltaw_impl"):
            out.append(f"{hook}()")
    return out


def _describe(exc: BaseException) -> str:
    """``Type: message at file:line`` — the deepest frame that is not import machinery."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"SyntaxError: {exc.msg} at {exc.filename}:{exc.lineno}"
    machinery = (
        os.path.dirname(importlib.__file__),
        os.path.dirname(pluggy.__file__),
        os.path.dirname(__file__),
    )
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(("<", *machinery))
    ]
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


_REGISTRY: Registry | None = None


def get_registry(disable: list[str] | tuple[str, ...] = ()) -> Registry:
    """The process-wide registry, built on first use (never at import time)."""
    global _REGISTRY
    if _REGISTRY is None:
        from deltaw.registry import provenance

        reg = Registry()
        reg.load_builtins()
        reg.load_entrypoints(disable)
        provenance.remember(reg.plugins.values())
        _REGISTRY = reg
    return _REGISTRY


def set_registry(registry: Registry | None) -> Registry | None:
    """Make ``registry`` the process-wide one (tests, the pytest fixture); returns the previous
    one."""
    global _REGISTRY
    previous, _REGISTRY = _REGISTRY, registry
    return previous


def reset_registry() -> None:
    """Forget the process-wide registry; the next :func:`get_registry` rebuilds it."""
    global _REGISTRY
    _REGISTRY = None


__all__ = [
    "BUILTIN",
    "Entry",
    "PluginInfo",
    "Registry",
    "get_registry",
    "reset_registry",
    "set_registry",
    "HOOK_TO_KIND",
]
