"""What a sweep's trials are: grid × zip × random draws × seeds, all validated before any runs.

The spec's ``sweep:`` section (:class:`~deltaw.spec.models.SweepSpec`) gives the
trials: every combination of ``grid``, times the paired rows of ``zip``, times
``random.samples`` draws, each repeated with every seed of ``seeds`` (or
``repeat: N``: the spec's seed and the N − 1 after it). A trial is its values
(dotted key → value) and the ``--set`` overrides that make it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deltaw.errors import SpecError
from deltaw.registry import Registry, get_registry
from deltaw.runs.folder import slug
from deltaw.runs.report import fmt_value
from deltaw.spec.loading import load_spec, validate_spec
from deltaw.spec.models import RandomParam, Spec, SweepSpec
from deltaw.spec.overrides import apply_overrides, parse_override
from deltaw.spec.resolve import ResolvedSpec

FINAL = ("completed", "stopped", "diverged", "failed", "pruned")  # a trial that ended
TO_RUN = ("pending", "interrupted", "running")  # a trial that a resume runs (on)


@dataclass
class Trial:
    """One trial: its values, the ``--set`` overrides that make it, and how it went."""

    index: int
    values: dict[str, Any]
    overrides: list[str]
    folder: str = ""
    status: str = "pending"  # pending, running, or a status of run.json (FINAL, interrupted)
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={short(v)}" for k, v in self.values.items())

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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trial:
        known = ("index", "values", "overrides", "folder", "status", "error")
        return cls(
            int(data["index"]),
            dict(data.get("values", {})),
            [str(o) for o in data.get("overrides", [])],
            str(data.get("folder", "")),
            str(data.get("status", "pending")),
            str(data.get("error", "")),
            {k: v for k, v in data.items() if k not in known},
        )


def format_override(key: str, value: Any) -> str:
    """``key=value`` with the value written so that ``--set`` parses it back to the same thing."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    elif text.endswith("..."):
        text = text[:-3].strip()
    return f"{key}={text}"


def seeds_of(sweep: SweepSpec, seed: int) -> list[int] | None:
    """The seeds every configuration is repeated with (None: no repeats)."""
    if sweep.seeds is not None:
        return list(sweep.seeds)
    if sweep.repeat is not None:
        return [seed + i for i in range(sweep.repeat)]
    return None


def expand(sweep: SweepSpec, seed: int) -> list[dict[str, Any]]:
    """The values of every trial, in order: grid combinations × zip rows × random draws × seeds."""
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
    configs = [{**g, **z, **r} for g in grid for z in paired for r in draws]
    repeats = seeds_of(sweep, seed)
    if repeats is None:
        return configs
    return [{**c, "seed": s} for c in configs for s in repeats]


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


def trial_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides a trial inherits from the sweep's: all but those of the sweep section."""
    return [o for o in overrides if not parse_override(o)[0].startswith("sweep.")]


@dataclass
class Plan:
    """A validated sweep: its spec, its trials and the distributions (name → version) they use."""

    resolved: ResolvedSpec
    trials: list[Trial]
    requires: dict[str, str]

    @property
    def spec(self) -> Spec:
        return self.resolved.spec

    def executor(self) -> Any:
        """A fresh instance of the sweep's executor, with its validated parameters."""
        return self.resolved.plugins["sweep.executor"].build()


def plan(
    spec_path: str | Path, overrides: Sequence[str] = (), registry: Registry | None = None
) -> Plan:
    """The sweep's spec and trials, every trial's spec validated (all problems reported at once)."""
    registry = registry or get_registry()
    resolved, raw = load_spec(spec_path, list(overrides), registry=registry)
    spec = resolved.spec
    if spec.sweep is None:
        raise SpecError(
            f"{spec_path}: no sweep section, so there is nothing to sweep. Add one, e.g.\n"
            f"  sweep:\n    grid: {{optimizer.lr: [0.025, 0.25, 2.5]}}\n"
            f"or give one on the command line: deltaw sweep {spec_path} "
            f"--grid optimizer.lr=0.025,0.25,2.5\n"
            f"or train it once with: deltaw run {spec_path}"
        )
    inherited = trial_overrides(overrides)
    trials, problems = [], []
    requires = distributions(resolved)
    for i, values in enumerate(expand(spec.sweep, spec.seed), 1):
        trial = Trial(i, values, inherited + [format_override(k, v) for k, v in values.items()])
        try:
            data = apply_overrides(raw, list(values.items()))
            one = validate_spec(data, source=f"trial {i} ({trial.label})", registry=registry)
            requires.update(distributions(one))
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
    width = len(str(len(trials)))
    for t in trials:
        t.folder = trial_folder(t, width)
    return Plan(resolved, trials, requires)


def distributions(resolved: ResolvedSpec) -> dict[str, str]:
    """The distributions (name → version) of deltaw and of every plugin the spec uses."""
    import deltaw

    found = {"deltaw": deltaw.__version__}
    for plugin in resolved.plugins.values():
        info = plugin.entry.plugin
        if info.distribution:
            found[info.distribution] = info.version or ""
    return found


def trial_folder(trial: Trial, width: int) -> str:
    """``trial-03-lr=0.5,seed=1``: the index, then the values, made safe for a file name."""
    label = ",".join(f"{k.rsplit('.', 1)[-1]}={short(v)}" for k, v in trial.values.items())
    safe = slug(label, keep="-_.=,+", limit=80, fallback="")
    return f"trial-{trial.index:0{width}d}" + (f"-{safe}" if safe else "")


def short(value: Any) -> str:
    """A value in a label or a folder name: floats to 4 significant digits."""
    return fmt_value(value, 4)


class TrialSource:
    """Where a sweep's trials come from: the planned list, or a search deciding as results come in.

    The driver calls :meth:`next_trial` whenever a worker is free (None: no
    more trials), :meth:`tell` when a trial ended (its status and result set),
    and :meth:`event` with every epoch event of a running trial; returning
    ``"prune"`` stops that trial at its next epoch end as ``pruned``.
    """

    total: int | None = None

    def next_trial(self) -> Trial | None:
        raise NotImplementedError

    def tell(self, trial: Trial) -> None:
        """A trial ended: ``trial.status`` and ``trial.result`` are set."""

    def event(self, trial: Trial, event: dict[str, Any]) -> str | None:
        """An epoch event of a running trial; ``"prune"`` to stop it."""
        return None


class Planned(TrialSource):
    """The trials planned from the sweep section, in order."""

    def __init__(self, trials: Iterable[Trial]) -> None:
        self.queue = deque(trials)
        self.total = len(self.queue)

    def next_trial(self) -> Trial | None:
        return self.queue.popleft() if self.queue else None
