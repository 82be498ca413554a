"""The ``deltaw`` command line (Typer): one module per command, each adding itself to
:data:`app`."""

from deltaw.cli import (  # noqa: F401  (each registers its command)
    explain,
    export,
    gradcheck,
    install,
    new_plugin,
    plot,
    plugins,
    predict,
    report,
    run,
    schema,
    show,
    sweep,
    validate,
)
from deltaw.cli.app import app, main

__all__ = ["app", "main"]
