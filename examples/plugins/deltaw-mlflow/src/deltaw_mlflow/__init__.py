"""deltaw runs and sweeps in MLflow, logged from the driver through deltaw's hooks.

Installed, every ``deltaw run`` becomes an MLflow run and every ``deltaw sweep``
a parent run with one nested run per trial: parameters are the flattened
resolved spec (``optimizer.lr``, ``network.layers``, …), metrics every epoch's
record at step = epoch, artifacts the run folder, and the versions of deltaw and
of this plugin are tags. The store is ``DELTAW_MLFLOW_URI``, else
``MLFLOW_TRACKING_URI``, else the SQLite file ``runs/mlflow.db``; the experiment
is ``DELTAW_MLFLOW_EXPERIMENT``, else the spec's name.

Where it logs from: a run's hooks run in the process that trains it, which for
``deltaw run`` is the one you started. A sweep's trials may train anywhere
(processes, a cluster), so their run hooks do nothing here (``run.trial`` is
set); the sweep hooks, which deltaw calls only in the sweep's driver, log each
trial as it ends, from its folder. A resumed run (or trial) continues its MLflow
run: the id is kept in the folder's ``mlflow.json``.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

import deltaw
from deltaw.core.run_context import flatten
from deltaw_mlflow.store import Tracked, linked, open_run

__version__ = "0.1.0"

_runs: dict[Path, Tracked] = {}  # the runs this process is logging, by folder


def versions() -> dict[str, str]:
    """The versions that made the numbers, as tags."""
    try:
        mine = version("deltaw-mlflow")
    except PackageNotFoundError:  # run from a checkout, not installed
        mine = __version__
    return {"deltaw.version": deltaw.__version__, "deltaw_mlflow.version": mine}


def run_tags(folder: Path, overrides: list[str], trial: int | None = None) -> dict[str, Any]:
    tags = {**versions(), "deltaw.folder": str(folder.resolve()), "deltaw.overrides": overrides}
    if trial is not None:
        tags["deltaw.trial"] = trial
    return tags


# -- a run: logged as it trains, from the process that trains it ----------------------------


@deltaw.hookimpl
def deltaw_run_start(run: Any) -> None:
    if run is None or run.trial is not None:
        return  # a sweep's trial: the sweep's driver logs it (deltaw_trial_end)
    tracked = open_run(run.folder, run.name, run.folder.name, run_tags(run.folder, run.overrides))
    if tracked.resumed:
        tracked.log_tags({"deltaw.overrides": run.overrides})
    tracked.log_params(run.params)
    _runs[run.folder] = tracked


@deltaw.hookimpl
def deltaw_epoch_end(metrics: dict[str, float], run: Any) -> None:
    tracked = _runs.get(run.folder) if run is not None else None
    if tracked is not None:
        tracked.log_epochs([metrics])


@deltaw.hookimpl
def deltaw_run_end(run: Any) -> None:
    tracked = _runs.pop(run.folder, None) if run is not None else None
    if tracked is None:
        return
    tracked.log_tags({"deltaw.status": run.status})
    tracked.save(run.folder)  # the epochs logged, for a resume
    tracked.log_folder(run.folder)  # called once run.json, weights.npz and the plots are written
    tracked.end(run.status)


# -- a sweep: a parent run, and a nested run per trial as it ends (in the driver) -------------


@deltaw.hookimpl
def deltaw_sweep_start(sweep: Any) -> None:
    tags = {**versions(), "deltaw.folder": str(sweep.folder.resolve()), "deltaw.sweep": "true"}
    tags["deltaw.overrides"] = sweep.overrides
    tags["deltaw.sweep.spec"] = sweep.spec.get("sweep") or {}
    if sweep.metric:
        tags["deltaw.metric"] = sweep.metric
    parent = open_run(sweep.folder, sweep.name, sweep.folder.name, tags)
    parent.log_params(sweep.params)


@deltaw.hookimpl
def deltaw_trial_end(sweep: Any, trial: Any, result: dict[str, Any]) -> None:
    parent = linked(sweep.folder)
    if parent is None:  # the sweep started before this plugin was installed
        return
    folder = sweep.folder / trial.folder
    tags = run_tags(folder, trial.overrides, trial.index)
    tracked = open_run(folder, sweep.name, trial.folder, tags, parent=parent)
    resolved = folder / "resolved.yaml"
    spec = yaml.safe_load(resolved.read_text(encoding="utf-8")) if resolved.exists() else {}
    tracked.log_params(flatten(spec) if spec else sweep.params)
    tracked.log_epochs(_history(folder))
    tracked.log_tags({"deltaw.status": result["status"], "deltaw.message": result["message"]})
    tracked.save(folder)
    tracked.log_folder(folder)
    tracked.end(result["status"])


@deltaw.hookimpl
def deltaw_sweep_end(sweep: Any) -> None:
    parent = linked(sweep.folder)
    if parent is None:
        return
    parent.log_tags({"deltaw.status": sweep.status})
    parent.log_folder(sweep.folder, top_only=True)  # sweep.json, sweep.csv, curves.png
    parent.end(sweep.status)


def _history(folder: Path) -> list[dict[str, float]]:
    path = folder / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
