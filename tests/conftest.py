"""Shared pytest fixtures."""

import pytest

import deltaw.registry


@pytest.fixture(autouse=True)
def _builtins_only_registry(monkeypatch):
    """Installed third-party plugins never leak into tests: built-ins only, a fresh registry
    per test."""
    monkeypatch.setenv("DELTAW_LOAD_PLUGINS", "")
    deltaw.registry.reset_registry()
    yield
    deltaw.registry.reset_registry()
