"""Running a sweep: its trials through an executor into one sweep folder; resuming it.

The sweep folder holds the spec as written, ``overrides.json``, ``sweep.json``
(the sweep and every trial: values, overrides, folder, status, error),
``sweep.csv`` (the summary, best first), ``curves.png`` and one run folder per
trial. A trial's status in ``sweep.json`` is always read from its own
``run.json``; a trial that no one runs any more but whose ``run.json`` says
``running`` is settled as ``interrupted`` with the epochs of its checkpoint.
So the two never disagree, and :func:`resume_sweep` knows what to do:
finished trials are kept, interrupted ones continue from their checkpoints,
pending ones run.

Trials come from a :class:`TrialSource`, asked for the next trial whenever a
worker is free (the built-in source is the planned list; an adaptive search
decides each next trial from the finished ones, and may prune a running trial
from its epoch events). Ctrl-C stops the sweep: running trials stop with a
checkpoint, no new trial starts, and the sweep can be resumed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deltaw.core.run_context import SweepContext
from deltaw.errors import DeltawError, SpecError
from deltaw.files import write_json, write_text
from deltaw.registry import Registry, get_registry
from deltaw.runs.folder import new_run_folder
from deltaw.runs.sweep_driver import Driver, OnEvent, OnTrial, SweepResult, take_status
from deltaw.runs.sweep_plan import (
    TO_RUN,
    Planned,
    Trial,
    TrialSource,
    expand,
    format_override,
    plan,
)
from deltaw.runs.trial import settle
from deltaw.spec.loading import SUFFIXES, read_spec_file
from deltaw.spec.overrides import apply_overrides, parse_override

SourceFactory = Callable[[list[Trial]], TrialSource]

__all__ = [
    "SweepResult",
    "Trial",
    "TrialSource",
    "expand",
    "format_override",
    "plan",
    "resume_sweep",
    "run_sweep",
]


def run_sweep(
    spec_path: str | Path,
    overrides: Sequence[str] = (),
    out: str | Path = "runs",
    *,
    executor: str | None = None,
    workers: int | None = None,
    metric: str | None = None,
    registry: Registry | None = None,
    disable: Sequence[str] = (),
    plots: bool = True,
    on_trial: OnTrial | None = None,
    on_event: OnEvent | None = None,
    by: str = "final",
    source: SourceFactory | None = None,
) -> SweepResult:
    """Run every trial of the spec's sweep into a new sweep folder under ``out``; best first.

    ``executor``/``workers``/``metric`` override the sweep section's; ``by``
    ranks by the final value of the metric (default) or the best over the
    epochs. ``on_event`` sees every trial event (start, epoch), ``on_trial``
    every trial that ended (with the count of ended trials). ``source`` makes
    the :class:`TrialSource` from the planned trials (default: run them all,
    in order); a search decides the trials itself.
    """
    registry = registry or get_registry()
    spec_path = Path(spec_path)
    overrides = with_executor(spec_path, overrides, executor)
    planned = plan(spec_path, overrides, registry)
    sweep = planned.spec.sweep
    assert sweep is not None
    suffix = spec_path.suffix.lower()
    text = spec_path.read_text(encoding="utf-8")
    n = workers or sweep.workers or os.cpu_count() or 1
    runner = planned.executor()
    try:
        runner.start(n, planned.requires)
        folder = new_run_folder(Path(out), f"{planned.spec.name}-sweep")
        write_text(folder / f"spec{suffix}", text)
        write_json(folder / "overrides.json", overrides)
        info = {
            "name": planned.spec.name,
            "spec": str(spec_path),
            "spec_file": f"spec{suffix}",
            "executor": planned.resolved.plugins["sweep.executor"].entry.name,
            "workers": n,
            "metric": metric or sweep.metric,
            "status": "running",
        }
        driver = Driver(folder, info, planned.trials, text, suffix, registry, disable, plots)
        driver.hooks = SweepContext(
            folder, planned.resolved.resolved(), planned.trials, list(overrides), info["metric"]
        )
        make = source or Planned
        return driver.run(runner, make(planned.trials), n, sweep, on_trial, on_event, by)
    finally:
        runner.close()


def resume_sweep(
    folder: str | Path,
    overrides: Sequence[str] = (),
    *,
    executor: str | None = None,
    workers: int | None = None,
    metric: str | None = None,
    registry: Registry | None = None,
    disable: Sequence[str] = (),
    plots: bool = True,
    on_trial: OnTrial | None = None,
    on_event: OnEvent | None = None,
    by: str = "final",
    source: SourceFactory | None = None,
) -> SweepResult:
    """Continue the sweep in ``folder``: finished trials are kept, interrupted ones continue from
    their checkpoints (bit for bit), pending ones run.

    Any executor may resume any sweep: ``executor`` and ``overrides`` of
    ``sweep.executor…`` and ``sweep.workers`` (a new cluster's address) hold for this
    session only; nothing else of the sweep may change.
    """
    registry = registry or get_registry()
    folder = Path(folder)
    info = read_sweep_info(folder)
    for text in overrides:
        key = parse_override(text)[0]
        if not (key in ("sweep.executor", "sweep.workers") or key.startswith("sweep.executor.")):
            raise SpecError(
                f"--resume {folder}: --set {text!r} would change the sweep; a resume may only "
                f"change sweep.executor and sweep.workers (where the trials run). Start a new "
                f"sweep to change {key}."
            )
    spec_path = folder / str(info.get("spec_file") or _spec_file(folder))
    recorded = _read_overrides(folder)
    session = with_executor(spec_path, [*recorded, *overrides], executor)
    planned = plan(spec_path, session, registry)
    sweep = planned.spec.sweep
    assert sweep is not None
    trials = [Trial.from_json(t) for t in info.get("trials", [])]
    if [(t.index, t.overrides) for t in trials] != [(t.index, t.overrides) for t in planned.trials]:
        raise SpecError(
            f"{folder}: sweep.json does not list the trials that the sweep's own "
            f"{spec_path.name} and overrides.json give; the folder was changed by hand. "
            f"Start a new sweep instead."
        )
    for t in trials:
        take_status(t, settle(folder / t.folder))
    todo = [t for t in trials if t.status in TO_RUN]
    n = workers or sweep.workers or int(info.get("workers") or 0) or os.cpu_count() or 1
    info.update(
        executor=planned.resolved.plugins["sweep.executor"].entry.name,
        workers=n,
        metric=metric or info.get("metric"),
        status="running",
    )
    info.pop("trials", None)
    runner = planned.executor()
    try:
        runner.start(n, planned.requires)
        text = spec_path.read_text(encoding="utf-8")
        driver = Driver(folder, info, trials, text, spec_path.suffix, registry, disable, plots)
        make = source or Planned
        return driver.run(runner, make(todo), n, sweep, on_trial, on_event, by)
    finally:
        runner.close()


def with_executor(spec_path: Path, overrides: Sequence[str], executor: str | None) -> list[str]:
    """The overrides with ``--executor NAME`` as the override it stands for, put first so that
    ``--set sweep.executor.address=…`` adds to it; none when the spec names that executor
    already (its parameters stay)."""
    if not executor:
        return list(overrides)
    data = apply_overrides(read_spec_file(spec_path), [parse_override(o) for o in overrides])
    ref = (data.get("sweep") or {}).get("executor", "local")
    name = ref.get("name") if isinstance(ref, dict) else ref
    if name == executor:
        return list(overrides)
    return [format_override("sweep.executor", executor), *overrides]


def read_sweep_info(folder: Path) -> dict[str, Any]:
    """``sweep.json`` of a sweep folder, or an error saying what a sweep folder is."""
    path = folder / "sweep.json"
    if not path.is_file():
        raise DeltawError(
            f"--resume {folder}: not a sweep folder (no sweep.json). Give the folder that "
            f"`deltaw sweep` printed (Sweep folder: …)."
        )
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise DeltawError(f"{path} cannot be read ({exc}).") from None


def _spec_file(folder: Path) -> str:
    for suffix in SUFFIXES:
        if (folder / f"spec{suffix}").is_file():
            return f"spec{suffix}"
    raise DeltawError(f"{folder}: the sweep folder has no spec.yaml (or .toml, .json).")


def _read_overrides(folder: Path) -> list[str]:
    try:
        return [str(o) for o in json.loads((folder / "overrides.json").read_text("utf-8"))]
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise DeltawError(f"{folder / 'overrides.json'} cannot be read ({exc}).") from None
