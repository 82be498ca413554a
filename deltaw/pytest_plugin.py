"""deltaw's pytest plugin (entry point ``pytest11``): fixtures for plugin authors.

Kept cheap to import: it is loaded by every pytest run in an environment with deltaw.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest


@pytest.fixture
def deltaw_plugin() -> Iterator[Callable[..., Any]]:
    """Register a plugin object (module or object with ``@deltaw.hookimpl`` functions) for one test.

    Usage::

        def test_my_cost_trains(deltaw_plugin):
            registry = deltaw_plugin(my_plugin_module, name="my-plugin")
            ...

    Returns the process-wide registry, so specs validated in the test see the
    plugin; it is unregistered again after the test.
    """
    from deltaw.registry import get_registry

    added: list[str] = []

    def register(obj: Any, name: str = "test-plugin") -> Any:
        registry = get_registry()
        registry.register_plugin(obj, name)
        added.append(name)
        return registry

    yield register
    from deltaw.registry import get_registry

    registry = get_registry()
    for name in added:
        if name in registry.plugins:
            registry.unregister_plugin(name)
