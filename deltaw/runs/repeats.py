"""Repeats: runs of one configuration under different seeds, summarised as mean ± std.

Runs repeat each other when their resolved specs are equal apart from ``seed``
(sweep sections are left out, as everywhere in reports). A report then has one
row per configuration: how many runs (n), their seeds, and for the ranking
metric and every final metric the mean and the sample standard deviation
(n − 1 in the denominator; 0 for a single run) over the runs that completed
(or were stopped by a callback) with a finite value; interrupted, failed and
diverged runs are counted, not averaged, and runs not started are left out.
A plot draws each configuration as a band: the mean curve with ± one standard
deviation shaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deltaw.runs.report import (
    Report,
    RunRecord,
    differing_keys,
    flatten,
    fmt_value,
    short_keys,
)

SEED = "seed"
ENDED_WELL = ("completed", "stopped")  # runs whose statistics are taken


def mean_std(values: Sequence[Any]) -> dict[str, float] | None:
    """``{"mean", "std", "n"}`` over the finite numbers in ``values`` (None when there are none)."""
    xs = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not xs:
        return None
    mean = math.fsum(xs) / len(xs)
    var = math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(var), "n": len(xs)}


def _signature(values: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in sorted(values.items()) if k != SEED}, default=str)


def label_of(values: dict[str, Any], keys: Sequence[str]) -> str:
    """``lr=0.5, lmbda=5``: a configuration by its differing keys other than the seed."""
    shown = [k for k in keys if k not in (SEED, "name")]
    short = short_keys(shown)
    return ", ".join(f"{short[k]}={fmt_value(values.get(k))}" for k in shown) or "all runs"


def group_runs(runs: Sequence[RunRecord]) -> list[tuple[str, list[RunRecord]]] | None:
    """``(label, runs)`` per configuration, in first-seen order; None when no run has a repeat."""
    keys = differing_keys(runs)
    if SEED not in keys:
        return None
    groups: dict[str, tuple[str, list[RunRecord]]] = {}
    for run in runs:
        flat = flatten(run.resolved)
        values = {k: flat.get(k) for k in keys}
        groups.setdefault(_signature(values), (label_of(values, keys), []))[1].append(run)
    out = list(groups.values())
    return out if any(len(g) > 1 for _, g in out) else None


@dataclass
class Group:
    """One configuration of a report: its rows (runs) and their statistics."""

    label: str
    keys: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    value: dict[str, float] | None = None  # the ranking metric (final or best), mean ± std
    final: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def seeds(self) -> list[Any]:
        return [row["keys"].get(SEED) for row in self.rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "keys": self.keys,
            "n": len(self.rows),
            "seeds": self.seeds,
            "runs": [row["run"] for row in self.rows],
            "statuses": [row["status"] for row in self.rows],
            "value": self.value,
            "final": self.final,
        }


def group_report(report: Report) -> list[Group] | None:
    """The report's rows grouped by configuration, ranked by the mean of the ranking value."""
    if SEED not in report.keys:
        return None
    keys = [k for k in report.keys if k != SEED]
    groups: dict[str, Group] = {}
    for row in report.rows:
        if row["status"] == "pending":  # not run yet: no configuration to speak of
            continue
        values = {k: row["keys"].get(k) for k in keys}
        group = groups.setdefault(_signature(values), Group(label_of(values, report.keys), values))
        group.rows.append(row)
    if all(len(g.rows) < 2 for g in groups.values()):
        return None
    metric = report.metric
    for g in groups.values():
        ended = [row for row in g.rows if row["status"] in ENDED_WELL]  # same epochs: comparable
        picked = [row["best"] if report.by == "best" else row["final"].get(metric) for row in ended]
        g.value = mean_std(picked) if metric else None
        names: list[str] = []
        for row in ended:
            names += [k for k in row["final"] if k not in names]
        g.final = {
            k: stats for k in names if (stats := mean_std([r["final"].get(k) for r in ended]))
        }
    sign = -1 if report.higher else 1
    return sorted(
        groups.values(),
        key=lambda g: (g.value is None, sign * g.value["mean"] if g.value else 0.0),
    )


def fmt_mean_std(stats: dict[str, float] | None, key: str = "") -> str:
    """``98.10% ± 0.42%`` (an accuracy) or ``0.1028 ± 0.021``; ``-`` when there is nothing."""
    if not stats:
        return "-"
    mean, std = stats["mean"], stats["std"]
    if key.endswith("accuracy"):
        return f"{mean:.2%} ± {std:.2%}"
    return f"{mean:.4g} ± {std:.2g}"


def draw_runs(
    runs: Sequence[RunRecord], path: Any, title: str | None = None, group: bool = True
) -> Any:
    """Curves of ``runs`` drawn into ``path``: repeats as bands (mean ± std), else one each."""
    from deltaw.runs.report import labels

    groups = group_runs(runs) if group else None
    if groups:
        from deltaw.plots.bands import learning_bands

        return learning_bands(
            [[r.history for r in g] for _, g in groups],
            [f"{label} (n={len(g)})" for label, g in groups],
            path,
            title=title,
        )
    from deltaw.plots.curves import learning_curves

    return learning_curves([r.history for r in runs], labels(runs), path, title=title)
