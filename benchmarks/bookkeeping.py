"""What a run costs beyond its compute: seconds of bookkeeping per epoch at 10 … 2000 epochs.

    python benchmarks/bookkeeping.py                  # 10, 100, 1000, 2000 epochs (about a minute)
    python benchmarks/bookkeeping.py --epochs 10 100  # fewer
    python benchmarks/bookkeeping.py --json out.json  # also every run's figures as JSON

Each run trains a tiny model (moons, [2, 8, 2], 200 samples) through ``run_spec``, the code
path of ``deltaw run``, into a fresh run folder in a temporary directory. A timing callback,
called after the run writer, measures the time from one epoch's end to the next; the epoch's
own ``train_time`` and ``eval_time`` (from its record) are subtracted, which leaves the
bookkeeping: the start-of-epoch snapshot, metrics.jsonl, metrics.csv, checkpoint.npz and
run.json. Bookkeeping that is O(1) in the number of epochs costs the same per epoch at 10
epochs as at 2000; one that rewrites the history every epoch grows linearly per epoch
(quadratically in total). Only ``run_spec`` is used, so the same script measures any
deltaw version: ``PYTHONPATH=/path/to/other/checkout python benchmarks/bookkeeping.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import deltaw
from deltaw.runs.train import run_spec

SPEC = {
    "name": "bookkeeping",
    "seed": 1,
    "data": {"name": "moons", "samples": 200, "noise": 0.2},
    "network": {"layers": [2, 8, 2], "activation": "tanh", "output_activation": "sigmoid"},
    "cost": "cross-entropy",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"batch_size": 20, "stall_check": False},
}


class EpochClock(deltaw.Callback):
    """Records the time between consecutive epoch ends (after the run writer has run)."""

    def __init__(self) -> None:
        super().__init__()
        self.last: float | None = None
        self.gaps: list[float] = []
        self.compute: list[float] = []

    def on_run_start(self, trainer: Any) -> None:
        self.last = time.perf_counter()

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        now = time.perf_counter()
        assert self.last is not None
        self.gaps.append(now - self.last)
        self.compute.append(metrics["train_time"] + metrics["eval_time"])
        self.last = now


def measure(epochs: int, tmp: Path) -> dict[str, Any]:
    """Train ``epochs`` epochs; the bookkeeping per epoch, overall and over the last tenth."""
    spec = tmp / f"spec-{epochs}.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "training": {**SPEC["training"], "epochs": epochs}}))
    clock = EpochClock()
    started = time.perf_counter()
    result = run_spec(spec, out=tmp / "runs", callbacks=[clock], plots=False)
    wall = time.perf_counter() - started
    book = [g - c for g, c in zip(clock.gaps, clock.compute)]
    tail = book[-max(1, epochs // 10) :]
    return {
        "epochs": epochs,
        "wall": wall,
        "compute": sum(clock.compute),
        "bookkeeping_per_epoch": statistics.mean(book),
        "bookkeeping_per_epoch_last_tenth": statistics.mean(tail),
        "checkpoint_bytes": (result.folder / "checkpoint.npz").stat().st_size,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 100, 1000, 2000])
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    print(f"deltaw {deltaw.__version__} from {Path(deltaw.__file__).parent}")
    head = "epochs   wall s  compute s  bookkeeping ms/epoch (all, last tenth)  checkpoint"
    print(head)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.epochs:
            r = measure(n, Path(tmp))
            rows.append(r)
            print(
                f"{n:>6} {r['wall']:>8.2f} {r['compute']:>10.2f} "
                f"{1000 * r['bookkeeping_per_epoch']:>14.2f} "
                f"{1000 * r['bookkeeping_per_epoch_last_tenth']:>12.2f}"
                f"{r['checkpoint_bytes'] / 1024:>18.1f} KiB",
                flush=True,
            )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
