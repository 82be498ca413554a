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
data). Every file is written atomically (:mod:`deltaw.files`).
"""

from __future__ import annotations

import csv
import io
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.core.preprocess import Standardizer
from deltaw.errors import DataError, DeltawError, TrainingError
from deltaw.files import read_json, save_arrays, write_json, write_text
from deltaw.spec.loading import SUFFIXES

RESUMABLE = ("interrupted", "running", "failed")


def new_run_folder(parent: Path, name: str) -> Path:
    """A fresh folder ``parent/name-YYYYmmdd-HHMMSS[-N]``; never reuses an existing one."""
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{slug(name)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    for i in range(1000):
        folder = parent / (stem if i == 0 else f"{stem}-{i}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise TrainingError(f"could not create a new run folder under {parent}")


def slug(name: str, keep: str = "-_.=", limit: int | None = None, fallback: str = "run") -> str:
    """``name`` fit for a folder name: letters, digits and ``keep`` stay, anything else
    becomes ``-``; cut to ``limit`` characters, no ``-`` at the ends; ``fallback`` if empty."""
    text = "".join(c if c.isalnum() or c in keep else "-" for c in name)[:limit].strip("-")
    return text or fallback


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
        f"{folder} is not a deltaw run folder: it has no spec.yaml (or .toml, .json) beside a resolved.yaml. "
        f"Give the folder that `deltaw run` printed (it holds run.json, metrics.csv, checkpoint.npz)."
    )


def read_run_info(folder: Path) -> dict[str, Any]:
    """``run.json`` of a run folder ({} when the run never got as far as writing it)."""
    return read_json(folder / "run.json", {})


def run_overrides(folder: Path) -> list[str]:
    """The ``--set`` overrides the run was started with (``overrides.json``; [] if absent)."""
    return [str(o) for o in read_json(folder / "overrides.json", [])]


def write_metrics_csv(path: Path, history: list[dict[str, float]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue() if keys else "")


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
