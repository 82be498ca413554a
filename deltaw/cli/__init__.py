"""The ``deltaw`` command line (Typer). Each module adds its commands to :data:`app`."""

from deltaw.cli import spine  # noqa: F401  (registers commands)
from deltaw.cli.app import app, main

__all__ = ["app", "main"]
