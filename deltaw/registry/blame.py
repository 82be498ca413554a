"""Which plugin raised an exception, read from its traceback after the fact.

Nothing is wrapped while training (no cost per batch): when a run fails,
:func:`culprit` walks the exception's frames from the deepest outwards and maps
each frame's module to the plugin that owns it. The first frame in a
third-party plugin's code names that plugin; the first in deltaw's own code
means deltaw raised it itself. Frames elsewhere (numpy, the standard library,
pluggy) and in the public numerics helpers decide nothing. A method a plugin's
class inherits (from the base classes in ``deltaw.core.base`` or from a built-in
plugin) counts for that plugin when it runs on the plugin's instance, so the
default ``Cost.output_delta`` or a method the plugin forgot to write is its own.

A plugin owns the top-level package of every module that holds one of its hook
functions or registered classes (``deltaw_focal`` for ``deltaw_focal.losses``),
except deltaw's own modules.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from deltaw.registry.kinds import BUILTIN
from deltaw.registry.manager import PluginInfo, Registry

_BASE = "deltaw.core.base"  # the contracts, with their default methods
_BUILTINS = "deltaw.plugins."  # classes a plugin may subclass
_NEUTRAL = ("deltaw.plugins.", "deltaw.core.numerics")  # helpers: never decide who raised


@dataclass(frozen=True)
class Culprit:
    """The plugin whose code raised, and where."""

    plugin: PluginInfo
    method: str  # the plugin's function deltaw called: "Focal.gradient", "deltaw_epoch_end"
    raised_at: str  # "focal.py:12", plus the function when it is not ``method``

    @property
    def who(self) -> str:
        """``plugin 'focal' (distribution deltaw-focal 1.2)``."""
        p = self.plugin
        if p.distribution:
            version = f" {p.version}" if p.version else ""
            return f"plugin {p.name!r} (distribution {p.distribution}{version})"
        if p.path:
            return f"plugin {p.name!r} (file {p.path})"
        return f"plugin {p.name!r} (registered in code, no distribution)"

    def describe(self, exc: BaseException) -> str:
        """``plugin 'focal' (…) raised ValueError in Focal.gradient: … (at f.py:3)``."""
        text = str(exc).strip()
        return (
            f"{self.who} raised {type(exc).__name__} in {self.method}"
            f"{': ' + text if text else ''} (at {self.raised_at})."
        )


def culprit(registry: Registry, exc: BaseException) -> Culprit | None:
    """The third-party plugin whose code raised ``exc``, or None (deltaw's own, or unknown)."""
    owners = _Owners(registry)
    frames = list(traceback.walk_tb(exc.__traceback__))
    owner_of = [owners.of(frame) for frame, _ in frames]
    for i in range(len(frames) - 1, -1, -1):
        owner = owner_of[i]
        if owner is None:
            continue
        if owner is _DELTAW:
            return None
        first = i  # walk out to the plugin function deltaw called (a base class's is deltaw's)
        while first > 0 and owner_of[first - 1] is owner and not _inherited(frames[first - 1][0]):
            first -= 1
        return Culprit(owner, _qualname(frames[first][0]), _where(frames[i], frames[first][0]))
    return None


def _inherited(frame: FrameType) -> bool:
    """A frame of code a plugin's class may inherit: the base classes and the built-ins."""
    module = str(frame.f_globals.get("__name__", ""))
    return module == _BASE or module.startswith(_BUILTINS)


_DELTAW = PluginInfo(BUILTIN)  # marks a frame of deltaw's own code


class _Owners:
    """Module name → the plugin owning it, for every loaded third-party plugin."""

    def __init__(self, registry: Registry) -> None:
        self.exact: dict[str, PluginInfo] = {}
        self.top: dict[str, PluginInfo] = {}
        for info, modules in _plugin_modules(registry):
            for m in modules:
                if m == "deltaw" or m.startswith("deltaw."):
                    continue
                self.exact.setdefault(m, info)
                self.top.setdefault(m.partition(".")[0], info)

    def of(self, frame: FrameType) -> PluginInfo | None:
        """The plugin owning ``frame``'s code, ``_DELTAW`` for deltaw's own, None if neither."""
        module = str(frame.f_globals.get("__name__", ""))
        if module == "deltaw" or module.startswith("deltaw."):
            if _inherited(frame):  # a method a plugin's class inherits is the plugin's
                this = frame.f_locals.get("self")
                return self._module(type(this).__module__) if this is not None else None
            return None if module.startswith(_NEUTRAL) else _DELTAW
        return self._module(module)

    def _module(self, module: str) -> PluginInfo | None:
        return self.exact.get(module) or self.top.get(module.partition(".")[0])


def _plugin_modules(registry: Registry) -> list[tuple[PluginInfo, set[str]]]:
    """Each loaded third-party plugin with the modules of its hook functions and classes."""
    out = []
    entries = registry.entries()
    for info in registry.plugins.values():
        if info.name == BUILTIN or info.status != "loaded":
            continue
        modules = {e.cls.__module__ for e in entries if e.plugin is info}
        obj = registry.pm.get_plugin(info.name)
        if obj is not None:
            for caller in registry.pm.get_hookcallers(obj) or []:
                modules |= {
                    _module_of(impl.function)
                    for impl in caller.get_hookimpls()
                    if impl.plugin is obj
                }
        out.append((info, {m for m in modules if m}))
    return out


def _module_of(function: Any) -> str:
    return str(getattr(function, "__module__", "") or "")


def _qualname(frame: FrameType) -> str:
    """``Focal.gradient`` (the class of ``self`` for a method inherited from a base class)."""
    code = frame.f_code
    this = frame.f_locals.get("self")
    if this is not None and _inherited(frame):
        return f"{type(this).__name__}.{code.co_name}"
    return getattr(code, "co_qualname", code.co_name)


def _where(deepest: tuple[FrameType, int], called: FrameType) -> str:
    frame, line = deepest
    place = f"{Path(frame.f_code.co_filename).name}:{line}"
    if frame is not called:
        place += f" in {frame.f_code.co_name}"
    return place
