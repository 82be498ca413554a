"""A sweep folder seen from Python: :class:`Sweep`, its trials (each a :class:`Run`) and report.

Like a :class:`Run`, a sweep holds only its folder and reads ``sweep.json`` when asked, so a
sweep still running is seen as it is now.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deltaw.api.handles import Run, dataframe
from deltaw.errors import DeltawError
from deltaw.registry import Registry, get_registry
from deltaw.runs.folder import run_overrides
from deltaw.runs.report import Report, collect_runs, summarize
from deltaw.spec.loading import SUFFIXES, read_spec_file
from deltaw.spec.overrides import apply_overrides, parse_override

if TYPE_CHECKING:
    import pandas


class Sweep:
    """A sweep folder: its trials (each a :class:`Run`) and the report ranking them.

    Made by :func:`deltaw.sweep` and :func:`deltaw.load_sweep`.
    """

    def __init__(
        self,
        folder: str | Path,
        registry: Registry | None = None,
        report: Report | None = None,
        *,
        metric: str | None = None,
        by: str = "final",
    ) -> None:
        self.folder = Path(folder)
        self._registry = registry
        self._report = report
        self._metric, self._by = metric, by

    @property
    def info(self) -> dict[str, Any]:
        """``sweep.json``: name, spec, executor, metric, status and every trial."""
        path = self.folder / "sweep.json"
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise DeltawError(f"{path} cannot be read ({exc}).") from None

    @property
    def status(self) -> str:
        """finished, interrupted or running."""
        return str(self.info.get("status", "unknown"))

    @property
    def trials(self) -> list[Run]:
        """Every trial's run, in the sweep's order."""
        return [Run(self.folder / t["folder"], self._registry) for t in self.info.get("trials", [])]

    @property
    def failed(self) -> list[Run]:
        """Trials that did not complete (failed, diverged or interrupted)."""
        return [t for t in self.trials if t.status not in ("completed", "stopped")]

    @property
    def report(self) -> Report:
        """The trials ranked by the sweep's metric (the table of ``deltaw report``)."""
        if self._report is None:
            registry = self._registry or get_registry()
            metric = self._metric or self.info.get("metric")
            runs = collect_runs([self.folder])
            self._report = summarize(runs, metric, self._mode(), registry, by=self._by)
        return self._report

    @property
    def best(self) -> Run | None:
        """The best trial by the report's ranking (None when no trial recorded the metric)."""
        rows = self.report.rows
        if not rows or rows[0]["best"] is None:
            return None
        return Run(rows[0]["folder"], self._registry)

    def frame(self) -> pandas.DataFrame:
        """The report as a pandas DataFrame, best trial first (needs pandas)."""
        rep, rows = self.report, []
        for row in rep.rows:
            rows.append(
                {
                    "run": row["run"],
                    "status": row["status"],
                    **row["keys"],
                    f"best_{rep.metric}": row["best"],
                    "best_epoch": row["best_epoch"],
                    **{f"final_{k}": v for k, v in row["final"].items()},
                    "epochs": row["epochs"],
                    "wall_time": row["wall_time"],
                }
            )
        return dataframe(rows, "Sweep.frame()", "Sweep.report.rows")

    @property
    def df(self) -> pandas.DataFrame:
        """Shorthand for :meth:`frame`."""
        return self.frame()

    def _mode(self) -> str:
        """The sweep section's ``mode`` (auto, max or min) from the spec in the folder."""
        for suffix in SUFFIXES:
            path = self.folder / f"spec{suffix}"
            if path.exists():
                overrides = [parse_override(o) for o in run_overrides(self.folder)]
                sweep = apply_overrides(read_spec_file(path), overrides).get("sweep") or {}
                return str(sweep.get("mode", "auto")) if isinstance(sweep, dict) else "auto"
        return "auto"

    def __repr__(self) -> str:
        trials = self.info.get("trials", [])
        done = sum(t.get("status") in ("completed", "stopped") for t in trials)
        return (
            f"<deltaw.Sweep {str(self.folder)!r}: {self.status}, {done}/{len(trials)} trials done>"
        )
