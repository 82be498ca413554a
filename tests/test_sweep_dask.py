"""The dask executor on a LocalCluster over loopback (127.0.0.1, no dashboard), closed after use.

The same sweep gives the same numbers as serial and local; jobs hold no path of the driver;
a failing trial does not stop the others; workers missing a plugin are named before anything
runs; Ctrl-C stops trials at their next epoch end and the sweep resumes bit for bit; a worker
lost in the middle of a trial is replaced and the trial continues from the driver's checkpoint.
"""

import json
import logging
import os
import pickle
import signal
import sys

import numpy as np
import pytest
import yaml

import deltaw
from deltaw.errors import PluginError
from deltaw.runs.sweep import resume_sweep, run_sweep

distributed = pytest.importorskip("distributed", reason="the dask executor needs deltaw[dask]")

BASE = {
    "name": "dasky",
    "seed": 11,
    "data": {"name": "blobs", "samples": 200, "classes": 2},
    "network": {"layers": [2, 5, 2], "activation": "tanh", "output_activation": "sigmoid"},
    "cost": "cross-entropy",
    "optimizer": {"name": "adam", "lr": 0.05},
    "training": {"epochs": 3, "batch_size": 20},
}
# 190 of 200 points for validation leave too few to train: that trial fails at load time
FAILING = {"zip": {"data.validation": [0.1, 190, 0.1], "optimizer.lr": [0.01, 0.05, 0.1]}}
SECONDS = 150  # no test here may take longer


def new_cluster(n=2):
    return distributed.LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )


@pytest.fixture(scope="module")
def cluster():
    os.environ.setdefault("DELTAW_LOAD_PLUGINS", "")  # the workers inherit it: built-ins only
    with new_cluster() as c:
        yield c


@pytest.fixture(autouse=True)
def _bounded():
    """Fail a test that hangs instead of hanging the suite (POSIX)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def too_long(signum, frame):
        raise TimeoutError(f"a dask test took more than {SECONDS} s")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def spec_file(tmp_path, sweep, **changes):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes, "sweep": sweep}))
    return path


def on(cluster, results):
    return {"name": "dask", "address": cluster.scheduler_address, "results": results}


def measured(record):
    return {k: v for k, v in record.items() if not k.endswith("_time")}


def same_weights(a, b):
    with np.load(a / "weights.npz") as wa, np.load(b / "weights.npz") as wb:
        return wa.files == wb.files and all(np.array_equal(wa[k], wb[k]) for k in wa.files)


def assert_same(result, reference):
    assert [t.status for t in result.trials] == [t.status for t in reference.trials]
    for a, b in zip(result.trials, reference.trials):
        assert measured(a.result.get("final", {})) == measured(b.result.get("final", {}))
        if a.status == "completed":
            assert same_weights(result.folder / a.folder, reference.folder / b.folder)


def test_returned_trials_hold_no_driver_path_and_a_failing_trial_does_not_stop_the_others(
    tmp_path, cluster, monkeypatch
):
    from deltaw.plugins.executor_dask import Dask

    jobs = []
    original = Dask.run

    def recording(self, fn, stream, workers):
        def tap(stream):
            for job in stream:
                jobs.append(pickle.dumps(job))
                yield job

        return original(self, fn, tap(stream), workers)

    monkeypatch.setattr(Dask, "run", recording)
    path = spec_file(tmp_path, {**FAILING, "executor": on(cluster, "return")})
    result = run_sweep(path, out=tmp_path / "dask", workers=2, plots=False)
    assert len(jobs) == 3
    for blob in jobs:  # neither the spec's path nor the sweep folder: the spec travels as text
        assert str(tmp_path).encode() not in blob and str(result.folder).encode() not in blob
        assert b"optimizer" in blob and b"trial-" in blob
    assert [t.status for t in result.trials] == ["completed", "failed", "completed"]
    assert "fewer than the 2 classes" in result.trials[1].error
    failed = json.loads((result.folder / result.trials[1].folder / "run.json").read_text())
    assert failed["status"] == "failed"
    done = result.folder / result.trials[2].folder
    assert {"checkpoint.npz", "weights.npz", "metrics.jsonl", "run.json", "spec.yaml"} <= {
        p.name for p in done.iterdir()
    }
    run = json.loads((done / "run.json").read_text())
    assert run["status"] == "completed" and str(tmp_path) not in json.dumps(run).replace(
        str(done), ""
    )
    serial = run_sweep(path, out=tmp_path / "serial", executor="serial", plots=False)
    assert_same(result, serial)


@pytest.mark.slow
def test_the_same_sweep_under_serial_local_and_dask_gives_identical_metrics_and_weights(
    tmp_path, cluster
):
    path = spec_file(tmp_path, FAILING)
    serial = run_sweep(path, out=tmp_path / "serial", executor="serial", plots=False)
    local = run_sweep(path, out=tmp_path / "local", executor="local", workers=2, plots=False)
    assert_same(local, serial)
    for results in ("shared", "return"):
        spec = spec_file(tmp_path, {**FAILING, "executor": on(cluster, results)})
        dask = run_sweep(spec, out=tmp_path / results, workers=2, plots=False)
        assert_same(dask, serial)


def test_workers_missing_a_plugin_are_named_before_anything_runs(tmp_path, cluster, monkeypatch):
    from deltaw.plugins.executor_dask import check_workers

    with distributed.Client(cluster) as client:
        workers = sorted(client.scheduler_info()["workers"])
        with pytest.raises(PluginError) as info:
            check_workers(client, {"deltaw": deltaw.__version__, "deltaw-no-such-plugin": "1.2.0"})
        text = str(info.value)
        for address in workers:
            assert f"worker {address}: deltaw-no-such-plugin is not installed" in text
        assert "pip install deltaw==" in text and "deltaw-no-such-plugin==1.2.0" in text
        with pytest.raises(PluginError, match=r"deltaw \S+, but the driver has 0\.0\.1"):
            check_workers(client, {"deltaw": "0.0.1"})
        check_workers(client, {"deltaw": deltaw.__version__})  # all present: no error

    import deltaw.runs.sweep_plan as sweep_plan

    real = sweep_plan.distributions
    monkeypatch.setattr(
        sweep_plan,
        "distributions",
        lambda resolved: {**real(resolved), "deltaw-no-such-plugin": "1.2.0"},
    )
    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.1]}, "executor": on(cluster, "auto")})
    with pytest.raises(PluginError, match="deltaw-no-such-plugin is not installed"):
        run_sweep(path, out=tmp_path / "runs", plots=False)
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_without_the_extra_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.1]}, "executor": "dask"})
    with pytest.raises(PluginError, match=r"pip install 'deltaw\[dask\]'"):
        run_sweep(path, out=tmp_path / "runs", plots=False)
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_stops_dask_trials_at_an_epoch_end_and_the_sweep_resumes_bit_for_bit(
    tmp_path, cluster
):
    sweep = {"grid": {"optimizer.lr": [0.01, 0.02, 0.03, 0.04]}, "executor": on(cluster, "return")}
    path = spec_file(tmp_path, sweep, training={"epochs": 5, "batch_size": 20})

    def ctrl_c(trial, event):
        if event.get("kind") == "epoch" and event.get("epoch") == 2:
            raise KeyboardInterrupt

    stopped = run_sweep(path, out=tmp_path / "runs", workers=2, plots=False, on_event=ctrl_c)
    assert stopped.interrupted
    info = json.loads((stopped.folder / "sweep.json").read_text())
    assert info["status"] == "interrupted"
    for t in info["trials"]:
        run = stopped.folder / t["folder"] / "run.json"
        assert t["status"] == (json.loads(run.read_text())["status"] if run.exists() else "pending")
    # at most two run at once: when the Ctrl-C is read, later trials have not begun (on a busy
    # machine a trial may end before the event is read and let the next one start: count
    # loosely, what matters is that the sweep is left unfinished and resumes exactly)
    assert any(t["status"] in ("interrupted", "pending") for t in info["trials"])
    for t in info["trials"]:
        if t["status"] == "interrupted":  # stopped at an epoch end, its checkpoint here
            assert t["epochs"] >= 1 and (stopped.folder / t["folder"] / "checkpoint.npz").exists()
    resumed = resume_sweep(stopped.folder, workers=2, plots=False)  # the trials fetch checkpoints
    assert [t.status for t in resumed.trials] == ["completed"] * 4
    serial = run_sweep(path, out=tmp_path / "serial", executor="serial", plots=False)
    assert_same(resumed, serial)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # two clusters at once
def test_a_worker_lost_mid_trial_is_replaced_and_the_trial_continues_from_its_checkpoint(
    tmp_path,
):
    sweep = {"grid": {"optimizer.lr": [0.01, 0.02]}}
    training = {"epochs": 6, "batch_size": 20}
    with new_cluster() as cluster, distributed.Client(cluster) as client:
        path = spec_file(tmp_path, {**sweep, "executor": on(cluster, "return")}, training=training)
        killed = []

        def kill_workers(trial, event):
            if not killed and event.get("kind") == "epoch" and event.get("epoch") == 3:
                killed.extend(client.run(os.getpid).values())
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)

        starts = []
        result = run_sweep(
            path,
            out=tmp_path / "runs",
            workers=2,
            plots=False,
            on_event=lambda t, e: (
                kill_workers(t, e),
                starts.append((t.index, e["epoch"])) if e["kind"] == "start" else None,
            ),
        )
    outcome = [(t.status, t.error) for t in result.trials]
    assert killed and all(s in ("completed", "interrupted") for s, _ in outcome), outcome
    assert any(epoch >= 3 for _, epoch in starts)  # a replacement resumed from a checkpoint
    if any(s == "interrupted" for s, _ in outcome):
        # rarely (a Dask event bound to the lost worker's loop) the replacement does not pick
        # the trial up; the trial is then left resumable, never failed, and --resume ends it
        result = resume_sweep(result.folder, workers=2, plots=False, executor="serial")
        assert [t.status for t in result.trials] == ["completed", "completed"]
    serial = run_sweep(
        spec_file(tmp_path, sweep, training=training), out=tmp_path / "s", executor="serial"
    )
    assert_same(result, serial)


def test_the_command_line_names_a_cluster_and_says_when_it_cannot_be_reached(tmp_path):
    from typer.testing import CliRunner

    from deltaw.cli import app

    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.1]}})  # the spec says local
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(path),
            "--executor",
            "dask",
            "--set",
            "sweep.executor.address=tcp://127.0.0.1:9",  # nothing listens on port 9
            "--set",
            "sweep.executor.timeout=1",
            "-o",
            str(tmp_path / "runs"),
        ],
    )
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in text
    assert not (tmp_path / "runs").exists()


def test_a_scheduler_file_finds_the_cluster_and_results_come_back(tmp_path, cluster):
    with distributed.Client(cluster) as client:
        client.write_scheduler_file(str(tmp_path / "scheduler.json"))
    executor = {"name": "dask", "scheduler_file": str(tmp_path / "scheduler.json")}
    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.05]}, "executor": executor})
    result = run_sweep(path, out=tmp_path / "runs", workers=1, plots=False)
    assert [t.status for t in result.trials] == ["completed"]
    info = json.loads((result.folder / result.trials[0].folder / "run.json").read_text())
    assert info["status"] == "completed" and info["epochs"] == 3  # shipped back (results: auto)
