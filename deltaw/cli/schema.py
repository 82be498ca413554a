"""``deltaw schema``: the JSON Schema of a spec, for editors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from deltaw.cli.app import app, err, friendly_errors, registry


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,  # noqa: UP045
) -> None:
    """Print the JSON Schema of a spec, built from the installed plugins (for editors)."""
    from deltaw.spec.schema import spec_schema, write_schema

    with friendly_errors():
        if output is None:
            sys.stdout.write(json.dumps(spec_schema(registry()), indent=2) + "\n")
            return
        write_schema(output, registry())
    err.print(
        f"Wrote {output}. In a YAML spec, point your editor at it with a first line:\n"
        f"  # yaml-language-server: $schema={output}",
        highlight=False,
    )
