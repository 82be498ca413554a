"""``deltaw validate``: check a spec and print it resolved."""

from __future__ import annotations

import sys

from deltaw.cli.app import SetOpt, SpecArg, app, friendly_errors, registry


@app.command()
def validate(spec: SpecArg, set_: SetOpt = None) -> None:
    """Check SPEC and print it resolved (every default filled in), or its errors."""
    import yaml

    from deltaw.spec.loading import load_spec

    with friendly_errors():
        parsed, _ = load_spec(spec, set_ or [], registry=registry())
    sys.stdout.write(yaml.safe_dump(parsed.resolved(), sort_keys=False))
