"""The run folder: its name, its files and what they say about the run.

A run folder holds: ``spec<ext>`` (the file as written), ``overrides.json``,
``resolved.yaml`` (every default filled in), ``environment.json`` (Python,
numpy, BLAS, deltaw and every plugin's version), ``metrics.jsonl`` and
``metrics.csv`` (one row per epoch), ``checkpoint.npz`` (the last complete
epoch: weights, optimizer state, counters, RNG, schedule and callback state),
``weights.npz`` (the final weights), ``preprocess.npz`` (with
``preprocess.standardize``: the training split's per-feature ``mean`` and
``std``, which ``predict`` applies too), ``run.json`` (status and summary) and,
when matplotlib is installed, ``curves.png`` (and ``regions.png`` for 2-D
data). Every file is written atomically (:mod:`deltaw.files`), except the two
metrics files, which get one line appended per epoch.

:func:`run_state` is what a run folder says about its run, true after any crash:
``run.json`` of a running run names its owner process (and is refreshed at most every
few seconds); a run whose owner is gone is ``crashed``, with the epochs its checkpoint holds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.core.preprocess import Standardizer
from deltaw.errors import DataError, DeltawError, FileError, TrainingError, file_error
from deltaw.files import save_arrays, write_json, write_text
from deltaw.runs.checkpoint import checkpoint_epoch
from deltaw.runs.owner import owner_alive
from deltaw.spec.loading import SUFFIXES
from deltaw.spec.problems import one_line

RESUMABLE = ("interrupted", "running", "crashed", "failed")
SLUG_BYTES = 200  # a run folder's name stays below every common file system's 255 bytes


def new_run_folder(parent: Path, name: str) -> Path:
    """A fresh folder ``parent/name-YYYYmmdd-HHMMSS[-N]``; never reuses an existing one.

    A name too long for the file system is shortened (:func:`slug`); a ``parent``
    that is a file is a :class:`~deltaw.errors.FileError`.
    """
    if parent.exists() and not parent.is_dir():
        raise FileError(
            f"{parent} is a file, but run folders are created inside a folder. "
            f"Give --out a folder (it is created if missing), or move the file away."
        )
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    room = name_max(parent) - len(f"-{stamp}-999")
    stem = f"{slug(name, max_bytes=room)}-{stamp}"
    for i in range(1000):
        folder = parent / (stem if i == 0 else f"{stem}-{i}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise TrainingError(f"could not create a new run folder under {parent}")


def slug(
    name: str,
    keep: str = "-_.=",
    limit: int | None = None,
    fallback: str = "run",
    max_bytes: int = SLUG_BYTES,
) -> str:
    """``name`` fit for a folder name: letters, digits and ``keep`` stay, anything else
    becomes ``-``; cut to ``limit`` characters, no ``-`` at the ends; ``fallback`` if empty.

    A name longer than ``max_bytes`` of UTF-8 keeps its start and ends with 8 hex
    digits of its SHA-256, so two long names that differ only at the end still
    get different folders, and the same name always gets the same slug.
    """
    text = "".join(c if c.isalnum() or c in keep else "-" for c in name)[:limit].strip("-")
    text = text or fallback
    if len(text.encode()) <= max_bytes:
        return text
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    head = text.encode()[: max(max_bytes - 9, 1)].decode("utf-8", "ignore").rstrip("-")
    return f"{head}-{digest}"


def name_max(folder: Path) -> int:
    """The longest file name (in bytes) the file system holding ``folder`` accepts."""
    try:
        return min(int(os.pathconf(folder, "PC_NAME_MAX")), 255)
    except (OSError, ValueError, AttributeError):  # Windows has no pathconf
        return 255


def resume_command(folder: Path) -> str:
    return f"deltaw run --resume {shlex.quote(str(folder))}"


def now() -> str:
    """The current UTC time, ISO 8601 to the second (as run.json records it)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_spec_file(folder: Path) -> Path:
    """The spec as written inside a run folder (``spec.yaml``, ``spec.toml`` or ``spec.json``)."""
    for suffix in SUFFIXES:
        path = folder / f"spec{suffix}"
        if path.exists() and (folder / "resolved.yaml").exists():
            return path
    raise DeltawError(
        f"{folder} is not a deltaw run folder: it has no spec.yaml (or .toml, .json) "
        f"beside a resolved.yaml. "
        f"Give the folder that `deltaw run` printed "
        f"(it holds run.json, metrics.csv, checkpoint.npz)."
    )


def read_run_info(folder: Path) -> dict[str, Any]:
    """``run.json`` of a run folder ({} when the run never got as far as writing it).

    A damaged one is a :class:`~deltaw.errors.FileError` saying that it only
    records the run's status: without it, a resume continues from the checkpoint.
    """
    path = folder / "run.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise file_error(exc, path, "read") from None
    except ValueError as exc:  # not UTF-8, not JSON
        raise _damaged_info(path, one_line(str(exc))) from None
    if not isinstance(info, dict):
        raise _damaged_info(path, f"it holds a {type(info).__name__}, not an object")
    for key, kind in _INFO_TYPES.items():
        if key in info and not isinstance(info[key], kind):
            raise _damaged_info(path, f"{key!r} is {info[key]!r}")
    return info


_INFO_TYPES: dict[str, type | tuple[type, ...]] = {
    "status": str,
    "epochs": int,
    "wall_time": (int, float),
    "resumed": list,
    "message": str,
}


def _damaged_info(path: Path, why: str) -> FileError:
    return FileError(
        f"{path} is damaged ({why}). It only records the run's status and summary: "
        f"remove it and resume again, and the run continues from its checkpoint."
    )


def run_overrides(folder: Path) -> list[str]:
    """The ``--set`` options the run in ``folder`` was started (and resumed) with."""
    path = folder / "overrides.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise file_error(exc, path, "read") from None
    except ValueError as exc:
        data = exc
    if not isinstance(data, list) or not all(isinstance(o, str) for o in data):
        why = one_line(str(data)) if isinstance(data, Exception) else "not a list of strings"
        raise FileError(
            f"{path} is damaged ({why}). It records the --set options the run was started "
            f'with, a JSON list like ["optimizer.lr=0.1"]; resolved.yaml shows the values '
            f"they gave. Rewrite it, then resume again."
        )
    return data


def write_metrics_csv(path: Path, history: list[dict[str, float]]) -> list[str]:
    """Write ``metrics.csv`` from ``history`` (atomically); its columns, in order."""
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue() if keys else "")
    return keys


def append_metrics_csv(path: Path, columns: list[str], row: dict[str, float]) -> None:
    """Append ``row`` to ``metrics.csv``, whose header is ``columns`` (every key of ``row``)."""
    buf = io.StringIO()
    csv.DictWriter(buf, fieldnames=columns, lineterminator="\n").writerow(row)
    append_line(path, buf.getvalue())


def append_line(path: Path, line: str) -> None:
    """Append ``line`` (ending in a newline) to ``path`` with one write."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def read_metrics(folder: Path) -> list[dict[str, float]]:
    """The records of ``metrics.jsonl`` ([] when there is none).

    A last line without its newline was cut short by a crash while it was appended, and is
    left out; any other line that is not JSON is a :class:`DeltawError` naming it.
    """
    path = folder / "metrics.jsonl"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    rows = []
    for n, line in enumerate(lines[:-1], 1):  # lines[-1]: "" or the cut-short last line
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise DeltawError(f"{path}, line {n}: not valid JSON; the file is damaged.") from None
    return rows


@dataclass(frozen=True)
class RunState:
    """What a run folder truly says about its run (see :func:`run_state`).

    Attributes:
        status: ``run.json``'s status, except ``crashed`` for a ``running`` run whose
            process is gone (resumable, as ``interrupted`` is).
        epochs: complete epochs; for a running or crashed run, the checkpoint's.
        checkpoint: the epoch ``checkpoint.npz`` holds (None: no readable checkpoint).
        info: ``run.json`` as written.
        wall_time: seconds of training; for a running or crashed run, up to its checkpoint.
        note: why ``status`` is not what ``run.json`` says ("" when it is).
    """

    status: str
    epochs: int
    checkpoint: int | None
    info: dict[str, Any]
    wall_time: float = 0.0
    note: str = ""

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE


def run_state(folder: Path) -> RunState:
    """The run's true status and epoch count, after any crash.

    A run that ended (completed, stopped, interrupted, diverged, failed) wrote its
    ``run.json`` last; it is taken as it is. A ``running`` one names its owner process:
    when that process is gone (killed, crashed, the machine rebooted) the run is
    ``crashed``; either way its epochs are those of its checkpoint, written before
    ``run.json`` each epoch. An owner on another host cannot be checked: it stays running.
    """
    folder = Path(folder)
    info = read_run_info(folder)
    status = str(info.get("status", "running"))
    epochs, wall = int(info.get("epochs", 0)), float(info.get("wall_time", 0.0))
    ckpt = folder / "checkpoint.npz"
    saved = checkpoint_epoch(ckpt) if ckpt.exists() else None
    if status != "running":
        return RunState(status, epochs, saved, info, wall)
    if saved is not None:
        epochs = saved
        # run.json was last written with wall_time; the checkpoint, later, at the epoch's end
        since = ckpt.stat().st_mtime - (folder / "run.json").stat().st_mtime if info else 0.0
        wall += max(since, 0.0)
    owner = info.get("owner") or {}
    if owner_alive(owner) is not False:
        return RunState(status, epochs, saved, info, wall)
    kept = f"its checkpoint holds epoch {saved}" if saved else "no epoch had been checkpointed"
    note = (
        f"run.json says running, but its process (pid {owner.get('pid')} on "
        f"{owner.get('host')}) is gone: it was killed or crashed; {kept}. "
        f"Resume with: {resume_command(folder)}"
    )
    return RunState("crashed", epochs, saved, info, wall, note)


def write_run_info(folder: Path, info: dict[str, Any]) -> None:
    """Write ``run.json``; a resumable status also records the command that resumes it."""
    if info.get("status") in RESUMABLE:
        info = {**info, "resume": resume_command(folder)}
    write_json(folder / "run.json", info)


def save_weights(folder: Path, weights: list[Any], biases: list[Any]) -> None:
    """Write the final ``weights.npz`` (``w0, b0, w1, b1, …``)."""
    arrays = {f"w{i}": w for i, w in enumerate(weights)} | {
        f"b{i}": b for i, b in enumerate(biases)
    }
    save_arrays(folder / "weights.npz", arrays)


PREPROCESS = "preprocess.npz"


def save_preprocess(folder: Path, prep: Standardizer | None) -> None:
    """Write ``preprocess.npz`` (``mean``, ``std``) when the run standardizes its inputs."""
    if prep is not None:
        save_arrays(folder / PREPROCESS, prep.arrays())


def load_preprocess(folder: Path) -> Standardizer:
    """The statistics a run standardized its inputs with (``preprocess.npz``)."""
    path = folder / PREPROCESS
    try:
        with np.load(path, allow_pickle=False) as z:
            return Standardizer(z["mean"], z["std"])
    except FileNotFoundError:
        raise DataError(
            f"{path}: no such file. The run standardizes its inputs (preprocess.standardize), "
            "and this file holds the training split's statistics that predictions need; it is "
            "written when the run starts. Train the run again to get it."
        ) from None
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path} cannot be read as mean and std arrays ({exc}).") from None
