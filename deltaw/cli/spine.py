"""Running and validating specs: ``deltaw run`` and ``deltaw validate``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from deltaw.cli.app import SetOpt, SpecArg, app, err, friendly_errors, registry


@app.command()
def run(
    spec: SpecArg,
    set_: SetOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder that receives the run folder.")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per epoch on stdout.")] = False,
) -> None:
    """Train the experiment in SPEC into a new run folder."""
    from deltaw.display import JsonLines, ProgressDisplay
    from deltaw.spec.run import run_spec

    shown = [] if quiet or json_lines else [ProgressDisplay(err)]
    if json_lines:
        shown.append(JsonLines())
    with friendly_errors():
        try:
            result = run_spec(spec, set_ or [], out_dir, callbacks=shown, registry=registry())
        finally:
            for cb in shown:
                cb.on_run_end(None)
    if result.status == "interrupted":
        err.print(f"[yellow]{result.message}[/] Run folder: {result.folder}")
        raise typer.Exit(130)
    if not quiet and not json_lines:
        final = result.history[-1] if result.history else {}
        summary = ", ".join(f"{k} {v:.4g}" for k, v in final.items() if k not in ("epoch", "lr", "train_time", "eval_time"))
        note = f" ({result.message})" if result.message else ""
        err.print(f"[green]Done[/] in {result.wall_time:.1f}s{note}: {summary}\nRun folder: {result.folder}")


@app.command()
def validate(spec: SpecArg, set_: SetOpt = None) -> None:
    """Check SPEC and print it resolved (every default filled in), or its errors."""
    import yaml

    from deltaw.spec.loading import load_spec

    with friendly_errors():
        parsed, _ = load_spec(spec, set_ or [], registry=registry())
    sys.stdout.write(yaml.safe_dump(parsed.resolved(), sort_keys=False))
