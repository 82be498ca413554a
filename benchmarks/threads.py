"""BLAS threads on a quiet and on a busy machine: 1, 2 and ``training.threads: auto``.

    python benchmarks/threads.py                 # 3 rounds quiet, 3 rounds busy (about 2–4 minutes)
    python benchmarks/threads.py --rounds 5 --rows 20000

Times one training epoch of [784, 1000, 1000, 10] (sigmoid, quadratic cost,
SGD), batch 128, float32, on synthetic MNIST-shaped data (or MNIST from
``$DELTAW_MNIST_DIR``), through deltaw's trainer with the thread count given
exactly as ``deltaw run`` gives it (``deltaw.runs.environment.blas_threads``:
the context manager around training and, under ``auto``, its callback that
re-checks the machine between mini-batches). First on the machine as it is
("quiet"), then with one competing CPU-bound process that this script starts
(a busy loop that ends by itself after ``--busy-limit`` seconds) and kills at
the end. Each round times one epoch of every setting, in an order that
rotates; times are medians, and "auto ÷ best" is the median over rounds of
auto's epoch over the faster fixed count's in the same round. Alongside: the
load average and how many cores other processes used during each phase
(``/proc/stat``, as ``auto`` sees it), and the threads ``auto`` chose. Prints a
Markdown table; ``--json PATH`` writes everything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import system  # noqa: E402
from benchmarks.contenders import Config, spec_for  # noqa: E402

SETTINGS: tuple[int | str, ...] = (1, 2, "auto")
CONFIG = Config(
    "threads", layers=(784, 1000, 1000, 10), batch=128, dtype="float32", contenders=("deltaw",)
)
BUSY = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end:\n    pass\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="Timed epochs per setting and phase.")
    parser.add_argument("--rows", type=int, help="Training rows per epoch (default 50,000).")
    parser.add_argument(
        "--busy-limit", type=float, default=900.0, help="Seconds the busy loop lives at most."
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="On a shared machine: before each quiet epoch, wait up to this many seconds for "
        "other processes to use less than 0.3 cores (measured over 2 s).",
    )
    parser.add_argument("--layers", help="Layer sizes instead of 784,1000,1000,10.")
    parser.add_argument("--batch", type=int, help="Mini-batch size instead of 128.")
    parser.add_argument("--json", type=Path, help="Write the results here.")
    args = parser.parse_args(argv)
    global CONFIG
    if args.layers or args.batch:
        from dataclasses import replace

        layers = tuple(int(n) for n in args.layers.split(",")) if args.layers else CONFIG.layers
        CONFIG = replace(CONFIG, layers=layers, batch=args.batch or CONFIG.batch)
    from benchmarks.run import data_reference

    with tempfile.TemporaryDirectory(prefix="deltaw-threads-") as tmp:
        data, source = data_reference(Path(tmp), limit=args.rows)
        bench = Bench(data, Path(tmp))
        print(f"{CONFIG.label} — {source['description']}", flush=True)
        bench.epoch(1)  # warm-up: page faults, BLAS thread start-up
        results: dict[str, Any] = {
            "config": CONFIG.label,
            "data": source,
            "machine": system.machine(),
            "phases": {},
        }
        results["phases"]["quiet"] = bench.phase("quiet", args.rounds, args.wait_quiet)
        busy = subprocess.Popen([sys.executable, "-c", BUSY.format(limit=args.busy_limit)])
        try:
            time.sleep(1.0)  # let the scheduler see it
            results["phases"]["busy"] = bench.phase("one busy process", args.rounds)
        finally:
            busy.kill()
            busy.wait()
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nWrote {args.json}")
    return 0


class Bench:
    """One experiment; an epoch with a given ``training.threads`` setting, as ``deltaw run`` sets
    it."""

    def __init__(self, data: dict[str, Any], tmp: Path) -> None:
        import yaml

        from deltaw.registry import get_registry
        from deltaw.spec.build import build
        from deltaw.spec.loading import load_spec

        path = tmp / "threads.yaml"
        path.write_text(yaml.safe_dump(spec_for(CONFIG, data), sort_keys=False), encoding="utf-8")
        registry = get_registry()
        spec, _ = load_spec(path, [], registry=registry)
        self.exp = build(spec, registry=registry, source=str(path))
        self.trainer = self.exp.trainer()

    def epoch(self, setting: int | str) -> tuple[float, dict[str, Any]]:
        """Seconds of one epoch (``Trainer.fit``) under ``setting``, and what the setting
        recorded."""
        from deltaw.runs.environment import blas_threads

        threads = blas_threads(setting, self.exp)
        t = self.trainer
        t.callbacks = list(threads.callbacks)  # the re-check under auto, as train.py adds it
        t.epochs = t.epoch + 1
        with threads:
            started = time.perf_counter()
            t.fit(self.exp.data)
            elapsed = time.perf_counter() - started
        return elapsed, dict(threads.record)

    def phase(self, name: str, rounds: int, wait: float = 0.0) -> dict[str, Any]:
        from deltaw.runs.threads import CpuMeter

        print(f"\n{name}: load average {load()} …", flush=True)
        meter = CpuMeter()
        own = os.times()
        started = time.perf_counter()
        times: dict[str, list[float]] = {str(s): [] for s in SETTINGS}
        chosen: list[Any] = []
        waited: list[float | None] = []
        for r in range(rounds):
            order = SETTINGS[r % len(SETTINGS) :] + SETTINGS[: r % len(SETTINGS)]
            for setting in order:
                if wait:
                    waited.append(wait_for_quiet(wait))
                elapsed, record = self.epoch(setting)
                times[str(setting)].append(elapsed)
                if setting == "auto":
                    chosen.append(
                        {"first": record.get("first"), "last": record.get("threads")}
                        | {"changes": record.get("changes", [])}
                    )
            print(
                f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
                flush=True,
            )
        others = meter.others()
        wall = time.perf_counter() - started
        mine = (os.times().user + os.times().system - own.user - own.system) / wall
        medians = {k: statistics.median(v) for k, v in times.items()}
        # per round, auto against the better fixed count of that round (both ran under one load)
        paired = [a / min(t1, t2) for a, t1, t2 in zip(times["auto"], times["1"], times["2"])]
        return {
            "times": times,
            "median": medians,
            "auto_over_best": statistics.median(paired),
            "auto_over_best_of_medians": medians["auto"] / min(medians["1"], medians["2"]),
            "auto_chose": chosen,
            "load_average": load(),
            "other_cores": None if others is None else round(others, 2),
            "own_cores": round(mine, 2),
            "other_cores_before_each_epoch": waited,
        }


def wait_for_quiet(limit: float, below: float = 0.3) -> float | None:
    """Wait until other processes use fewer than ``below`` cores over 2 s (at most ``limit`` s)."""
    from deltaw.runs.threads import CpuMeter

    end = time.perf_counter() + limit
    others = None
    while time.perf_counter() < end:
        meter = CpuMeter()
        time.sleep(2.0)
        others = meter.others()
        if others is None or others < below:
            break
    return None if others is None else round(others, 2)


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def table(results: dict[str, Any]) -> str:
    rows = [
        "| machine | 1 thread (s) | 2 threads (s) | auto (s) | auto ÷ best fixed (per round) "
        "| auto chose "
        "| load average (1, 5, 15 min) after | cores used by other processes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, phase in results["phases"].items():
        m = phase["median"]
        picks = sorted({str(c["last"]) for c in phase["auto_chose"]})
        changed = sum(len(c["changes"]) for c in phase["auto_chose"])
        chose = "/".join(picks) + (f" ({changed} changes)" if changed else "")
        others = f"{phase['other_cores']}"
        before = [w for w in phase.get("other_cores_before_each_epoch", []) if w is not None]
        if before:
            others += f" (just before each epoch: {min(before)}–{max(before)})"
        rows.append(
            f"| {'quiet' if key == 'quiet' else 'one busy process'} | {m['1']:.2f} | {m['2']:.2f} "
            f"| {m['auto']:.2f} | {phase['auto_over_best']:.2f} | {chose} "
            f"| {phase['load_average']} | {others} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
