"""The ``deltaw`` command line (Typer). Each module adds its commands to :data:`app`."""

from deltaw.cli import experiments, mystery, plugins, run  # noqa: F401  (each registers its commands)
from deltaw.cli.app import app, main

__all__ = ["app", "main"]
