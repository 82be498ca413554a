"""Ctrl-C on a sweep and ``deltaw sweep --resume``: statuses stay true, resumes are bit for bit."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from deltaw.cli import app
from deltaw.errors import DeltawError, SpecError
from deltaw.runs.sweep import resume_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "name": "resumable",
    "seed": 7,
    "data": {"name": "moons", "samples": 300, "noise": 0.2},
    "network": {"layers": [2, 6, 2], "activation": "tanh", "output_activation": "sigmoid"},
    "cost": "cross-entropy",
    "optimizer": {"name": "momentum", "lr": 0.2},
    "training": {"epochs": 4, "batch_size": 16},
    "sweep": {"grid": {"optimizer.lr": [0.05, 0.1, 0.2, 0.4]}, "executor": "serial"},
}


def spec_file(tmp_path, **changes):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes}))
    return path


def weights(folder):
    with np.load(folder / "weights.npz") as z:
        return {k: z[k].copy() for k in z.files}


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


def measured(record):
    """A metrics record without its timings."""
    return {k: v for k, v in record.items() if not k.endswith("_time")}


def statuses(folder):
    """(sweep.json's status of each trial, its run.json's status or None)."""
    info = json.loads((folder / "sweep.json").read_text())
    out = []
    for t in info["trials"]:
        run = folder / t["folder"] / "run.json"
        out.append((t["status"], json.loads(run.read_text())["status"] if run.exists() else None))
    return info["status"], out


def ctrl_c_at(index, epoch):
    """An on_event callback that presses Ctrl-C when trial ``index`` ends ``epoch`` (serial)."""

    def on_event(trial, event):
        if (trial.index, event.get("kind"), event.get("epoch")) == (index, "epoch", epoch):
            raise KeyboardInterrupt

    return on_event


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full")
    return run_sweep(spec_file(tmp), out=tmp / "runs", plots=False)


def test_ctrl_c_stops_the_sweep_and_every_status_agrees_with_its_run(tmp_path):
    result = run_sweep(
        spec_file(tmp_path), out=tmp_path / "runs", plots=False, on_event=ctrl_c_at(2, 2)
    )
    assert result.interrupted
    sweep_status, trials = statuses(result.folder)
    assert sweep_status == "interrupted"
    assert trials == [
        ("completed", "completed"),
        ("interrupted", "interrupted"),
        ("pending", None),  # never started: nothing in its folder
        ("pending", None),
    ]
    second = result.folder / result.trials[1].folder
    run = json.loads((second / "run.json").read_text())
    assert run["epochs"] == 2 and "end of epoch 2" in run["message"]
    assert len((second / "metrics.jsonl").read_text().splitlines()) == 2
    assert [t.status for t in result.resumable] == ["interrupted", "pending", "pending"]


def test_resume_continues_interrupted_trials_bit_for_bit_runs_pending_keeps_finished(
    tmp_path, uninterrupted
):
    stopped = run_sweep(
        spec_file(tmp_path), out=tmp_path / "runs", plots=False, on_event=ctrl_c_at(2, 2)
    )
    first = stopped.folder / stopped.trials[0].folder
    kept = (first / "weights.npz").stat().st_mtime_ns
    seen = []
    resumed = resume_sweep(
        stopped.folder, plots=False, on_event=lambda t, e: seen.append((t.index, e["kind"]))
    )
    assert not resumed.interrupted and resumed.folder == stopped.folder
    assert statuses(resumed.folder) == ("finished", [("completed", "completed")] * 4)
    assert (first / "weights.npz").stat().st_mtime_ns == kept  # a finished trial is not rerun
    assert (1, "start") not in seen and (2, "start") in seen
    second = json.loads((resumed.folder / resumed.trials[1].folder / "run.json").read_text())
    assert [r["from_epoch"] for r in second["resumed"]] == [2]
    for a, b in zip(resumed.trials, uninterrupted.trials):
        assert measured(a.result["final"]) == measured(b.result["final"])
        assert same_weights(resumed.folder / a.folder, uninterrupted.folder / b.folder)
    lines = (resumed.folder / resumed.trials[1].folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3, 4]


def test_a_trial_left_running_by_a_dead_worker_is_settled_and_resumed(tmp_path, uninterrupted):
    stopped = run_sweep(
        spec_file(tmp_path), out=tmp_path / "runs", plots=False, on_event=ctrl_c_at(1, 3)
    )
    first = stopped.folder / stopped.trials[0].folder
    run = json.loads((first / "run.json").read_text())
    (first / "run.json").write_text(json.dumps({**run, "status": "running", "epochs": 0}))
    info = json.loads((stopped.folder / "sweep.json").read_text())
    info["trials"][0]["status"] = "running"  # as kill -9 of everything would leave it
    (stopped.folder / "sweep.json").write_text(json.dumps(info))
    resumed = resume_sweep(stopped.folder, plots=False)
    assert statuses(resumed.folder) == ("finished", [("completed", "completed")] * 4)
    assert same_weights(first, uninterrupted.folder / uninterrupted.trials[0].folder)


def test_resume_says_what_it_needs(tmp_path):
    with pytest.raises(DeltawError, match="not a sweep folder"):
        resume_sweep(tmp_path, plots=False)
    result = run_sweep(
        spec_file(tmp_path), out=tmp_path / "runs", plots=False, on_event=ctrl_c_at(1, 1)
    )
    (result.folder / "spec.yaml").write_text(
        yaml.safe_dump({**BASE, "sweep": {"grid": {"optimizer.lr": [1.0]}}})
    )
    with pytest.raises(SpecError, match="does not list the trials"):
        resume_sweep(result.folder, plots=False)


def test_the_command_line_resumes_and_refuses_a_spec_beside_resume(tmp_path):
    runner = CliRunner()
    result = run_sweep(
        spec_file(tmp_path), out=tmp_path / "runs", plots=False, on_event=ctrl_c_at(3, 1)
    )
    both = runner.invoke(app, ["sweep", str(tmp_path / "sweep.yaml"), "--resume", "x"])
    assert both.exit_code == 2 and "--resume SWEEP_DIR continues a sweep" in both.output
    again = runner.invoke(app, ["sweep", "--resume", str(result.folder), "--no-plots"])
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())
    assert "Resuming the sweep of 4 trials (2 ended)" in text and "[4/4] completed" in text
    assert statuses(result.folder) == ("finished", [("completed", "completed")] * 4)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs process groups (POSIX)")
def test_ctrl_c_from_the_terminal_stops_local_workers_within_a_second_then_resume(
    tmp_path, uninterrupted
):
    """SIGINT to the whole process group, as a terminal sends it; the sweep runs in `local`."""
    path = spec_file(tmp_path, training={"epochs": 100, "batch_size": 16})  # ~3 s a trial
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "deltaw", "sweep", str(path), "--executor", "local"]
    proc = subprocess.Popen(
        [*command, "--workers", "2", "-o", str(tmp_path / "runs"), "--no-plots"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = [len(p.read_text().splitlines()) for p in tmp_path.glob("runs/*/*/metrics.jsonl")]
        if done and max(done) >= 2:
            break
        time.sleep(0.05)
    pressed = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    took = time.monotonic() - pressed
    assert proc.returncode == 130, output
    assert took < 5, f"the sweep took {took:.1f} s to stop"  # loaded CI machines are slow
    (folder,) = (tmp_path / "runs").iterdir()
    sweep_status, trials = statuses(folder)
    assert sweep_status == "interrupted" and "deltaw sweep --resume" in output
    assert all(s == r or (s, r) == ("pending", None) for s, r in trials)
    assert [s for s, _ in trials[2:]] == ["pending", "pending"]  # queued trials never started
    # the two that started stopped with a checkpoint (or, caught before their first epoch, wait)
    assert {s for s, _ in trials[:2]} <= {"interrupted", "completed", "pending"}
    assert "interrupted" in {s for s, _ in trials[:2]}
    resumed = resume_sweep(folder, executor="serial", plots=False)
    assert statuses(folder) == ("finished", [("completed", "completed")] * 4)
    full = run_sweep(path, out=tmp_path / "full", plots=False)
    for a, b in zip(resumed.trials, full.trials):
        assert same_weights(folder / a.folder, full.folder / b.folder)


@pytest.mark.slow
def test_a_resume_may_move_the_trials_elsewhere_but_not_change_them(tmp_path):
    result = run_sweep(
        spec_file(tmp_path), out=tmp_path / "runs", plots=False, on_event=ctrl_c_at(1, 1)
    )
    with pytest.raises(SpecError, match="may only change sweep.executor and sweep.workers"):
        resume_sweep(result.folder, ["optimizer.lr=1"], plots=False)
    moved = resume_sweep(result.folder, ["sweep.executor=local", "sweep.workers=2"], plots=False)
    assert [t.status for t in moved.trials] == ["completed"] * 4
    assert json.loads((result.folder / "sweep.json").read_text())["executor"] == "local"


def test_a_crashed_worker_process_leaves_its_trials_to_resume_not_failed(tmp_path, monkeypatch):
    import deltaw.runs.trial as trial_module

    real = trial_module.TrialEvents.on_epoch_end

    def crash(self, trainer, epoch, metrics):  # trial 2 dies hard after its 2nd epoch's checkpoint
        real(self, trainer, epoch, metrics)
        if (self.index, epoch) == (2, 2):
            os._exit(3)

    monkeypatch.setattr(trial_module.TrialEvents, "on_epoch_end", crash)
    local = {"name": "local", "start_method": "fork"}  # the children inherit the crash
    path = spec_file(tmp_path, sweep={"grid": BASE["sweep"]["grid"], "executor": local})
    result = run_sweep(path, out=tmp_path / "runs", workers=2, plots=False)
    sweep_status, trials = statuses(result.folder)
    assert sweep_status == "interrupted" and not result.interrupted  # no one pressed Ctrl-C
    assert trials[1] == ("interrupted", "interrupted")  # settled: its run.json said running
    assert all(s in ("completed", "interrupted", "pending") for s, _ in trials)
    assert all(s == r or (s, r) == ("pending", None) for s, r in trials)
    assert "BrokenProcessPool" in result.trials[1].error
    monkeypatch.setattr(trial_module.TrialEvents, "on_epoch_end", real)
    resumed = resume_sweep(result.folder, executor="serial", plots=False)
    assert [t.status for t in resumed.trials] == ["completed"] * 4
    second = json.loads((result.folder / result.trials[1].folder / "run.json").read_text())
    assert second["resumed"][0]["from_epoch"] == 2
