"""Reading run folders back: the table of ``deltaw report`` and the labels of ``deltaw plot``.

A report lists runs with their status, epochs, wall time, the best and final
value of a ranking metric, the final value of every metric, and the spec keys
in which the runs differ (from each folder's ``resolved.yaml``). Paths may
be run folders, sweep folders (their trials, in order) or folders of runs.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deltaw.core.history import BOOKKEEPING, metric_keys
from deltaw.core.monitor import Monitor
from deltaw.errors import DeltawError
from deltaw.runs.folder import run_state

PREFERRED = (
    "validation_accuracy",
    "test_accuracy",
    "training_accuracy",
    "validation_cost",
    "test_cost",
    "training_cost",
)


@dataclass
class RunRecord:
    """One run folder as written by ``deltaw run``."""

    folder: Path
    info: dict[str, Any]
    resolved: dict[str, Any]
    history: list[dict[str, float]]
    overrides: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # damaged files, skipped with a warning

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def status(self) -> str:
        return str(self.info.get("status", "unknown"))

    @property
    def epochs(self) -> int:
        value = self.info.get("epochs")
        return int(value) if _finite(value) else len(self.history)

    @property
    def wall_time(self) -> float:
        value = self.info.get("wall_time")
        return float(value) if _finite(value) else 0.0


def is_run(path: Path) -> bool:
    return (path / "run.json").is_file() or (path / "resolved.yaml").is_file()


def is_sweep(path: Path) -> bool:
    return (path / "sweep.json").is_file()


def load_run(folder: Path) -> RunRecord:
    """Read a run folder; a missing file reads as empty (a run that failed early still shows up).

    A damaged file does not stop a report of many runs: what can be read is
    kept, and ``problems`` says which file (and which lines of
    ``metrics.jsonl``) was skipped.
    """
    folder = Path(folder)
    problems: list[str] = []
    info = _read_json(folder / "run.json", {}, problems)
    resolved = _read_yaml(folder / "resolved.yaml", problems)
    overrides = _read_json(folder / "overrides.json", [], problems)
    if not isinstance(info, dict):
        problems.append(f"{folder / 'run.json'} is not a JSON object; its status is unknown.")
        info = {}
    if not isinstance(overrides, list):
        overrides = []
    history = read_history(folder / "metrics.jsonl", problems)
    info = true_state(folder, info)
    return RunRecord(folder, info, resolved, history, overrides, problems)


def read_history(path: Path, problems: list[str]) -> list[dict[str, float]]:
    """The rows of ``metrics.jsonl``: JSON objects of numbers; other lines are skipped and named."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        problems.append(f"{path} cannot be read ({exc.strerror or exc}); its metrics are left out.")
        return []
    history: list[dict[str, float]] = []
    bad: list[int] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if _is_metrics_row(row):
            history.append(row)
        else:
            bad.append(n)
    if bad:
        lines = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        problems.append(
            f"{path} is damaged: line{'s' if len(bad) > 1 else ''} {lines} "
            f"{'are' if len(bad) > 1 else 'is'} not a JSON object of numbers and "
            f"{'were' if len(bad) > 1 else 'was'} skipped; "
            f"{len(history)} epoch record{'s' if len(history) != 1 else ''} kept."
        )
    return history


def _is_metrics_row(row: Any) -> bool:
    return (
        isinstance(row, dict)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row.values())
        and _finite(row.get("epoch", 0))
    )


def true_state(folder: Path, info: dict[str, Any]) -> dict[str, Any]:
    """``run.json`` of a run that says it is running, with the status, epochs and time that are true
    (:func:`~deltaw.runs.folder.run_state`: ``crashed`` when its process is gone)."""
    if info.get("status") != "running":
        return info
    state = run_state(folder)
    true = {"status": state.status, "epochs": state.epochs, "wall_time": state.wall_time}
    return {**info, **true, "message": state.note}


def sweep_trials(folder: Path, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """The trials recorded in a sweep folder's ``sweep.json`` (none when it is damaged)."""
    problems = [] if problems is None else problems
    path = Path(folder) / "sweep.json"
    seen = len(problems)
    data = _read_json(path, {}, problems)
    trials = data.get("trials") if isinstance(data, dict) else None
    ok = [t for t in trials or [] if isinstance(t, dict) and isinstance(t.get("folder"), str)]
    if len(problems) == seen and (not isinstance(trials, list) or len(ok) < len(trials)):
        problems.append(f"{path} is damaged; the trials it does not name are left out.")
    return ok


def collect_runs(paths: Sequence[str | Path], problems: list[str] | None = None) -> list[RunRecord]:
    """Every run under ``paths``: run folders, sweep folders (their trials) and folders of runs.

    A damaged ``sweep.json`` is named in ``problems`` (each run's own damaged
    files in its :attr:`RunRecord.problems`); a path that holds no runs is an error.
    """
    problems = [] if problems is None else problems
    runs: list[RunRecord] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise DeltawError(
                f"{path}: no such folder. "
                f"Give run folders, sweep folders or a folder of runs (e.g. runs/)."
            )
        if is_run(path):
            runs.append(load_run(path))
        elif is_sweep(path):
            for trial in sweep_trials(path, problems):
                sub = path / trial["folder"]
                record = load_run(sub) if sub.exists() else RunRecord(sub, {}, {}, [])
                if not record.info:  # never began (pending), or failed before it could say so
                    record.info = {
                        "status": trial.get("status", "pending"),
                        "message": trial.get("error", ""),
                    }
                runs.append(record)
        elif path.is_dir() and (
            subs := sorted(d for d in path.iterdir() if d.is_dir() and (is_run(d) or is_sweep(d)))
        ):
            runs += collect_runs(subs, problems)
        else:
            raise DeltawError(
                f"{path} is not a run folder (no run.json), a sweep folder (no sweep.json), "
                f"or a folder that holds them."
            )
    return runs


# -- comparing ---------------------------------------------------------------------------
def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"lr": 1}}`` → ``{"optimizer.lr": 1}``; lists of mappings are indexed, other
    lists kept whole."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, list) and any(isinstance(v, dict) for v in data):
        for i, v in enumerate(data):
            out.update(flatten(v, f"{prefix}[{i}]"))
        if not data:
            out[prefix] = []
    else:
        out[prefix] = data
    return out


NOT_COMPARED = ("sweep",)  # a trial's copy of its sweep section says how it was made, not what


def differing_keys(runs: Sequence[RunRecord]) -> list[str]:
    """Spec keys whose resolved values differ between runs.

    Values are compared as values: a key a run does not have, null and an
    empty list or mapping all mean "not set"; 1 and 1.0 are equal. The sweep
    section is left out.
    """
    if len(runs) < 2:
        return []
    flats = [flatten(r.resolved) for r in runs if r.resolved]
    keys: list[str] = []
    for flat in flats:
        keys += [k for k in flat if k not in keys]
    keys = [k for k in keys if k.split(".")[0].split("[")[0] not in NOT_COMPARED]
    return [k for k in keys if len({_canonical(f.get(k)) for f in flats}) > 1]


def _canonical(value: Any) -> str:
    """One text per value: unset, null, [] and {} alike; numbers by value (1 == 1.0)."""

    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v] or None
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()} or None
        return v

    return json.dumps(norm(value), sort_keys=True, default=str)


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key by its last two parts (``optimizer.lr``, ``clip.norm``, ``seed``).

    Never a bare parameter name that could belong to several plugins or
    sections (``lr``); more parts when two keys would still look alike.
    """
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(min(2, len(parts)), len(parts) + 1):
            tail = ".".join(parts[-n:])
            if sum(1 for k in keys if k == tail or k.endswith("." + tail)) == 1:
                out[key] = tail
                break
        else:
            out[key] = key
    return out


def labels(runs: Sequence[RunRecord]) -> list[str]:
    """A legend label per run: the keys in which the runs differ (``optimizer.lr=0.25, …``).

    The keys come in the same order in every label (:mod:`deltaw.plots.curves`
    puts them in the legend's title once); a run whose differing keys do not
    tell it apart gets its folder name; a single run, its spec name.
    """
    keys = [k for k in differing_keys(runs) if k != "name"]
    short = short_keys(keys)
    out = []
    for r in runs:
        flat = flatten(r.resolved)
        parts = [f"{short[k]}={fmt_value(flat.get(k))}" for k in keys]
        out.append(", ".join(parts) if parts else str(r.resolved.get("name") or r.name))
    if len(set(out)) < len(out):
        out = [f"{label} ({r.name})" if label else r.name for label, r in zip(out, runs)]
    return out


def fmt_value(value: Any, digits: int = 6) -> str:
    """A spec value for a label or a cell: ``0.25``, ``[30,10]``, ``sigmoid``.

    Floats keep ``digits`` significant digits; lists and mappings are compact JSON.
    """
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def metrics_of(runs: Sequence[RunRecord]) -> list[str]:
    keys: list[str] = []
    for r in runs:
        for row in r.history:
            keys += [k for k in metric_keys(row) if k not in keys]
    return keys


def choose_metric(runs: Sequence[RunRecord], metric: str | None = None) -> str | None:
    """``metric`` if some run records it (else an error naming what they record), or the first of
    PREFERRED."""
    recorded = metrics_of(runs)
    if metric:
        if recorded and metric not in recorded:
            raise DeltawError(f"--metric {metric!r}: these runs record {', '.join(recorded)}.")
        return metric
    return next((m for m in PREFERRED if m in recorded), recorded[0] if recorded else None)


def higher_is_better(metric: str, mode: str = "auto", registry: Any = None) -> bool:
    """Direction of ``metric`` (``validation_cost``), as a :class:`Monitor` of it would see it.

    The mode, else the metric plugin's ``higher_is_better``, else a guess from its name.
    """
    monitor = Monitor(metric, mode)
    if mode == "auto" and registry is not None:
        try:
            monitor.bind(registry.entry("metric", monitor.metric).cls.higher_is_better)
        except DeltawError:
            pass
    return monitor.higher


@dataclass
class Report:
    metric: str | None
    higher: bool
    keys: list[str]
    rows: list[dict[str, Any]]
    by: str = "final"


def summarize(
    runs: Sequence[RunRecord],
    metric: str | None = None,
    mode: str = "auto",
    registry: Any = None,
    by: str = "final",
) -> Report:
    """Rows sorted by the last (``by="final"``) or best (``"best"``) value of ``metric``; runs
    without it last."""
    metric = choose_metric(runs, metric)
    higher = higher_is_better(metric, mode, registry) if metric else True
    keys = [k for k in differing_keys(runs) if k != "name"]
    rows = []
    for r in runs:
        flat = flatten(r.resolved)
        values = [
            (row[metric], int(row.get("epoch", i + 1)))
            for i, row in enumerate(r.history)
            if metric and metric in row and _finite(row[metric])
        ]
        best = (max if higher else min)(values, key=lambda v: v[0]) if values else None
        final = r.history[-1] if r.history else {}
        rows.append(
            {
                "run": r.name,
                "folder": str(r.folder),
                "status": r.status,
                "epochs": r.epochs,
                "wall_time": r.wall_time,
                "keys": {k: flat.get(k) for k in keys},
                "best": best[0] if best else None,
                "best_epoch": best[1] if best else None,
                "final": {k: v for k, v in final.items() if k not in BOOKKEEPING},
                "message": str(r.info.get("message", "")),
            }
        )
    sign = -1 if higher else 1

    def rank(row: dict[str, Any]) -> tuple[bool, float]:
        value = row["best"] if by == "best" else row["final"].get(metric) if metric else None
        ok = _finite(value)
        return (not ok, sign * value if ok else 0.0)

    rows.sort(key=rank)
    return Report(metric, higher, keys, rows, by)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def report_csv(report: Report) -> str:
    """The report as CSV: one row per run, differing keys and final metrics as columns."""
    finals: list[str] = []
    for row in report.rows:
        finals += [k for k in row["final"] if k not in finals]
    m = report.metric or "metric"
    header = [
        "run",
        "status",
        *report.keys,
        f"best_{m}",
        "best_epoch",
        *(f"final_{k}" for k in finals),
        "epochs",
        "wall_time",
        "folder",
        "message",
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in report.rows:
        w.writerow(
            [
                row["run"],
                row["status"],
                *(fmt_value(row["keys"][k]) for k in report.keys),
                _cell(row["best"]),
                _cell(row["best_epoch"]),
                *(_cell(row["final"].get(k)) for k in finals),
                row["epochs"],
                f"{row['wall_time']:.3f}",
                row["folder"],
                row["message"],
            ]
        )
    return buf.getvalue()


def _cell(v: Any) -> str:
    return "" if v is None else repr(v) if isinstance(v, float) else str(v)


def _read_json(path: Path, default: Any, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        problems.append(f"{path} cannot be read ({_reason(exc)}); it is left out.")
        return default


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        problems.append(f"{path} cannot be read ({_reason(exc)}); its spec keys are left out.")
        return {}
    return data if isinstance(data, dict) else {}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    return " ".join(str(exc).split())[:200]
