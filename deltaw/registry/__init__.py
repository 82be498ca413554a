"""pluggy wiring: hook specs, the plugin manager and the registry of names per kind."""

from deltaw.registry.hookspecs import hookimpl, hookspec
from deltaw.registry.kinds import KINDS, Kind
from deltaw.registry.manager import (
    BUILTIN,
    Entry,
    PluginInfo,
    Registry,
    get_registry,
    reset_registry,
)

__all__ = [
    "BUILTIN",
    "KINDS",
    "Entry",
    "Kind",
    "PluginInfo",
    "Registry",
    "get_registry",
    "hookimpl",
    "hookspec",
    "reset_registry",
]
