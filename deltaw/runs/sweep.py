"""Sweeps: many runs of one spec, each trial a normal run folder inside a sweep folder.

The spec's ``sweep:`` section (validated by :class:`~deltaw.spec.models.SweepSpec`)
gives the trials: every combination of ``grid``, times the paired rows of
``zip``, times ``random.samples`` draws. Every trial's spec is validated
before anything runs. An executor plugin runs the trials (``local``
processes by default); a failing trial is recorded with its error and the
others go on. The sweep folder holds the spec as written, ``overrides.json``,
``sweep.json`` (every trial: overrides, status, error), ``sweep.csv`` (the
summary, best trial first), ``curves.png`` and one run folder per trial.
"""

from __future__ import annotations

import math
import os
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deltaw.core.run_context import SweepContext
from deltaw.errors import DeltawError, DeltawPluginWarning, SpecError
from deltaw.files import write_json, write_text
from deltaw.registry import Registry, get_registry
from deltaw.registry.sweephooks import sweep_ended, sweep_started, trial_ended
from deltaw.runs.folder import new_run_folder, read_run_info, slug
from deltaw.runs.report import (
    Report,
    collect_runs,
    fmt_value,
    labels,
    report_csv,
    summarize,
)
from deltaw.runs.train import run_spec
from deltaw.spec.loading import load_spec, validate_spec
from deltaw.spec.models import PluginRef, RandomParam, SweepSpec
from deltaw.spec.overrides import apply_overrides
from deltaw.spec.resolve import ResolvedSpec, resolve


@dataclass
class Trial:
    """One trial: its values, the ``--set`` overrides that make it, and how it went."""

    index: int
    values: dict[str, Any]
    overrides: list[str]
    folder: str = ""
    status: str = "pending"  # pending | completed | stopped | interrupted | diverged | failed
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={fmt_value(v, 4)}" for k, v in self.values.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "values": self.values,
            "overrides": self.overrides,
            "folder": self.folder,
            "status": self.status,
            "error": self.error,
            **self.result,
        }


@dataclass
class SweepResult:
    folder: Path
    trials: list[Trial]
    report: Report
    interrupted: bool = False

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.status not in ("completed", "stopped")]


def format_override(key: str, value: Any) -> str:
    """``key=value`` with the value written so that ``--set`` parses it back to the same thing."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    elif text.endswith("..."):
        text = text[:-3].strip()
    return f"{key}={text}"


def expand(sweep: SweepSpec, seed: int) -> list[dict[str, Any]]:
    """The values of every trial, in order: grid combinations × zip rows × random draws."""
    grid = (
        [dict(zip(sweep.grid, combo)) for combo in product(*sweep.grid.values())]
        if sweep.grid
        else [{}]
    )
    paired = [dict(zip(sweep.zip, row)) for row in zip(*sweep.zip.values())] if sweep.zip else [{}]
    draws: list[dict[str, Any]] = [{}]
    if sweep.random is not None:
        rng = np.random.default_rng(sweep.random.seed if sweep.random.seed is not None else seed)
        draws = [
            {k: draw(p, rng) for k, p in sweep.random.params.items()}
            for _ in range(sweep.random.samples)
        ]
    return [{**g, **z, **r} for g in grid for z in paired for r in draws]


def draw(param: RandomParam, rng: np.random.Generator) -> Any:
    """One value from a :class:`RandomParam`."""
    if param.range is not None:
        return float(rng.uniform(*param.range))
    if param.log_range is not None:
        lo, hi = param.log_range
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    if param.int_range is not None:
        return int(rng.integers(param.int_range[0], param.int_range[1] + 1))
    assert param.choice is not None
    return param.choice[int(rng.integers(len(param.choice)))]


def plan(
    spec_path: str | Path, overrides: Sequence[str] = (), registry: Registry | None = None
) -> tuple[ResolvedSpec, list[Trial]]:
    """The sweep's spec (resolved) and its trials, every trial's spec validated (all problems
    reported at once)."""
    registry = registry or get_registry()
    resolved, raw = load_spec(spec_path, list(overrides), registry=registry)
    spec = resolved.spec
    if spec.sweep is None:
        raise SpecError(
            f"{spec_path}: no sweep section, so there is nothing to sweep. Add one, e.g.\n"
            f"  sweep:\n    grid: {{optimizer.lr: [0.025, 0.25, 2.5]}}\n"
            f"or train it once with: deltaw run {spec_path}"
        )
    trials = []
    problems = []
    for i, values in enumerate(expand(spec.sweep, spec.seed), 1):
        sets = [format_override(k, v) for k, v in values.items()]
        trial = Trial(i, values, list(overrides) + sets)
        try:
            data = apply_overrides(raw, [(k, v) for k, v in values.items()])
            validate_spec(data, source=f"trial {i} ({trial.label})", registry=registry)
        except SpecError as exc:
            problems.append(str(exc))
        trials.append(trial)
    if problems:
        shown = problems[:5] + (
            [f"… and {len(problems) - 5} more trials with problems"] if len(problems) > 5 else []
        )
        raise SpecError(
            f"{spec_path}: {len(problems)} of {len(trials)} sweep trials do not validate:\n"
            + "\n".join(shown)
        )
    return resolved, trials


def run_trial(job: dict[str, Any]) -> dict[str, Any]:
    """Run one trial into its folder (module-level and plain data in and out, so executors can ship it anywhere)."""
    folder = Path(job["folder"])
    try:
        with warnings.catch_warnings():  # the sweep reported them already, not once per trial
            warnings.simplefilter("ignore", DeltawPluginWarning)
            registry = get_registry(disable=job.get("disable", ()))
        result = run_spec(
            job["spec"],
            job["overrides"],
            folder=folder,
            registry=registry,
            plots=job.get("plots", True),
            trial=job["index"],
        )
    except BaseException as exc:
        if not isinstance(exc, DeltawError):
            write_text(folder / "error.txt", traceback.format_exc())
        if not (folder / "run.json").exists():
            write_json(
                folder / "run.json",
                {"status": "failed", "message": describe(exc), "epochs": 0, "wall_time": 0.0},
            )
        raise
    final = result.history[-1] if result.history else {}
    return {
        "status": result.status,
        "message": result.message,
        "epochs": len(result.history),
        "wall_time": result.wall_time,
        "final": final,
    }


def describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, DeltawError) else f"{type(exc).__name__}: {exc}"


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
    on_trial: Callable[[Trial, int], None] | None = None,
    by: str = "final",
) -> SweepResult:
    """Run every trial of the spec's sweep; returns the trials and the summary, best first.

    ``executor``/``workers``/``metric`` override the sweep section's; ``by`` ranks
    by the final value of the metric (default) or the best over the epochs. ``on_trial``
    is called as each trial finishes (for progress display). Ctrl-C stops the
    sweep: finished trials are kept, running ones keep their checkpoints.
    """
    registry = registry or get_registry()
    spec_path = Path(spec_path)
    resolved, trials = plan(spec_path, overrides, registry)
    spec = resolved.spec
    assert spec.sweep is not None
    sweep = spec.sweep
    chosen = (
        resolve(registry, "executor", "--executor", PluginRef(name=executor), "--executor")
        if executor
        else resolved.plugins["sweep.executor"]
    )
    runner = chosen.build()
    folder = new_run_folder(Path(out), f"{spec.name}-sweep")
    write_text(folder / f"spec{spec_path.suffix.lower()}", spec_path.read_text(encoding="utf-8"))
    write_json(folder / "overrides.json", list(overrides))
    width = len(str(len(trials)))
    jobs = []
    for t in trials:
        t.folder = _trial_folder(t, width)
        (folder / t.folder).mkdir()
        jobs.append(
            {
                "index": t.index,
                "spec": str(spec_path.resolve()),
                "overrides": t.overrides,
                "folder": str((folder / t.folder).resolve()),
                "disable": list(disable),
                "plots": plots,
            }
        )
    metric = metric or sweep.metric
    info = {
        "name": spec.name,
        "spec": str(spec_path),
        "executor": executor or sweep.executor.name,
        "workers": workers or sweep.workers or os.cpu_count(),
        "metric": metric,
        "status": "running",
    }
    _write_sweep(folder, info, trials)
    hooks = SweepContext(folder, resolved.resolved(), trials, list(overrides), metric)
    sweep_started(registry, hooks)
    by_index = {t.index: t for t in trials}
    interrupted = False
    done = 0
    try:
        for job, result in runner.run(
            run_trial, jobs, workers or sweep.workers or os.cpu_count() or 1
        ):
            t = by_index[job["index"]]
            if isinstance(result, BaseException):
                t.status, t.error = _failure(folder / t.folder), describe(result)
            else:
                t.status, t.result = result["status"], result
                t.error = result["message"] if result["status"] == "interrupted" else ""
                interrupted = interrupted or result["status"] == "interrupted"
            done += 1
            _write_sweep(folder, info, trials)
            trial_ended(registry, hooks, t, result)
            if on_trial is not None:
                on_trial(t, done)
    except KeyboardInterrupt:
        interrupted = True
    for t in trials:
        if t.status == "pending":
            t.status, t.error = (
                "interrupted",
                "the sweep was interrupted before this trial finished",
            )
    info["status"] = "interrupted" if interrupted else "finished"
    _write_sweep(folder, info, trials)
    runs = collect_runs([folder])
    report = summarize(runs, metric, sweep.mode, registry, by=by)
    write_text(folder / "sweep.csv", report_csv(report))
    if plots:
        from deltaw.plots import have_matplotlib

        shown = [r for r in runs if r.history]
        if have_matplotlib() and shown:
            from deltaw.plots.curves import learning_curves

            learning_curves(
                [r.history for r in shown],
                labels(shown),
                folder / "curves.png",
                title=f"{spec.name}: sweep",
            )
    sweep_ended(registry, hooks, info["status"])
    return SweepResult(folder, trials, report, interrupted)


def _trial_folder(trial: Trial, width: int) -> str:
    label = ",".join(f"{k.rsplit('.', 1)[-1]}={fmt_value(v, 4)}" for k, v in trial.values.items())
    safe = slug(label, keep="-_.=,", limit=80, fallback="")
    return f"trial-{trial.index:0{width}d}" + (f"-{safe}" if safe else "")


def _failure(folder: Path) -> str:
    """The trial's status after an exception: what its run.json says (diverged), else failed."""
    try:
        return str(read_run_info(folder).get("status", "failed"))
    except DeltawError:
        return "failed"


def _write_sweep(folder: Path, info: dict[str, Any], trials: list[Trial]) -> None:
    write_json(folder / "sweep.json", {**info, "trials": [t.to_json() for t in trials]})
