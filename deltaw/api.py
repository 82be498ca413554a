"""deltaw from Python, for notebooks and scripts: train, resume, sweep and load runs.

::

    import deltaw

    run = deltaw.run("examples/quickstart.yaml", set={"training.epochs": 5})
    run.history[-1]            # the last epoch's metrics; run.df is a pandas DataFrame
    run.predict(x)             # outputs and classes
    run.evaluate()             # metrics per split, as `deltaw predict` reports them

These functions write the same run and sweep folders as ``deltaw run`` and ``deltaw
sweep``, so a run made here is reported, plotted, predicted and resumed from the shell,
and the other way round. A spec given as a dict or a :class:`~deltaw.spec.models.Spec`
has no file: the run folder's ``spec.yaml`` is written from it (the spec as given, the
``set`` overrides kept apart in ``overrides.json``), so such a run resumes like any other.
Progress is drawn with rich on stderr, or in the notebook under Jupyter; ``quiet=True``
shows nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from deltaw.core.base import Callback
from deltaw.errors import DeltawError, SpecError
from deltaw.files import write_json, write_text
from deltaw.registry import Registry, get_registry
from deltaw.runs.folder import new_run_folder
from deltaw.runs.handles import Prediction, Run, Sweep
from deltaw.spec.loading import apply_overrides, parse_override, validate_spec

if TYPE_CHECKING:
    from rich.console import Console

    from deltaw.runs.train import RunResult
    from deltaw.spec.models import Spec

    SpecLike = str | os.PathLike[str] | Mapping[str, Any] | Spec
    Overrides = Sequence[str] | Mapping[str, Any] | None

__all__ = [
    "Prediction",
    "Run",
    "Sweep",
    "load_run",
    "load_sweep",
    "resume",
    "run",
    "sweep",
    "validate",
]
WRITTEN_FROM = "# The spec as given to deltaw.{} (a {}); the run folder's copy, for resume.\n"


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
    shown = displays(quiet)
    folder: Path | None = None
    try:
        path = spec_path(spec)
        if path is None:
            folder, path = write_spec(spec, overrides, Path(out), "run()", registry)
        result = run_spec(
            path, overrides, out, [*shown, *callbacks], registry, folder=folder, plots=plots
        )
    except BaseException:
        if folder is not None and not (folder / "run.json").exists():
            shutil.rmtree(folder, ignore_errors=True)  # failed before training: leave no trace
        raise
    finally:
        for cb in shown:
            cb.on_run_end(None)
    return finished(result, registry, quiet)


def resume(
    folder: str | Path | Run,
    *,
    set: Overrides = None,  # noqa: A002 (the --set of `deltaw run --resume`)
    callbacks: Sequence[Callback] = (),
    quiet: bool = False,
    plots: bool = True,
    registry: Registry | None = None,
) -> Run:
    """Continue a run from its last checkpoint, like ``deltaw run --resume``.

    ``set`` may only change ``training.epochs`` (to train a finished run for longer).
    """
    from deltaw.runs.train import resume_run

    if isinstance(folder, Run):
        registry = registry or folder._registry
        folder = folder.folder
    registry = registry or get_registry()
    shown = displays(quiet)
    try:
        result = resume_run(folder, as_overrides(set), [*shown, *callbacks], registry, plots=plots)
    finally:
        for cb in shown:
            cb.on_run_end(None)
    return finished(result, registry, quiet)


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

            _, trials = plan(path, overrides, registry)
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
) -> Spec:
    """The validated spec (a file, a dict or a Spec, with overrides), like ``deltaw validate``.

    Raises :class:`deltaw.errors.SpecError` listing every problem at once; ``.resolved()``
    of the result is the spec with every default filled in.
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


# -- specs without a file -------------------------------------------------------------------


def spec_path(spec: SpecLike) -> Path | None:
    """The file of a spec given as a path; None for a dict or a Spec."""
    from deltaw.spec.models import Spec

    if isinstance(spec, (str, os.PathLike)):
        return Path(spec)
    if isinstance(spec, (Mapping, Spec)):
        return None
    raise SpecError(
        f"deltaw got a spec of type {type(spec).__name__}: give a spec file's path, a dict, "
        f"or a deltaw Spec model."
    )


def kind(spec: SpecLike) -> str:
    return "dict" if isinstance(spec, Mapping) else "Spec model"


def validated(
    spec: SpecLike, overrides: list[str], caller: str, registry: Registry
) -> dict[str, Any]:
    """The spec as plain data, after checking that it (with its overrides) validates."""
    raw = plain_spec(spec, caller)
    source = f"the spec given to deltaw.{caller} (a {kind(spec)})"
    validate_spec(apply_overrides(raw, [parse_override(o) for o in overrides]), source, registry)
    return raw


def plain_spec(spec: SpecLike, caller: str) -> dict[str, Any]:
    """A dict or Spec as a deep copy of plain data (a Spec: the fields it was given)."""
    from deltaw.spec.models import Spec

    data = spec.model_dump(mode="json", exclude_unset=True) if isinstance(spec, Spec) else spec
    try:
        return dict(json.loads(json.dumps(data, default=plain)))
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"the spec given to deltaw.{caller} is not plain data ({exc}); a spec holds "
            f"strings, numbers, booleans, lists and dicts."
        ) from None


def write_spec(
    spec: SpecLike, overrides: list[str], out: Path, caller: str, registry: Registry
) -> tuple[Path, Path]:
    """A new run folder holding ``spec.yaml`` written from a dict or Spec; its path."""
    raw = validated(spec, overrides, caller, registry)
    name = apply_overrides(raw, [parse_override(o) for o in overrides]).get("name", "experiment")
    folder = new_run_folder(out, str(name))
    write_text(folder / "spec.yaml", WRITTEN_FROM.format(caller, kind(spec)) + dump(raw))
    return folder, folder / "spec.yaml"


def dump(raw: dict[str, Any]) -> str:
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists (for ``json.dumps``)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not plain data")


def as_overrides(values: Overrides) -> list[str]:
    """``set=`` as ``--set`` strings: a list of ``key=value`` or a mapping of key to value."""
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    if isinstance(values, Mapping):
        from deltaw.runs.sweep import format_override

        return [
            format_override(str(k), json.loads(json.dumps(v, default=plain)))
            for k, v in values.items()
        ]
    return [str(v) for v in values]


# -- progress -------------------------------------------------------------------------------


def make_console() -> Console:
    """rich's console on stderr; under Jupyter rich draws into the notebook instead."""
    from rich.console import Console

    return Console(stderr=True)


def displays(quiet: bool) -> list[Callback]:
    """The progress display: a bar and a line per epoch (lines only in a notebook without
    ipywidgets, which rich needs to redraw a bar in place); nothing when ``quiet``."""
    if quiet:
        return []
    from deltaw.cli.progress import ProgressDisplay

    console = make_console()
    bar = not console.is_jupyter or importlib.util.find_spec("ipywidgets") is not None
    return [ProgressDisplay(console, bar=bar)]


def finished(result: RunResult, registry: Registry, quiet: bool) -> Run:
    """The run's handle, after one summary line (unless ``quiet``)."""
    if not quiet:
        from deltaw.cli.render import metrics_text

        final = metrics_text(result.history[-1]) if result.history else "no epoch finished"
        if result.status == "interrupted":
            head = f"[yellow]{result.message}[/]"
        elif result.status == "stopped":
            head = (
                f"[yellow]Stopped[/] after {len(result.history)} epochs ({result.message}): {final}"
            )
        else:
            head = f"[green]Done[/] in {result.wall_time:.1f}s: {final}"
        make_console().print(
            f"{head}\nRun folder: {result.folder}", highlight=False, soft_wrap=True
        )
    return Run(result.folder, registry)


def trial_line(console: Console, total: int) -> Any:
    """``on_trial`` for :func:`deltaw.runs.sweep.run_sweep`: a line per finished trial."""
    from deltaw.cli.render import fmt_metric

    def show(trial: Any, done: int) -> None:
        colour = (
            "green"
            if trial.status == "completed"
            else "yellow"
            if trial.status in ("stopped", "interrupted")
            else "red"
        )
        final = (trial.result or {}).get("final", {})
        shown = ", ".join(fmt_metric(k, v) for k, v in final.items() if k.startswith("validation_"))
        note = f"  {trial.error.splitlines()[0]}" if trial.error else ""
        console.print(
            f"[{done}/{total}] [{colour}]{trial.status}[/] {trial.label}  {shown}{note}",
            highlight=False,
            soft_wrap=True,
        )

    return show
