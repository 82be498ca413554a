"""One sweep trial as a worker runs it: from a self-contained job to a run folder.

A job is plain data: the trial's ``index`` and folder ``name``, the spec's text
(``spec_text``) and ``suffix``, its ``overrides``, where results go, and the
channel's endpoint (``events``). With ``results: shared`` the trial writes into
``folder``, a path every worker sees; with ``return`` it runs in a temporary
folder here, asks the driver for the files it already holds (a checkpoint to
resume from), sends its files after every epoch and returns them at the end.
Either way a trial whose folder holds a checkpoint resumes from it, bit for bit.

:func:`run_trial` never raises for the trial's own failures: the status and
message are in its ``run.json`` and in the result. Ctrl-C before or after
training raises KeyboardInterrupt; during training it ends the run as
``interrupted`` with its last checkpoint, and so does a stop asked by the
driver at an epoch end (``prune`` ends it as ``pruned``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

from deltaw.core.base import Callback
from deltaw.core.channel import TrialEndpoint
from deltaw.errors import DeltawError, DeltawPluginWarning
from deltaw.files import atomic_write, write_json, write_text
from deltaw.registry import get_registry
from deltaw.runs.checkpoint import load_run_checkpoint
from deltaw.runs.folder import read_run_info, resume_command, write_run_info
from deltaw.runs.train import resume_run, run_spec
from deltaw.workers import disarm, interruptible

NOT_STARTED = "not started: the sweep was stopping"


class StopTrial(KeyboardInterrupt):
    """The driver asked the trial to stop at this epoch end (``reason``: interrupt or prune)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TrialEvents(Callback):
    """Reports the trial's start and every epoch to the driver; stops when the driver asks.

    Runs after the run's writer, so an epoch's checkpoint is on disk when it is
    reported (and shipped, with ``ship``) and when the trial stops.
    """

    def __init__(self, endpoint: TrialEndpoint, index: int, folder: Path, ship: bool) -> None:
        super().__init__()
        self.endpoint, self.index, self.folder, self.ship = endpoint, index, folder, ship
        self.reason: str | None = None
        self.epoch = 0

    def on_run_start(self, trainer: Any) -> None:
        self.endpoint.report(
            {"kind": "start", "index": self.index, "epoch": trainer.epoch, "epochs": trainer.epochs}
        )

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        self.epoch = epoch
        event: dict[str, Any] = {
            "kind": "epoch",
            "index": self.index,
            "epoch": epoch,
            "epochs": trainer.epochs,
            "metrics": dict(metrics),
        }
        if self.ship:
            event["files"] = read_files(self.folder)
            event["workdir"] = str(self.folder)
        self.endpoint.report(event)
        reason = self.endpoint.stop_requested(self.index)
        if reason:
            self.reason = reason
            disarm()
            raise StopTrial(reason)

    def on_run_end(self, trainer: Any) -> None:
        disarm()  # from here the run writes its final state: a signal must not cut it short


def run_trial(job: dict[str, Any]) -> dict[str, Any]:
    """Run or resume one trial (module-level, plain data in and out: executors ship it anywhere)."""
    endpoint = job.get("events") or TrialEndpoint()
    index = int(job["index"])
    if endpoint.stop_requested(index):
        return {"status": "pending", "message": NOT_STARTED}
    if job.get("results") == "return":
        with tempfile.TemporaryDirectory(prefix="deltaw-trial-") as tmp:
            folder = Path(tmp) / str(job["name"])
            folder.mkdir()
            write_files(folder, endpoint.fetch(index) or {})
            outcome = _run(job, folder, endpoint, ship=True)
            return {**outcome, "files": read_files(folder), "workdir": str(folder)}
    folder = Path(job["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    return _run(job, folder, endpoint, ship=False)


def _run(job: dict[str, Any], folder: Path, endpoint: TrialEndpoint, ship: bool) -> dict[str, Any]:
    events = TrialEvents(endpoint, int(job["index"]), folder, ship)
    plots = bool(job.get("plots", True))
    try:
        with warnings.catch_warnings():  # the sweep reported them already, not once per trial
            warnings.simplefilter("ignore", DeltawPluginWarning)
            registry = get_registry(disable=job.get("disable", ()))
        with interruptible():
            if (folder / "checkpoint.npz").exists():
                result = resume_run(
                    folder, callbacks=[events], registry=registry, plots=plots, trial=job["index"]
                )
            else:
                _clear(folder)
                spec_path = folder / f"spec{job['suffix']}"
                write_text(spec_path, job["spec_text"])
                result = run_spec(
                    spec_path,
                    job["overrides"],
                    folder=folder,
                    callbacks=[events],
                    registry=registry,
                    plots=plots,
                    trial=job["index"],
                )
    except KeyboardInterrupt:
        if not (folder / "run.json").exists():
            _clear(folder)  # interrupted before it began: it is still pending
        raise
    except Exception as exc:  # noqa: BLE001 - the trial's failure is its result
        if not isinstance(exc, DeltawError):
            write_text(folder / "error.txt", traceback.format_exc())
        if not (folder / "run.json").exists():
            write_json(
                folder / "run.json",
                {"status": "failed", "message": describe(exc), "epochs": 0, "wall_time": 0.0},
            )
        return {"status": read_run_info(folder).get("status", "failed"), "error": describe(exc)}
    status, message = result.status, result.message
    if events.reason == "prune" and status == "interrupted":
        status, message = "pruned", mark_pruned(folder, events.epoch)
    return {
        "status": status,
        "message": message,
        "epochs": len(result.history),
        "wall_time": result.wall_time,
        "final": result.history[-1] if result.history else {},
    }


def describe(exc: BaseException) -> str:
    """An exception as one message: a DeltawError's own text, else its type and text."""
    return str(exc) if isinstance(exc, DeltawError) else f"{type(exc).__name__}: {exc}"


def settle(folder: Path) -> dict[str, Any]:
    """The trial's ``run.json``, made true once no one runs the trial any more.

    ``running`` becomes ``interrupted`` with the epochs and last record of its
    checkpoint (rewritten in ``run.json``); ``{}`` for a trial that never began.
    """
    for litter in folder.glob(".*.tmp"):  # a write cut short by a signal
        litter.unlink(missing_ok=True)
    try:
        info = read_run_info(folder)
    except DeltawError:
        info = {"status": "running"}  # damaged: what the checkpoint says is the truth
    if info.get("status") != "running":
        return info
    try:
        epochs = int(load_run_checkpoint(folder / "checkpoint.npz")[0]["epoch"])
    except (DeltawError, KeyError, TypeError, ValueError):
        epochs = 0
    kept = f"it kept the checkpoint of epoch {epochs}" if epochs else "no epoch had ended"
    info = {
        **info,
        "status": "interrupted",
        "epochs": epochs,
        "final": _record(folder, epochs),
        "message": f"The trial stopped before it ended (the sweep stopped, or its worker was "
        f"lost); {kept}.",
    }
    write_run_info(folder, info)
    return info


def _record(folder: Path, epoch: int) -> dict[str, Any]:
    """The line of ``metrics.jsonl`` for ``epoch`` ({} when there is none)."""
    try:
        lines = (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("epoch") == epoch:
            return row
    return {}


def mark_pruned(folder: Path, epoch: int) -> str:
    """Record in ``run.json`` that a search pruned the run at ``epoch``; returns the message."""
    info = read_run_info(folder)
    info.pop("resume", None)
    message = (
        f"Pruned by the search at the end of epoch {epoch}; its checkpoint and curves are kept."
    )
    write_run_info(folder, {**info, "status": "pruned", "message": message})
    return message


def _clear(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def read_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative POSIX path → bytes), temporary files left out."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


def write_files(folder: Path, files: dict[str, bytes], workdir: str | None = None) -> None:
    """Write ``files`` into ``folder``, each atomically and ``run.json`` last.

    ``workdir`` is the folder the files came from: its path in ``run.json``
    (the resume command) becomes ``folder``'s.
    """
    root = folder.resolve()
    for name in sorted(files, key=lambda n: n == "run.json"):
        target = folder / name
        if not target.resolve().is_relative_to(root):
            raise DeltawError(f"{folder}: a trial sent a file outside its folder ({name!r}).")
        data = files[name]
        if name == "run.json" and workdir:
            data = _moved_info(data, workdir, folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda f, data=data: f.write(data), mode="wb")


def _moved_info(data: bytes, workdir: str, folder: Path) -> bytes:
    try:
        info = json.loads(data)
    except ValueError:
        return data
    for key, value in info.items():
        if isinstance(value, str):
            info[key] = value.replace(workdir, str(folder))
    if "resume" in info:
        info["resume"] = resume_command(folder)
    return (json.dumps(info, indent=2, default=str) + "\n").encode()
