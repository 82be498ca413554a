"""The run and sweep hooks carry what a tracker needs (issue 11 §1).

Every run hook receives the run's context (``run``): folder, resolved spec,
overrides, status and the epoch it resumed from; a hook written before ``run``
existed (``trainer, epoch, metrics``) keeps working. The sweep hooks are called
in the driver, never in a trial's process, with the sweep's context.
"""

from __future__ import annotations

import json
import os
import re
import types
from pathlib import Path

import numpy as np
import pytest
import yaml

import deltaw
from deltaw.core.base import DataSplits, Split
from deltaw.core.network import Network
from deltaw.core.run_context import RunContext, flatten
from deltaw.core.training import Trainer
from deltaw.errors import DeltawPluginWarning, PluginError, TrainingError
from deltaw.plugins.activations import Sigmoid
from deltaw.plugins.costs import Quadratic
from deltaw.plugins.initializers import Nielsen
from deltaw.plugins.optimizers import SGD
from deltaw.registry import get_registry
from deltaw.runs.status import RunStatus
from deltaw.runs.sweep import run_sweep
from deltaw.runs.train import resume_run, run_spec

SPEC = {
    "name": "hooked",
    "seed": 2,
    "data": {"name": "blobs", "samples": 200, "classes": 2},
    "network": {"layers": [2, 4, 2], "activation": "tanh", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 3, "batch_size": 20},
}


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


class NewStyle:
    """A tracker that reads everything from the run context."""

    def __init__(self):
        self.events = []

    @deltaw.hookimpl
    def deltaw_run_start(self, trainer, run):
        self.events.append(("start", run.folder, run.resumed_from, run.status, dict(run.spec)))

    @deltaw.hookimpl
    def deltaw_epoch_end(self, epoch, metrics, run):
        self.events.append(("epoch", epoch, run.status, list(run.overrides)))

    @deltaw.hookimpl
    def deltaw_run_end(self, run):
        self.events.append(("end", run.status, run.trial))
        # called once the folder is complete: a tracker can copy it whole
        info = json.loads((run.folder / "run.json").read_text())
        assert info["status"] == run.status and (run.folder / "weights.npz").exists()


class OldStyle:
    """A hook written before the run context existed: it names only (trainer, epoch, metrics)."""

    def __init__(self):
        self.seen = []

    @deltaw.hookimpl
    def deltaw_epoch_end(self, trainer, epoch, metrics):
        self.seen.append((epoch, trainer.epoch, metrics["validation_accuracy"]))


def test_every_run_hook_receives_the_run_context_and_old_hooks_keep_working(tmp_path):
    new, old = NewStyle(), OldStyle()
    get_registry().register_plugin(new, "new")
    get_registry().register_plugin(old, "old")
    result = run_spec(spec_file(tmp_path), ["optimizer.lr=0.4"], out=tmp_path / "runs", plots=False)
    start, *epochs, end = new.events
    resolved = yaml.safe_load((result.folder / "resolved.yaml").read_text())
    assert start == ("start", result.folder, None, "running", resolved)
    assert resolved["optimizer"]["lr"] == 0.4
    assert epochs == [("epoch", e, "running", ["optimizer.lr=0.4"]) for e in (1, 2, 3)]
    assert end == ("end", "completed", None)
    assert old.seen == [(h["epoch"], h["epoch"], h["validation_accuracy"]) for h in result.history]


class CtrlC(deltaw.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_a_resumed_run_tells_its_hooks_where_it_resumed_and_how_each_part_ended(tmp_path):
    new = NewStyle()
    get_registry().register_plugin(new, "new")
    first = run_spec(spec_file(tmp_path), out=tmp_path / "runs", callbacks=[CtrlC(2)], plots=False)
    assert first.status == "interrupted"
    assert new.events[-1] == ("end", "interrupted", None)
    new.events.clear()
    again = resume_run(first.folder, plots=False)
    start, *epochs, end = new.events
    assert start[:4] == ("start", first.folder, 2, "running")
    assert [e[1] for e in epochs] == [3]  # only the epochs after the checkpoint
    assert end == ("end", "completed", None) and again.status == "completed"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"callbacks": [{"name": "early-stopping", "patience": 0, "min_delta": 1.0}]}, "stopped"),
        ({"optimizer": {"name": "sgd", "lr": 1e30}}, "diverged"),
    ],
)
def test_run_end_sees_how_the_run_ended(tmp_path, changes, status):
    new = NewStyle()
    get_registry().register_plugin(new, "new")
    try:
        run_spec(spec_file(tmp_path, **changes), out=tmp_path / "runs", plots=False)
    except TrainingError:
        pass
    assert new.events[-1] == ("end", status, None)
    (folder,) = (tmp_path / "runs").iterdir()
    assert json.loads((folder / "run.json").read_text())["status"] == status


def test_a_run_failing_in_deltaw_code_ends_failed(tmp_path):
    class Broken(deltaw.Callback):
        def on_epoch_end(self, trainer, epoch, metrics):
            raise ZeroDivisionError("a bug")

    new = NewStyle()
    get_registry().register_plugin(new, "new")
    # (blamed on this file's plugin `new`, which lives in the same module as Broken)
    with pytest.raises((ZeroDivisionError, PluginError)):
        run_spec(spec_file(tmp_path), out=tmp_path / "runs", callbacks=[Broken()], plots=False)
    assert new.events[-1] == ("end", "failed", None)


def tiny_trainer(callbacks, tmp_path):
    rng = np.random.default_rng(0)
    net = Network([2, 2], [Sigmoid()])
    net.initialize(Nielsen(), rng)
    data = DataSplits(Split(rng.normal(size=(8, 2)), np.eye(2)[rng.integers(0, 2, 8)]))
    trainer = Trainer(
        net, Quadratic(), SGD(lr=0.1), epochs=2, batch_size=4, rng=rng, callbacks=callbacks
    )
    trainer.run = RunContext(tmp_path)
    return trainer, data


def test_the_status_ignores_an_exception_the_caller_was_handling(tmp_path):
    trainer, data = tiny_trainer([RunStatus()], tmp_path)
    try:
        raise ValueError("the caller's own, already handled")
    except ValueError:
        trainer.fit(data)  # e.g. a notebook cell that trains inside an `except`
    assert trainer.run.status == "completed"


def test_flatten_gives_one_scalar_per_key_named_as_set_names_it():
    spec = {
        "name": "x",
        "network": {"layers": [2, 30, 10], "activation": "sigmoid"},
        "callbacks": [{"name": "early-stopping", "patience": 3}],
        "schedule": None,
        "sweep": {"grid": {"optimizer.lr": [0.1, 1]}},
    }
    assert flatten(spec) == {
        "name": "x",
        "network.layers": "[2, 30, 10]",
        "network.activation": "sigmoid",
        "callbacks.0.name": "early-stopping",
        "callbacks.0.patience": 3,
        "schedule": None,
    }


# -- sweep hooks: in the driver -------------------------------------------------------------------


class SweepTracker:
    """Records the sweep hooks with the process they ran in, and any run hook of a trial."""

    def __init__(self):
        self.events = []

    @deltaw.hookimpl
    def deltaw_sweep_start(self, sweep):
        self.events.append(("start", os.getpid(), sweep.folder, sweep.status, len(sweep.trials)))

    @deltaw.hookimpl
    def deltaw_trial_end(self, sweep, trial, result):
        folder = sweep.folder / trial.folder
        self.events.append(("trial", os.getpid(), trial.index, result["status"], folder.is_dir()))
        self.results = getattr(self, "results", []) + [result]

    @deltaw.hookimpl
    def deltaw_sweep_end(self, sweep):
        self.events.append(("end", os.getpid(), sweep.status, [t.status for t in sweep.trials]))

    @deltaw.hookimpl
    def deltaw_run_start(self, run):
        self.events.append(("run", os.getpid(), run.trial))


def sweep_file(tmp_path, executor):
    path = tmp_path / "sweep.yaml"
    sweep = {"grid": {"optimizer.lr": [0.1, 1e30]}, "executor": executor, "workers": 2}
    path.write_text(yaml.safe_dump({**SPEC, "sweep": sweep}))
    return path


def test_sweep_hooks_run_in_the_driver_with_each_trials_result(tmp_path):
    tracker = SweepTracker()
    get_registry().register_plugin(tracker, "tracker")
    result = run_sweep(sweep_file(tmp_path, "local"), out=tmp_path / "runs", plots=False)
    me = os.getpid()
    start, *trials, end = tracker.events
    assert start == ("start", me, result.folder, "running", 2)
    # the trials ran in worker processes, where this plugin (registered in code) does not exist:
    # no run hook reached it, and every sweep hook ran here
    assert sorted(trials) == [
        ("trial", me, 1, "completed", True),
        ("trial", me, 2, "diverged", True),
    ]
    assert end == ("end", me, "finished", ["completed", "diverged"])
    done = next(r for r in tracker.results if r["status"] == "completed")
    assert done["epochs"] == 3 and "validation_accuracy" in done["final"]


def test_run_hooks_of_a_trial_know_it_is_one(tmp_path):
    tracker = SweepTracker()
    get_registry().register_plugin(tracker, "tracker")
    run_sweep(sweep_file(tmp_path, "serial"), out=tmp_path / "runs", plots=False)
    # the serial executor runs trials in this process, so the run hooks are seen: trial 1, 2
    assert [e[2] for e in tracker.events if e[0] == "run"] == [1, 2]


class FailsAtTheEnd:
    @deltaw.hookimpl
    def deltaw_run_end(self, run):
        raise ConnectionError("the tracking server is down")


def test_a_run_end_hook_that_raises_is_named_and_the_run_kept(tmp_path):
    get_registry().register_plugin(FailsAtTheEnd(), "ends-badly")
    with pytest.raises(PluginError, match="plugin 'ends-badly'.*ConnectionError.*deltaw_run_end"):
        run_spec(spec_file(tmp_path), out=tmp_path / "runs", plots=False)
    (folder,) = (tmp_path / "runs").iterdir()
    assert json.loads((folder / "run.json").read_text())["status"] == "completed"


def test_while_a_run_fails_a_failing_run_end_hook_is_only_a_warning(tmp_path):
    get_registry().register_plugin(FailsAtTheEnd(), "ends-badly")
    with pytest.warns(DeltawPluginWarning, match="the tracking server is down"):
        with pytest.raises(TrainingError, match="diverged"):
            spec = spec_file(tmp_path, optimizer={"name": "sgd", "lr": 1e30})
            run_spec(spec, out=tmp_path / "runs", plots=False)


# -- docs/tracking.md: the tracker written there works as promised ---------------------------------

TRACKING_DOC = Path(__file__).resolve().parents[1] / "docs" / "tracking.md"


def tracker_from_the_docs():
    (block,) = [
        b
        for b in re.findall(r"```python\n(.*?)```", TRACKING_DOC.read_text(), flags=re.S)
        if "deltaw_jsonl_tracker" in b
    ]
    module = types.ModuleType("deltaw_jsonl_tracker")
    exec(compile(block, "docs/tracking.md", "exec"), module.__dict__)
    return module


def events(folder):
    return [json.loads(line) for line in (folder / "tracker.jsonl").read_text().splitlines()]


def test_the_tracker_in_the_docs_logs_runs_resumes_and_sweeps_from_the_driver(tmp_path):
    get_registry().register_plugin(tracker_from_the_docs(), "jsonl-tracker")
    first = run_spec(spec_file(tmp_path), out=tmp_path / "runs", callbacks=[CtrlC(2)], plots=False)
    resume_run(first.folder, plots=False)
    logged = events(first.folder)
    assert [e["event"] for e in logged] == ["start", "epoch", "epoch", "end"] + [
        "start",
        "epoch",
        "end",
    ]
    assert logged[0]["params"]["optimizer.lr"] == 0.5 and logged[0]["resumed_from"] is None
    assert logged[3]["status"] == "interrupted" and logged[4]["resumed_from"] == 2
    assert [e["epoch"] for e in logged if e["event"] == "epoch"] == [1, 2, 3]  # never twice
    assert logged[-1]["status"] == "completed"

    sweep = run_sweep(sweep_file(tmp_path, "serial"), out=tmp_path / "sweeps", plots=False)
    assert [e["event"] for e in events(sweep.folder)] == [
        "sweep-start",
        "trial",
        "trial",
        "sweep-end",
    ]
    assert [e["status"] for e in events(sweep.folder)[1:3]] == ["completed", "diverged"]
    # the trials trained in this process, yet their run hooks left them to the driver
    assert not any((sweep.folder / t.folder / "tracker.jsonl").exists() for t in sweep.trials)
