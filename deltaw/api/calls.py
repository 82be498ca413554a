"""The functions of the Python API: validate, run, resume, sweep, load_run, load_sweep."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deltaw.api.display import make_console, trial_line, with_progress
from deltaw.api.handles import Run
from deltaw.api.specs import (
    WRITTEN_FROM,
    as_overrides,
    dump,
    kind,
    plain_spec,
    spec_path,
    validated,
    write_spec,
)
from deltaw.api.sweeps import Sweep
from deltaw.core.base import Callback
from deltaw.errors import DeltawError
from deltaw.files import write_json, write_text
from deltaw.registry import Registry, get_registry
from deltaw.spec.loading import validate_spec
from deltaw.spec.overrides import apply_overrides, parse_override

if TYPE_CHECKING:
    from deltaw.api.specs import Overrides, SpecLike
    from deltaw.runs.train import RunResult
    from deltaw.spec.resolve import ResolvedSpec


def run(
    spec: SpecLike,
    *,
    set: Overrides = None,  # noqa: A002 (the --set of `deltaw run`)
    out: str | Path = "runs",
    callbacks: Sequence[Callback] = (),
    quiet: bool = False,
    plots: bool = True,
    registry: Registry | None = None,
) -> Run:
    """Train ``spec`` into a new run folder under ``out``, like ``deltaw run``.

    Args:
        spec: a spec file (.yaml, .toml, .json), a dict, or a validated ``Spec``.
        set: overrides, as ``["optimizer.lr=0.5"]`` or ``{"optimizer.lr": 0.5}``.
        out: the folder that receives the run folder.
        callbacks: :class:`deltaw.Callback` objects called during training.
        quiet: show no progress.
        plots: write ``curves.png`` (and ``regions.png``) when matplotlib is installed.
        registry: the plugin registry (default: built-ins and installed plugins).

    Returns:
        The :class:`Run`. Ctrl-C (or a notebook's stop button) ends the run cleanly: its
        ``status`` is "interrupted" and ``run.resume()`` continues it. A diverged run
        raises :class:`deltaw.errors.TrainingError`.
    """
    from deltaw.runs.train import run_spec

    registry = registry or get_registry()
    overrides = as_overrides(set)
    folder: Path | None = None

    def train(shown: list[Callback]) -> RunResult:
        nonlocal folder
        path = spec_path(spec)
        if path is None:
            folder, path = write_spec(spec, overrides, Path(out), "run()", registry)
        shown_and_given = [*shown, *callbacks]
        return run_spec(path, overrides, out, shown_and_given, registry, folder=folder, plots=plots)

    try:
        result = with_progress(quiet, train)
    except BaseException:
        if folder is not None and not (folder / "run.json").exists():
            shutil.rmtree(folder, ignore_errors=True)  # failed before training: leave no trace
        raise
    return Run(result.folder, registry)


def resume(
    folder: str | Path | Run,
    *,
    set: Overrides = None,  # noqa: A002 (the --set of `deltaw run --resume`)
    callbacks: Sequence[Callback] = (),
    quiet: bool = False,
    plots: bool = True,
    registry: Registry | None = None,
) -> Run:
    """Continue a run from its last checkpoint, like ``deltaw run --resume``; see Run.resume."""
    run = folder if isinstance(folder, Run) else load_run(folder, registry)
    return run.resume(set=set, callbacks=callbacks, quiet=quiet, plots=plots)


def load_run(folder: str | Path, registry: Registry | None = None) -> Run:
    """The run in ``folder`` (made by :func:`run` or ``deltaw run``)."""
    from deltaw.runs.folder import run_spec_file
    from deltaw.runs.report import is_run, is_sweep

    folder = Path(folder)
    if not folder.is_dir():
        raise DeltawError(f"{folder}: no such run folder. Give a folder that deltaw.run() made.")
    if is_sweep(folder) and not is_run(folder):
        raise DeltawError(
            f"{folder} is a sweep folder, not a run: load it with "
            f"deltaw.load_sweep({str(folder)!r})."
        )
    run_spec_file(folder)  # a clear error when the folder is not a run folder
    return Run(folder, registry)


def sweep(
    spec: SpecLike,
    *,
    set: Overrides = None,  # noqa: A002 (the --set of `deltaw sweep`)
    out: str | Path = "runs",
    executor: str | None = None,
    workers: int | None = None,
    metric: str | None = None,
    by: str = "final",
    quiet: bool = False,
    plots: bool = True,
    registry: Registry | None = None,
) -> Sweep:
    """Run every trial of the spec's ``sweep:`` section, like ``deltaw sweep``.

    ``executor``, ``workers`` and ``metric`` override the sweep section's; ``by`` ranks
    the trials by the final (default) or best value of the metric. Returns the
    :class:`Sweep`: its trials (each a :class:`Run`), its report and its best trial.
    """
    from deltaw.runs.sweep import run_sweep

    registry = registry or get_registry()
    overrides = as_overrides(set)
    console = None if quiet else make_console()
    path = spec_path(spec)
    with tempfile.TemporaryDirectory(prefix="deltaw-sweep-") as tmp:
        if path is None:  # a dict or Spec: a file for the trials to read, copied into the folder
            raw = validated(spec, overrides, "sweep()", registry)
            path = Path(tmp) / "spec.yaml"
            write_text(path, WRITTEN_FROM.format("sweep()", kind(spec)) + dump(raw))
        if console is not None:
            from deltaw.runs.sweep import plan

            trials = plan(path, overrides, registry).trials
            console.print(f"Sweep of {len(trials)} trials …", highlight=False)
        result = run_sweep(
            path,
            overrides,
            out,
            executor=executor,
            workers=workers,
            metric=metric,
            registry=registry,
            plots=plots,
            on_trial=None if console is None else trial_line(console, len(trials)),
            by=by,
        )
    if spec_path(spec) is None:  # record the folder's own copy, not the temporary file
        info = json.loads((result.folder / "sweep.json").read_text(encoding="utf-8"))
        write_json(result.folder / "sweep.json", {**info, "spec": str(result.folder / path.name)})
    if console is not None:
        console.print(f"Sweep folder: {result.folder}", highlight=False, soft_wrap=True)
    return Sweep(result.folder, registry, result.report, metric=metric, by=by)


def load_sweep(
    folder: str | Path,
    *,
    metric: str | None = None,
    by: str = "final",
    registry: Registry | None = None,
) -> Sweep:
    """The sweep in ``folder`` (made by :func:`sweep` or ``deltaw sweep``), ranked by ``metric``."""
    folder = Path(folder)
    if not (folder / "sweep.json").is_file():
        raise DeltawError(
            f"{folder}: not a sweep folder (no sweep.json). Give a folder that deltaw.sweep() "
            f"made, or load a single run with deltaw.load_run()."
        )
    return Sweep(folder, registry, metric=metric, by=by)


def validate(
    spec: SpecLike,
    *,
    set: Overrides = None,  # noqa: A002 (the --set of `deltaw validate`)
    registry: Registry | None = None,
) -> ResolvedSpec:
    """The validated spec (a file, a dict or a Spec, with overrides), like ``deltaw validate``.

    Raises :class:`deltaw.errors.SpecError` listing every problem at once. The result holds
    the ``Spec`` (``.spec``) and every plugin resolved; ``.resolved()`` is the spec with every
    default filled in. ``deltaw.run`` and ``deltaw.sweep`` accept it as their ``spec``.
    """
    from deltaw.spec.loading import load_spec

    registry = registry or get_registry()
    overrides = as_overrides(set)
    path = spec_path(spec)
    if path is not None:
        return load_spec(path, overrides, registry=registry)[0]
    raw = plain_spec(spec, "validate()")
    source = f"the spec given to deltaw.validate() (a {kind(spec)})"
    return validate_spec(
        apply_overrides(raw, [parse_override(o) for o in overrides]), source, registry
    )
