"""BLAS threads: ``training.threads`` as a number, null or ``auto`` (the free cores, re-checked)."""

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from deltaw.errors import SpecError
from deltaw.runs import threads as th
from deltaw.runs.environment import blas_threads
from deltaw.runs.train import run_spec

SPEC = {
    "name": "tiny",
    "seed": 1,
    "data": {"name": "moons", "samples": 200},
    "network": {"layers": [2, 8, 2], "output_activation": "sigmoid"},
    "cost": "cross-entropy",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 2, "batch_size": 16},
}
BIG = [784, 1000, 1000, 10]  # the network: products worth several threads at batch 128


def spec_file(tmp_path, **training):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "training": {**SPEC["training"], **training}}))
    return path


def test_the_size_cap_gives_small_products_one_thread_and_big_ones_more():
    assert th.size_cap([2, 8, 2], 16) == 1
    assert th.size_cap([784, 30, 10], 10) == 1  # the book's chapter-1 network
    assert th.size_cap([784, 30, 10], 128) == 1  # 3M multiply-adds: measured no faster on 2
    assert th.size_cap([784, 100, 10], 128) == 2  # 10M: measured 1.2 × faster on 2
    assert th.size_cap(BIG, 128) >= 2  # 100M multiply-adds per product
    assert th.size_cap(BIG, 1) == 1 and th.size_cap([5], 10) == 1


@pytest.mark.parametrize(
    ("limit", "cores", "others", "threads"),
    [
        (2, 2, 0.0, 2),  # quiet
        (2, 2, 0.3, 2),  # a little background work
        (2, 2, 0.67, 1),  # one busy process sharing two cores with our two threads
        (2, 2, 1.0, 1),  # one busy process while we use one thread
        (2, 2, 3.0, 1),  # never fewer than one
        (8, 8, 2.4, 6),
        (4, 8, 1.0, 4),  # the size cap
        (2, 2, None, 2),  # nothing to measure with: the cap
    ],
)
def test_choose_counts_a_core_half_used_by_others_as_taken(limit, cores, others, threads):
    assert th.choose(limit, cores, others) == threads


def test_the_meter_subtracts_this_process_from_the_busy_time(tmp_path):
    stat = tmp_path / "stat"
    clock, own = [0.0], [0.0]

    def write(busy0, busy1, idle=1000):
        stat.write_text(
            f"cpu  {busy0 + busy1} 0 0 {2 * idle} 0 0 0 0 0 0\n"
            f"cpu0 {busy0} 0 0 {idle} 0 0 0 0 0 0\n"
            f"cpu1 {busy1 // 2} 0 {busy1 - busy1 // 2} {idle} 0 0 0 0 0 0\n"
            "intr 1 2 3\n"
        )

    write(0, 0)
    meter = th.CpuMeter({0, 1}, stat, clock=lambda: clock[0], own_cpu=lambda: own[0])
    write(100, 100)  # 2 s of busy time on two cores in 1 s …
    clock[0], own[0] = 1.0, 1.3  # … of which this process used 1.3 s
    assert meter.others() == pytest.approx(0.7)
    write(150, 100)  # cpu0 only, when the process may use only cpu1
    clock[0] = 2.0
    assert th.CpuMeter({1}, stat, clock=lambda: clock[0]).others() is None  # no time passed
    only1 = th.CpuMeter({1}, stat, clock=lambda: clock[0], own_cpu=lambda: 0.0)
    write(300, 100)
    clock[0] = 3.0
    assert only1.others() == 0.0


def test_cgroup_quotas_cap_the_cores(tmp_path):
    assert th.cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert th.cgroup_cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert th.cgroup_cpu_quota(tmp_path) == 1.5
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("200000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert th.cgroup_cpu_quota(v1) == 2.0
    assert 1 <= th.available_cpus() <= (os.cpu_count() or 1)


class FakeLib:
    def __init__(self, n):
        self.num_threads, self.calls = n, []

    def set_num_threads(self, n):
        self.num_threads = n
        self.calls.append(n)


def fake_machine(monkeypatch, cores, blas, others):
    """``cores`` cores, a BLAS started with ``blas`` threads, other processes using ``others``."""
    lib = FakeLib(blas)
    seen = iter(others)

    class Meter:
        def others(self):
            return next(seen)

    monkeypatch.setattr(th, "available_cpus", lambda: cores)
    monkeypatch.setattr(th, "_blas_libraries", lambda: [lib])
    monkeypatch.setattr(th, "CpuMeter", Meter)
    monkeypatch.setattr(th, "FIRST_LOOK", 0.0)
    monkeypatch.setattr(th, "RECHECK", 0.0)
    return lib


def test_auto_follows_the_other_processes_between_batches(monkeypatch):
    seen = [0.05, 0.9, 0.7, 0.1, 0.1, 0.8, 0.1, 0.2, 0.0]
    lib = fake_machine(monkeypatch, cores=2, blas=2, others=seen)
    threads = th.BlasThreads("auto", BIG, 128)
    (recheck,) = threads.callbacks
    with threads:
        assert lib.num_threads == 2 and threads.record["first"] == {"threads": 2, "others": 0.05}
        used = []
        for batch in range(1, len(seen)):
            recheck.on_batch_end(None, 1, batch)
            used.append(lib.num_threads)
        # a busy process appears (0.9), stays (0.7: it has a whole core now), leaves for two
        # seconds (not long enough to trust), comes back (0.8), then is gone for three
        assert used == [1, 1, 1, 1, 1, 1, 1, 2]
    assert lib.num_threads == 2 and lib.calls == [2, 1, 2, 2]  # restored at the end
    record = threads.record
    assert record["setting"] == "auto" and record["limit"] == 2 and record["changed"] == 2
    assert [(c["threads"], c["others"]) for c in record["changes"]] == [(1, 0.9), (2, 0.0)]
    assert json.loads(json.dumps(record)) == record


def test_auto_never_exceeds_what_blas_was_started_with_nor_small_products(monkeypatch):
    lib = fake_machine(monkeypatch, cores=4, blas=1, others=[])  # OPENBLAS_NUM_THREADS=1
    with th.BlasThreads("auto", BIG, 128) as threads:
        assert lib.num_threads == 1 and threads.record["threads"] == 1
    lib = fake_machine(monkeypatch, cores=4, blas=4, others=[])
    small = th.BlasThreads("auto", [2, 8, 2], 16)
    assert small.callbacks == []  # nothing to re-check: no per-batch call at all
    with small:
        assert lib.num_threads == 1 and small.record["limit"] == 1


def test_a_number_and_null(monkeypatch):
    lib = fake_machine(monkeypatch, cores=2, blas=2, others=[])
    with th.BlasThreads(1) as fixed:
        assert lib.num_threads == 1 and fixed.callbacks == []
    assert lib.num_threads == 2
    with th.BlasThreads(None) as untouched:
        assert lib.calls == [1, 2] and untouched.record == {"setting": None}


def test_the_real_blas_is_limited_and_restored():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def current():
        return [
            p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"
        ]

    before = current()
    with blas_threads(1):
        assert set(current()) <= {1}
    assert current() == before


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="measures through /proc/stat")
def test_auto_leaves_a_core_to_a_busy_process():
    cores = th.available_cpus()
    if cores < 2:
        pytest.skip("one core: nothing to choose")
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end: pass",
        ]
    )
    try:
        time.sleep(0.3)
        threads = th.BlasThreads("auto", [784, 4000, 4000, 10], 1024)  # a cap above any core count
        with threads:
            chosen = threads.record["threads"]
    finally:
        busy.kill()
        busy.wait()
    assert 1 <= chosen <= min(cores - 1, threads.record["limit"])
    assert threads.record["first"]["others"] >= 0.5


def test_a_run_records_the_threads_it_used(tmp_path):
    result = run_spec(spec_file(tmp_path), out=tmp_path / "runs", plots=False)
    info = json.loads((result.folder / "run.json").read_text())
    record = info["blas_threads"]
    assert record["setting"] == "auto" and record["threads"] == 1 and record["limit"] == 1
    assert record["largest_product"] == 16 * 8 * 2
    env = json.loads((result.folder / "environment.json").read_text())
    assert env["cpus_available"] == th.available_cpus()
    fixed = run_spec(spec_file(tmp_path, threads=2), out=tmp_path / "runs", plots=False)
    info = json.loads((fixed.folder / "run.json").read_text())
    assert info["blas_threads"] == {"setting": 2, "threads": 2}


@pytest.mark.parametrize("bad", ["many", 0, -1, 1.5])
def test_threads_accepts_auto_a_positive_number_or_null(tmp_path, bad):
    from deltaw.spec.loading import load_spec

    for good in ("auto", 3, None):
        spec, _ = load_spec(spec_file(tmp_path, threads=good))
        assert spec.spec.training.threads == good
    with pytest.raises(SpecError, match="training.threads"):
        load_spec(spec_file(tmp_path, threads=bad))
