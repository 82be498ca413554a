"""deltaw's pytest plugin (entry point ``pytest11``): fixtures for plugin authors.

* ``deltaw_registry`` — a fresh registry with deltaw's built-ins only (no
  installed third-party plugin), made the process-wide one for this test, so
  ``deltaw.registry.get_registry()``, spec validation and the CLI all see it.
* ``deltaw_plugin`` — registers a plugin object (a module or any object with
  ``@deltaw.hookimpl`` functions) in that registry for one test and removes it
  afterwards::

      import my_plugin
      from deltaw.registry import get_registry

      def test_my_cost_is_registered(deltaw_plugin):
          deltaw_plugin(my_plugin)
          entry = get_registry().entry("cost", "my-cost")

* ``deltaw_cli`` — runs the ``deltaw`` command line in-process against that
  registry: ``result = deltaw_cli("show", "cost", "my-cost")``.

This module is imported by every pytest run in an environment where deltaw is
installed, so it imports nothing of deltaw's until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def deltaw_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh built-ins-only :class:`deltaw.registry.Registry`, process-wide for this test."""
    from deltaw.registry import Registry
    from deltaw.registry.manager import set_registry

    monkeypatch.setenv(
        "DELTAW_LOAD_PLUGINS", ""
    )  # nothing installed sneaks in if something rebuilds it
    registry = Registry()
    registry.load_builtins()
    previous = set_registry(registry)
    try:
        yield registry
    finally:
        set_registry(previous)


@pytest.fixture
def deltaw_plugin(deltaw_registry: Any) -> Iterator[Callable[..., Any]]:
    """``register(obj, name=None)``: register a plugin object for this test; returns its ``PluginInfo``.

    ``name`` defaults to the module's or object's ``__name__``. A plugin that
    fails to register raises :class:`deltaw.errors.PluginError` with the reason.
    Everything registered is unregistered after the test.
    """
    added: list[str] = []

    def register(obj: Any, name: str | None = None) -> Any:
        name = name or getattr(obj, "__name__", None) or type(obj).__name__
        info = deltaw_registry.register_plugin(obj, name.replace(":", "."))
        added.append(info.name)
        return info

    yield register
    for name in reversed(added):
        if name in deltaw_registry.plugins:
            deltaw_registry.unregister_plugin(name)


@pytest.fixture
def deltaw_cli(deltaw_registry: Any) -> Callable[..., Any]:
    """``run(*args)``: invoke ``deltaw ARGS`` in-process; returns Typer's ``Result`` (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from deltaw.cli import app

    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, [str(a) for a in args])

    return run
