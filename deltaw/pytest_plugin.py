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
* ``deltaw_check`` — the contract checks of :mod:`deltaw.testing`:
  ``deltaw_check(MyCost)`` runs the check of the plugin's kind (at several
  settings of a class's ``Params``), ``deltaw_check.cost(...)``,
  ``deltaw_check.schedule(...)``, … each kind's check by name, and
  ``deltaw_check.registered(my_plugin)`` checks every class a plugin
  registers. ``deltaw_plugin(my_plugin, check=True)`` registers and checks
  in one go.

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
    """``register(obj, name=None, check=False)``: register a plugin object for this test.

    Returns its ``PluginInfo``. ``name`` defaults to the module's or object's
    ``__name__``. A plugin that fails to register raises
    :class:`deltaw.errors.PluginError` with the reason. ``check=True`` runs the
    contract check of every class it registers (``deltaw.testing.check_plugin``);
    a mapping instead gives per-name options of those checks
    (``{"my-data": {"settings": [{"path": "x.csv"}]}}``). Everything registered
    is unregistered after the test.
    """
    added: list[str] = []

    def register(obj: Any, name: str | None = None, check: Any = False) -> Any:
        name = name or getattr(obj, "__name__", None) or type(obj).__name__
        info = deltaw_registry.register_plugin(obj, name.replace(":", "."))
        added.append(info.name)
        if check:
            from deltaw.testing import check_plugin

            options = check if isinstance(check, dict) else {}
            for entry in deltaw_registry.entries():
                if entry.plugin is info:
                    key = f"{entry.kind}:{entry.name}"
                    check_plugin(entry.cls, **options.get(key, options.get(entry.name, {})))
        return info

    yield register
    for name in reversed(added):
        if name in deltaw_registry.plugins:
            deltaw_registry.unregister_plugin(name)


@pytest.fixture
def deltaw_cli(deltaw_registry: Any) -> Callable[..., Any]:
    """``run(*args)``: invoke ``deltaw ARGS`` in-process; returns Typer's ``Result``
    (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from deltaw.cli import app

    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, [str(a) for a in args])

    return run


class Checks:
    """``deltaw.testing``'s checks in one object: call it, or use one kind's check by name."""

    def __init__(self) -> None:
        from deltaw import testing

        self.cost, self.activation = testing.check_cost, testing.check_activation
        self.initializer, self.optimizer = testing.check_initializer, testing.check_optimizer
        self.transform, self.regularizer = testing.check_transform, testing.check_regularizer
        self.metric, self.dataset = testing.check_metric, testing.check_dataset
        self.schedule, self.callback = testing.check_schedule, testing.check_callback
        self.executor = testing.check_executor
        self.registered, self.settings = testing.check_registered, testing.param_settings
        self._plugin = testing.check_plugin

    def __call__(self, plugin: Any, **options: Any) -> None:
        """The check of ``plugin``'s kind (``deltaw.testing.check_plugin``)."""
        self._plugin(plugin, **options)


@pytest.fixture
def deltaw_check() -> Checks:
    """``check(plugin, **options)``; ``check.cost(...)``, ``check.registered(module)``, …"""
    return Checks()
