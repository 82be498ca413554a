"""Executors: the streaming futures loop, the trial-event channels, the workers' BLAS threads,
and the seams a search builds on (a generator of trials, epoch events, pruning)."""

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml

from deltaw.cli.sweep import sweep_overrides
from deltaw.core.channel import InProcessChannel, TrialChannel
from deltaw.errors import SpecError
from deltaw.plugins.executors import ManagerChannel, Serial, stream
from deltaw.runs.sweep import run_sweep
from deltaw.runs.sweep_plan import Planned, Trial, format_override
from deltaw.runs.trial import NOT_STARTED, run_trial
from deltaw.spec.loading import load_spec
from deltaw.spec.overrides import apply_overrides, key_parts

BASE = {
    "name": "tiny",
    "seed": 5,
    "data": {"name": "blobs", "samples": 200, "classes": 2},
    "network": {"layers": [2, 4, 2], "activation": "tanh", "output_activation": "sigmoid"},
    "cost": "cross-entropy",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 3, "batch_size": 20},
}


def spec_file(tmp_path, sweep, **changes):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes, "sweep": sweep}))
    return path


# -- the futures loop --------------------------------------------------------------------------
def test_stream_keeps_at_most_workers_in_flight_and_takes_a_job_only_after_a_result():
    told, flight, most = [], [0], [0]
    lock = threading.Lock()

    def work(job):
        with lock:
            flight[0] += 1
            most[0] = max(most[0], flight[0])
        time.sleep(0.02 * (job % 3 + 1))
        with lock:
            flight[0] -= 1
        return job * 10

    def adaptive():  # a search: each next job knows every result so far
        for i in range(9):
            assert len(told) >= i - 2, (i, told)  # never more than 2 ahead of the results
            yield i

    with ThreadPoolExecutor(4) as pool:
        for job, result in stream(
            lambda j: pool.submit(work, j), adaptive(), 2, channel=TrialChannel()
        ):
            told.append((job, result))
    assert sorted(told) == [(i, i * 10) for i in range(9)] and most[0] == 2


def test_stream_gives_each_failure_as_that_jobs_result_and_goes_on():
    def work(job):
        if job == 1:
            raise ValueError("bad job")
        return job

    def submit(job):
        if job == 2:
            raise RuntimeError("cannot submit")
        return pool.submit(work, job)

    with ThreadPoolExecutor(2) as pool:
        out = dict(stream(submit, range(4), 2, channel=TrialChannel()))
    assert out[0] == 0 and out[3] == 3
    assert isinstance(out[1], ValueError) and isinstance(out[2], RuntimeError)


def test_a_first_ctrl_c_stops_taking_jobs_and_collects_the_running_then_a_second_leaves():
    channel = TrialChannel()
    gate = threading.Event()
    calls = [0]
    taken = []

    def wait_first(pending, timeout):
        calls[0] += 1
        if calls[0] in (1,):
            raise KeyboardInterrupt  # Ctrl-C while two jobs run
        gate.set()
        done = {f for f in pending if f.done()}
        if not done:
            time.sleep(0.01)
        return done

    def jobs():
        for i in range(10):
            taken.append(i)
            yield i

    with ThreadPoolExecutor(2) as pool:
        results = []
        with pytest.raises(KeyboardInterrupt):
            for item in stream(
                lambda j: pool.submit(gate.wait), jobs(), 2, channel=channel, wait_first=wait_first
            ):
                results.append(item)
    assert channel.stops == {"all": "interrupt"} and taken == [0, 1]
    assert sorted(job for job, _ in results) == [0, 1]  # the running ones ended and were collected

    abandoned = []

    def always_interrupted(pending, timeout):
        raise KeyboardInterrupt

    channel = TrialChannel()
    with ThreadPoolExecutor(2) as pool, pytest.raises(KeyboardInterrupt):
        list(
            stream(
                lambda j: pool.submit(time.sleep, 0.2),
                range(5),
                2,
                channel=channel,
                wait_first=always_interrupted,
                abandon=lambda pending: abandoned.extend(pending.values()),
            )
        )
    assert sorted(abandoned) == [0, 1]


def test_serial_streams_and_stops_taking_jobs_once_the_channel_is_stopping():
    executor = Serial()
    channel = executor.channel()
    seen = []

    def fn(job):
        seen.append(job)
        if job == 2:
            channel.request_stop(None, "interrupt")
        return job

    assert [j for j, _ in executor.run(fn, iter(range(6)), 1)] == [0, 1, 2] and seen == [0, 1, 2]


# -- channels ----------------------------------------------------------------------------------
def test_the_in_process_channel_delivers_events_and_answers_fetches_directly():
    channel = InProcessChannel()
    got = []
    channel.handler = got.append
    channel.files_for = lambda i: {"checkpoint.npz": b"x"} if i == 3 else None
    end = channel.endpoint()
    end.report({"kind": "epoch", "index": 3, "epoch": 1})
    assert got == [{"kind": "epoch", "index": 3, "epoch": 1}]
    assert end.fetch(3) == {"checkpoint.npz": b"x"} and end.fetch(4) is None
    assert end.stop_requested(3) is None
    channel.request_stop(3, "prune")
    assert end.stop_requested(3) == "prune" and end.stop_requested(4) is None
    channel.request_stop(None, "interrupt")
    assert end.stop_requested(4) == "interrupt" and channel.stopping
    with pytest.raises(ValueError, match="stop reason"):
        channel.request_stop(1, "later")


def _report_from_another_process(endpoint):
    endpoint.report({"kind": "epoch", "index": 7, "epoch": 2, "metrics": {"x": 1.0}})
    return endpoint.stop_requested(7)


def test_the_manager_channel_carries_events_and_stops_across_processes():
    import multiprocessing

    context = multiprocessing.get_context("fork")  # the quickest to start; the same proxies
    channel = ManagerChannel(context)
    try:
        got = []
        channel.handler = got.append
        channel.request_stop(7, "prune")
        with context.Pool(1) as pool:
            answer = pool.apply(_report_from_another_process, (channel.endpoint(),))
        channel.pump()
        assert answer == "prune"
        assert got == [{"kind": "epoch", "index": 7, "epoch": 2, "metrics": {"x": 1.0}}]
    finally:
        channel.close()


# -- local processes ---------------------------------------------------------------------------
def _blas_in_worker(job):
    from threadpoolctl import threadpool_info

    import deltaw.workers

    threads = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    limited_loaded = deltaw.workers._limits is not None  # numpy was loaded when the worker began
    return limited_loaded, os.environ.get("OPENBLAS_NUM_THREADS"), threads


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_local_workers_limit_blas_in_the_worker_and_leave_the_parent_alone(method, monkeypatch):
    pytest.importorskip("threadpoolctl")
    from deltaw.plugins.executors import Local

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    executor = Local(start_method=method)
    results = [r for _, r in executor.run(_blas_in_worker, [1, 2], 2)]
    for limited_loaded, env, threads in results:
        # spawn: the initializer ran before numpy loaded, so the variable is what BLAS read;
        # fork: numpy came loaded from the parent, and threadpoolctl limited it in place
        assert limited_loaded == (method == "fork") and env == "1" and set(threads) == {1}
    assert "OPENBLAS_NUM_THREADS" not in os.environ


# -- the --set and command-line forms of a sweep -----------------------------------------------
def test_set_under_sweep_grid_zip_and_random_takes_the_rest_as_one_literal_key():
    assert key_parts("sweep.grid.optimizer.lr") == ["sweep", "grid", "optimizer.lr"]
    assert key_parts("sweep.zip.network.layers.1") == ["sweep", "zip", "network.layers.1"]
    assert key_parts("sweep.random.params.optimizer.lr.log_range") == [
        "sweep",
        "random",
        "params",
        "optimizer.lr",
        "log_range",
    ]
    assert key_parts("sweep.random.samples") == ["sweep", "random", "samples"]
    assert key_parts("optimizer.lr") == ["optimizer", "lr"]
    data = apply_overrides(
        {"sweep": {"grid": {"optimizer.lr": [1.0]}}}, [("sweep.grid.optimizer.lr", [0.1, 1])]
    )
    assert data == {"sweep": {"grid": {"optimizer.lr": [0.1, 1]}}}


def test_a_sweep_written_on_the_command_line_is_the_spec_section_it_stands_for(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(BASE))
    sets = sweep_overrides(
        grid=["optimizer.lr=0.05,0.5,5", "network.layers=[[2,3,2],[2,8,2]]"],
        random=["regularizers.0.lmbda=uniform:0:5", "cost=choice:quadratic,cross-entropy"],
        trials=4,
        seeds="0,1,2",
    )
    resolved, _ = load_spec(path, sets + ["regularizers=[{name: l2, lmbda: 1}]"])
    sweep = resolved.spec.sweep
    assert sweep.grid == {"optimizer.lr": [0.05, 0.5, 5], "network.layers": [[2, 3, 2], [2, 8, 2]]}
    assert sweep.random.samples == 4 and sweep.seeds == [0, 1, 2]
    assert sweep.random.params["regularizers.0.lmbda"].range == (0, 5)
    assert sweep.random.params["cost"].choice == ["quadratic", "cross-entropy"]
    log = sweep_overrides(random=["optimizer.lr=log:1e-3:1"], repeat=3)
    assert log == [
        format_override("sweep.random.params.optimizer.lr", {"log_range": [0.001, 1]}),
        "sweep.repeat=3",
    ]
    for bad, option in [
        ({"grid": ["optimizer.lr"]}, "--grid"),
        ({"random": ["optimizer.lr=log:1"]}, "--random"),
        ({"random": ["optimizer.lr=normal:0:1"]}, "--random"),
        ({"seeds": "0,one"}, "--seeds"),
        ({"grid": ["network.layers=[[2,3,2]"]}, "not a YAML list"),
    ]:
        with pytest.raises(SpecError, match=option):
            sweep_overrides(**bad)


# -- the seams a search builds on --------------------------------------------------------------
class PruneSecond(Planned):
    """A search in miniature: reads epoch events, prunes trial 2 at its second epoch."""

    def __init__(self, trials):
        super().__init__(trials)
        self.events, self.told = [], []

    def event(self, trial, event):
        self.events.append((trial.index, event["epoch"]))
        return "prune" if (trial.index, event["epoch"]) == (2, 2) else None

    def tell(self, trial):
        self.told.append((trial.index, trial.status))


def test_a_source_sees_every_epoch_and_a_pruned_trial_keeps_checkpoint_and_curves(tmp_path):
    made = []
    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.1, 0.2, 0.3]}, "executor": "serial"})
    result = run_sweep(
        path,
        out=tmp_path / "runs",
        plots=False,
        source=lambda trials: made.append(PruneSecond(trials)) or made[0],
    )
    source = {"it": made[0]}
    src = source["it"]
    assert [t.status for t in result.trials] == ["completed", "pruned", "completed"]
    assert src.told == [(1, "completed"), (2, "pruned"), (3, "completed")]
    assert (2, 2) in src.events and (2, 3) not in src.events and (3, 3) in src.events
    pruned = result.folder / result.trials[1].folder
    run = json.loads((pruned / "run.json").read_text())
    assert run["status"] == "pruned" and run["epochs"] == 2 and "resume" not in run
    assert "Pruned by the search at the end of epoch 2" in run["message"]
    assert (pruned / "checkpoint.npz").exists() and (pruned / "weights.npz").exists()
    assert len((pruned / "metrics.jsonl").read_text().splitlines()) == 2  # its curves
    assert len((pruned / "metrics.csv").read_text().splitlines()) == 3
    info = json.loads((result.folder / "sweep.json").read_text())
    assert [t["status"] for t in info["trials"]] == ["completed", "pruned", "completed"]
    assert info["status"] == "finished"


def test_a_job_asked_to_stop_before_it_starts_does_not_start(tmp_path):
    channel = InProcessChannel()
    channel.request_stop(None, "interrupt")
    job = {
        "index": 1,
        "name": "trial-1",
        "spec_text": yaml.safe_dump(BASE),
        "suffix": ".yaml",
        "overrides": [],
        "results": "shared",
        "folder": str(tmp_path / "trial-1"),
        "events": channel.endpoint(),
    }
    assert run_trial(job) == {"status": "pending", "message": NOT_STARTED}
    assert not (tmp_path / "trial-1").exists()


def test_trials_come_from_any_iterable_source_one_at_a_time(tmp_path):
    """A source creating trials as it goes (an adaptive search): folders appear as it asks."""
    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.1]}, "executor": "serial"})
    made = []

    class Growing(Planned):
        def next_trial(self):
            if len(made) == 3:
                return None
            i = len(made) + 1
            made.append(Trial(i, {"optimizer.lr": 0.1 * i}, [f"optimizer.lr={0.1 * i}"]))
            return made[-1]

    result = run_sweep(path, out=tmp_path / "runs", plots=False, source=lambda t: Growing([]))
    assert [t.status for t in result.trials] == ["completed"] * 3
    assert [
        json.loads((result.folder / t.folder / "overrides.json").read_text()) for t in made
    ] == [
        ["optimizer.lr=0.1"],
        ["optimizer.lr=0.2"],
        ["optimizer.lr=0.30000000000000004"],
    ]
    with np.load(Path(result.folder / made[2].folder / "weights.npz")) as w:
        assert w["w0"].shape == (2, 4)


def test_the_executor_option_is_an_override_that_set_can_add_parameters_to(tmp_path):
    from deltaw.runs.sweep import with_executor

    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.1]}})  # local, by default
    address = "sweep.executor.address=tcp://127.0.0.1:8786"
    sets = with_executor(path, [address], "dask")
    assert sets == ["sweep.executor=dask", address]
    resolved, _ = load_spec(path, sets)
    executor = resolved.plugins["sweep.executor"]
    assert executor.dump()["address"] == "tcp://127.0.0.1:8786"
    assert executor.build().results == "return"  # a remote cluster ships results back
    named = spec_file(
        tmp_path,
        {"grid": {"optimizer.lr": [0.1]}, "executor": {"name": "dask", "results": "return"}},
    )
    assert with_executor(named, [], "dask") == []  # the spec's parameters stay
    with pytest.raises(SpecError, match="address or scheduler_file, not both"):
        load_spec(path, [*sets, "sweep.executor.scheduler_file=s.json"])
