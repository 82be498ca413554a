"""BLAS threads for a run: a fixed count, the library's own, or chosen from the free cores.

``training.threads: auto`` (the default) gives BLAS as many threads as there
are cores this process may use (affinity and a cgroup CPU quota), no more
than the products are big enough to share (:data:`WORK_PER_THREAD`), less the
cores other processes keep busy. Those are measured, not guessed: on Linux
from ``/proc/stat`` (busy time of the allowed cores minus this process's own
CPU time), over 0.2 s before training starts and then about once a second
between mini-batches, so a run drops to fewer threads as soon as another
program takes a core and goes back up once it has been gone for three
seconds. Elsewhere the load average stands in for ``/proc/stat``; without
either the count stays at the cap. Why: with 2
threads on 2 cores and one other busy process, every product waits for its
descheduled second thread and an epoch is 1.5–10 × slower than with 1
(docs/performance.md, "BLAS threads").
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deltaw.core.base import Callback
from deltaw.errors import TrainingError

# multiply-adds of the largest product of a mini-batch per BLAS thread, below which a thread is
# not worth its wake-up and synchronisation: at 3M a second thread gained nothing, at 10M 1.2 ×,
# at 30M 1.3 × (docs/performance.md, "BLAS threads")
WORK_PER_THREAD = 2**22
FIRST_LOOK = 0.2  # seconds the first measurement of the other processes takes
RECHECK = 1.0  # seconds between measurements during training
BUSY_CORE = 0.5  # a core other processes use at least this much is counted as taken
UP_AFTER = 3  # more threads only after this many measurements in a row said so; fewer at once
MAX_CHANGES = 20  # changes kept in the record (run.json); the count of all is kept too


def available_cpus() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        counter = getattr(os, "process_cpu_count", os.cpu_count)  # Python 3.13+
        n = counter() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        n = min(n, max(1, int(quota)))
    return max(1, n)


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup may use per period (v2's ``cpu.max``, v1's CFS quota); None: no limit."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def size_cap(sizes: Sequence[int], batch: int) -> int:
    """Threads the largest product of a mini-batch keeps busy: multiply-adds / WORK_PER_THREAD."""
    return max(1, _work(sizes, batch) // WORK_PER_THREAD)


def _work(sizes: Sequence[int], batch: int) -> int:
    """Multiply-adds of the largest product of a mini-batch (``a W``: batch × n_in × n_out)."""
    return batch * max((n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])), default=0)


class CpuMeter:
    """How many cores other processes used since the last look.

    Linux: busy time of the cores this process may use (``/proc/stat``: user,
    nice, system, irq, softirq and steal, the time a hypervisor gave away)
    minus this process's own CPU time. Elsewhere: the 1-minute load average
    minus this process's own use. None when neither exists (Windows).
    """

    def __init__(
        self,
        cpus: set[int] | None = None,
        stat: Path = Path("/proc/stat"),
        clock: Callable[[], float] = time.perf_counter,
        own_cpu: Callable[[], float] = lambda: sum(os.times()[:2]),
    ) -> None:
        if cpus is None:
            try:
                cpus = set(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                cpus = set()
        self.cpus, self.stat, self.clock, self.own_cpu = cpus, stat, clock, own_cpu
        self._tick = _clock_tick()
        self._last = self._sample()

    def others(self) -> float | None:
        """Average cores used by other processes since the last call (or since it was made)."""
        now = self._sample()
        before, self._last = self._last, now
        wall, own = now[0] - before[0], now[2] - before[2]
        if wall <= 0:
            return None
        if now[1] is not None and before[1] is not None:
            return max(0.0, (now[1] - before[1] - own) / wall)
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
        return max(0.0, load - own / wall)

    def _sample(self) -> tuple[float, float | None, float]:
        return self.clock(), self._busy(), self.own_cpu()

    def _busy(self) -> float | None:
        """Busy seconds of the allowed cores since boot; None without ``/proc/stat``."""
        try:
            lines = self.stat.read_text().splitlines()
        except OSError:
            return None
        total, seen = 0, False
        for line in lines:
            name, *fields = line.split()
            if not name.startswith("cpu"):
                break  # the cpu lines come first
            cpu = name[3:]
            if cpu and (not self.cpus or int(cpu) in self.cpus):
                total += _busy_ticks(fields)
                seen = True
        if not seen:  # no per-core lines: the whole machine
            total = _busy_ticks(lines[0].split()[1:])
        return total / self._tick


def _busy_ticks(fields: list[str]) -> int:
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    values = [int(v) for v in fields[:8]] + [0] * (8 - len(fields[:8]))
    return sum(values) - values[3] - values[4]


def _clock_tick() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100


def choose(limit: int, cores: int, others: float | None) -> int:
    """Threads for ``limit`` usable at most, ``cores`` allowed, ``others`` cores busy elsewhere."""
    if others is None:
        return limit
    taken = math.floor(others + 1 - BUSY_CORE)  # 0.5 → 1 core taken, 1.4 → 1, 1.5 → 2
    return max(1, min(limit, cores - taken))


class BlasThreads:
    """The BLAS thread count of one training session, as a context manager.

    ``setting``: an int (exactly that many), ``"auto"`` (chosen, see the
    module) or None (BLAS left as it is). ``sizes`` and ``batch`` (the
    network's layer sizes and the mini-batch size) bound the count for
    ``auto``. ``record`` is a dict kept up to date for ``run.json``; under
    ``auto`` with more than one usable thread, :attr:`callbacks` holds the
    callback that re-checks between mini-batches (add it to the trainer).
    """

    def __init__(
        self, setting: int | str | None, sizes: Sequence[int] = (), batch: int = 1
    ) -> None:
        self.setting, self.sizes, self.batch = setting, list(sizes), batch
        self.record: dict[str, Any] = {"setting": setting}
        self._libs: list[Any] = []
        self._original: list[int] = []
        self._meter: CpuMeter | None = None
        self._cores, self._limit, self._current = 1, 1, None
        self._next_check = math.inf
        self._started = 0.0
        self._up = 0  # measurements in a row that allowed more threads than now
        self.callbacks: list[Callback] = []
        if setting == "auto":
            self._cores = available_cpus()
            self._limit = min(
                self._cores, size_cap(self.sizes, batch) if self.sizes else self._cores
            )
            if self._limit > 1:
                self.callbacks = [_Recheck(self)]

    def __enter__(self) -> BlasThreads:
        if self.setting is None:
            return self
        self._libs = _blas_libraries()
        self._original = [lib.num_threads for lib in self._libs]
        self._started = time.perf_counter()
        if self.setting != "auto":
            self._set(int(self.setting))
            self.record.update(threads=int(self.setting))
            return self
        # never more than BLAS was started with (OPENBLAS_NUM_THREADS, a sweep's workers)
        limit = min([self._limit, *self._original]) if self._original else self._limit
        self._limit = max(1, limit)
        others = None
        if self._limit > 1:
            self._meter = CpuMeter()
            time.sleep(FIRST_LOOK)
            others = self._meter.others()
        threads = choose(self._limit, self._cores, others)
        self._set(threads)
        self.record.update(
            threads=threads,
            cores=self._cores,
            limit=self._limit,
            largest_product=_work(self.sizes, self.batch),
            first={"threads": threads, "others": _round(others)},
            changed=0,
            changes=[],
        )
        self._next_check, self._up = time.perf_counter() + RECHECK, 0
        return self

    def __exit__(self, *exc: Any) -> None:
        for lib, n in zip(self._libs, self._original):
            lib.set_num_threads(n)
        self._libs, self._meter, self._current = [], None, None
        self._next_check = math.inf

    def check(self) -> None:
        """Measure the other processes and change the thread count if the free cores changed."""
        now = time.perf_counter()
        if now < self._next_check or self._meter is None:
            return
        self._next_check = now + RECHECK
        others = self._meter.others()
        threads = choose(self._limit, self._cores, others)
        # an oversubscribed core costs far more (every product waits for it) than an idle one,
        # and other programs come and go: drop at once, come back only when it lasts
        if threads > (self._current or 0):
            self._up += 1
            if self._up < UP_AFTER:
                return
        self._up = 0
        if threads != self._current:
            self._set(threads)
            self.record["threads"] = threads
            self.record["changed"] += 1
            changes = self.record["changes"]
            changes.append(
                {
                    "after": round(now - self._started, 1),
                    "threads": threads,
                    "others": _round(others),
                }
            )
            del changes[:-MAX_CHANGES]

    def _set(self, n: int) -> None:
        for lib in self._libs:
            lib.set_num_threads(n)
        self._current = n


class _Recheck(Callback):
    """Between mini-batches, lets :class:`BlasThreads` look at the machine (once a second)."""

    def __init__(self, threads: BlasThreads) -> None:
        super().__init__()
        self.threads = threads

    def on_batch_end(self, trainer: Any, epoch: int, batch: int) -> None:
        self.threads.check()


def _blas_libraries() -> list[Any]:
    try:
        import numpy  # noqa: F401 - threadpoolctl finds only libraries already loaded
        from threadpoolctl import ThreadpoolController
    except ImportError:
        raise TrainingError(
            "training.threads needs threadpoolctl, a dependency of deltaw that is missing here: "
            "pip install threadpoolctl (or set training.threads: null)."
        ) from None
    return list(ThreadpoolController().select(user_api="blas").lib_controllers)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
