"""The sweep's driver: trials through an executor, events and results into the sweep folder.

The driver asks its :class:`~deltaw.runs.sweep_plan.TrialSource` for a trial
whenever the executor has a free worker, gives each trial a self-contained job
(:mod:`deltaw.runs.trial`), hands every trial event to the source (which may
prune) and to the caller (progress), writes the files of trials that run
elsewhere (``results: return``) as they arrive, and reads every trial's status
from its own ``run.json`` (:func:`~deltaw.runs.trial.settle`), so ``sweep.json``
never disagrees with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deltaw.core.base import Executor
from deltaw.core.channel import TrialChannel
from deltaw.core.run_context import SweepContext
from deltaw.files import write_json, write_text
from deltaw.registry import Registry
from deltaw.registry.sweephooks import sweep_ended, sweep_started, trial_ended
from deltaw.runs.folder import read_run_info
from deltaw.runs.repeats import draw_runs
from deltaw.runs.report import Report, collect_runs, report_csv, summarize
from deltaw.runs.sweep_plan import FINAL, TO_RUN, Planned, Trial, TrialSource, trial_folder
from deltaw.runs.trial import describe, read_files, run_trial, settle, write_files
from deltaw.spec.models import SweepSpec

OnTrial = Callable[[Trial, int], None]
OnEvent = Callable[[Trial, dict[str, Any]], None]


@dataclass
class SweepResult:
    folder: Path
    trials: list[Trial]
    report: Report
    interrupted: bool = False

    @property
    def failed(self) -> list[Trial]:
        """Trials that did not end well (failed, diverged, or not run to their end)."""
        return [t for t in self.trials if t.status not in ("completed", "stopped", "pruned")]

    @property
    def resumable(self) -> list[Trial]:
        """Trials that ``deltaw sweep --resume`` would run (on)."""
        return [t for t in self.trials if t.status in TO_RUN]


LOST = ("BrokenExecutor", "CancelledError", "KilledWorker", "CommClosedError")


def lost(exc: BaseException) -> bool:
    """Whether the trial's worker, not the trial, failed (a crashed process, a lost machine, a
    cancelled job): then the trial stays pending, or interrupted with its checkpoint."""
    return any(cls.__name__ in LOST for cls in type(exc).__mro__)


def take_status(trial: Trial, info: dict[str, Any], error: str = "") -> None:
    """Copy a trial's truth from its ``run.json`` (``{}``: it never began, so it is pending)."""
    trial.status = str(info.get("status", "pending"))
    message = str(info.get("message", ""))
    trial.error = error or (message if trial.status not in ("completed", "pending") else "")
    trial.result = (
        {
            "message": message,
            "epochs": info.get("epochs", 0),
            "wall_time": info.get("wall_time", 0.0),
            "final": info.get("final", {}),
        }
        if info
        else {}
    )


class Driver:
    """Runs trials of one sweep folder through an executor and keeps ``sweep.json`` true."""

    def __init__(
        self,
        folder: Path,
        info: dict[str, Any],
        trials: list[Trial],
        spec_text: str,
        suffix: str,
        registry: Registry,
        disable: Sequence[str],
        plots: bool,
    ) -> None:
        self.folder, self.info, self.trials = folder, info, trials
        self.by_index = {t.index: t for t in trials}
        self.spec_text, self.suffix = spec_text, suffix
        self.registry, self.disable, self.plots = registry, list(disable), plots
        self.hooks: SweepContext | None = None  # what the sweep hooks see (set by the caller)
        self.ended: set[int] = set()
        self.shipped: dict[int, int] = {}  # trial → last epoch whose files were written here
        self.channel = TrialChannel()
        self.source: TrialSource = Planned([])
        self.on_event: OnEvent | None = None
        self.results = "shared"

    # -- running -----------------------------------------------------------------------------
    def run(
        self,
        runner: Executor,
        source: TrialSource,
        workers: int,
        sweep: SweepSpec,
        on_trial: OnTrial | None,
        on_event: OnEvent | None,
        by: str,
    ) -> SweepResult:
        self.source, self.on_event = source, on_event
        self.results = getattr(runner, "results", "shared")
        self.channel = runner.channel() or TrialChannel()
        self.channel.handler, self.channel.files_for = self._event, self._files_for
        self.write()
        ctx = self.hooks or SweepContext(self.folder, {}, self.trials, [], self.info.get("metric"))
        sweep_started(self.registry, ctx)  # in the driver: trackers never run on a worker
        interrupted = False
        jobs: Iterable[Any] = self._jobs() if runner.streams else list(self._jobs())
        results = runner.run(run_trial, jobs, workers)
        try:  # a first Ctrl-C stops the trials and waits for them; a second leaves at once
            while True:
                try:
                    job, result = next(results)
                except StopIteration:
                    break
                except KeyboardInterrupt:
                    interrupted = True
                    break
                try:
                    if self._ended(job, result) and not self.channel.stopping:
                        interrupted = True
                        self.channel.request_stop(None, "interrupt")
                    trial = self.by_index[job["index"]]
                    if trial.status != "pending":
                        trial_ended(self.registry, ctx, trial, result)
                    if on_trial is not None and trial.status != "pending":
                        on_trial(trial, self.count_ended())
                except KeyboardInterrupt:
                    if self.channel.stopping:
                        raise
                    interrupted = True
                    self.channel.request_stop(None, "interrupt")
        except KeyboardInterrupt:
            interrupted = True  # trials still running are settled from their checkpoints below
        finally:
            if hasattr(results, "close"):
                results.close()
            self.channel.close()
            for t in self.trials:
                if t.status not in FINAL:
                    take_status(t, settle(self.folder / t.folder), t.error)
            self.info["status"] = (
                "interrupted" if any(t.status in TO_RUN for t in self.trials) else "finished"
            )
            self.write()
        ended = SweepResult(self.folder, self.trials, self.summary(sweep, by), interrupted)
        sweep_ended(self.registry, ctx, self.info["status"])  # sweep.csv and the plots exist
        return ended

    def _jobs(self) -> Iterator[dict[str, Any]]:
        width = len(str(self.source.total or len(self.trials) or 1))
        endpoint = self.channel.endpoint()
        while not self.channel.stopping:
            trial = self.source.next_trial()
            if trial is None:
                return
            known = self.by_index.get(trial.index)
            if known is None:  # a search's new trial
                self.trials.append(trial)
            elif known is not trial:  # a search's own record of a planned index
                self.trials[self.trials.index(known)] = trial
            self.by_index[trial.index] = trial
            trial.folder = trial.folder or trial_folder(trial, width)
            (self.folder / trial.folder).mkdir(exist_ok=True)
            job = {
                "index": trial.index,
                "name": trial.folder,
                "spec_text": self.spec_text,
                "suffix": self.suffix,
                "overrides": trial.overrides,
                "disable": self.disable,
                "plots": self.plots,
                "results": self.results,
                "events": endpoint,
            }
            if self.results == "shared":
                job["folder"] = str((self.folder / trial.folder).resolve())
            yield job

    def _ended(self, job: dict[str, Any], result: Any) -> bool:
        """Record one trial's end; True when it says the user stopped the sweep."""
        trial = self.by_index[job["index"]]
        where = self.folder / trial.folder
        self.ended.add(trial.index)
        error = ""
        if isinstance(result, dict):
            if result.get("files") is not None:
                write_files(where, result["files"], result.get("workdir"))
            error = str(result.get("error", ""))
            if result.get("workdir"):  # the worker's folder, in a message: name this one
                error = error.replace(str(result["workdir"]), str(where))
        elif isinstance(result, BaseException) and not isinstance(result, KeyboardInterrupt):
            error = describe(result)
            if not lost(result) and not read_run_info(where):  # it failed before saying so
                write_json(
                    where / "run.json",
                    {"status": "failed", "message": error, "epochs": 0, "wall_time": 0.0},
                )
        take_status(trial, settle(where), error)
        self.source.tell(trial)
        self.write()
        return isinstance(result, KeyboardInterrupt) or (
            isinstance(result, dict) and result.get("status") == "interrupted"
        )

    def _event(self, event: dict[str, Any]) -> None:
        index = int(event.get("index", 0))
        trial = self.by_index.get(index)
        if trial is None or index in self.ended:
            return  # late news of a trial that ended
        if event.get("kind") == "start":
            trial.status = "running"  # as its run.json says from now on
            self.write()
        elif event.get("kind") == "epoch":
            epoch = int(event.get("epoch", 0))
            if event.get("files") is not None and epoch > self.shipped.get(index, 0):
                write_files(self.folder / trial.folder, event["files"], event.get("workdir"))
                self.shipped[index] = epoch
            if self.source.event(trial, event) == "prune":
                self.channel.request_stop(index, "prune")
        if self.on_event is not None:
            self.on_event(trial, event)

    def _files_for(self, index: int) -> dict[str, bytes] | None:
        trial = self.by_index.get(index)
        where = self.folder / trial.folder if trial is not None else None
        if where is None or not (where / "checkpoint.npz").exists():
            return None
        return read_files(where)

    # -- records -----------------------------------------------------------------------------
    def count_ended(self) -> int:
        """How many trials ended (completed, stopped, diverged, failed or pruned)."""
        return sum(1 for t in self.trials if t.status in FINAL)

    def write(self) -> None:
        write_json(
            self.folder / "sweep.json",
            {**self.info, "trials": [t.to_json() for t in self.trials]},
        )

    def summary(self, sweep: SweepSpec, by: str) -> Report:
        """``sweep.csv`` (and ``curves.png``): the trials ranked by the metric."""
        runs = collect_runs([self.folder])
        report = summarize(runs, self.info.get("metric"), sweep.mode, self.registry, by=by)
        write_text(self.folder / "sweep.csv", report_csv(report))
        if self.plots:
            from deltaw.plots import have_matplotlib

            shown = [r for r in runs if r.history]
            if have_matplotlib() and shown:
                draw_runs(shown, self.folder / "curves.png", f"{self.info['name']}: sweep")
        return report
