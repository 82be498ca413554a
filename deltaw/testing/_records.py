"""What schedules and callbacks are fed: per-epoch records, and the run's checkpoint round trip."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.core.monitor import Monitor, guess_higher_is_better
from deltaw.runs.checkpoint import load_run_checkpoint, save_run_checkpoint

KEYS = ("training_cost", "training_accuracy", "validation_cost", "validation_accuracy")
IMPROVING = 8  # epochs during which every metric improves; then a plateau


def records(
    epochs: int, seed: int, watched: list[Any], lr: float, nan_at: int | None = None
) -> list[dict[str, float]]:
    """One record per epoch as ``Trainer.fit`` makes it (bookkeeping, then ``<split>_<metric>``).

    Every metric improves for :data:`IMPROVING` epochs and then stays on a
    plateau just short of its best, so patience counters run out; the keys of
    every watched ``Monitor`` are included. ``nan_at`` (1-based) makes
    ``training_cost`` NaN in that epoch, as an overflowing run records it.
    """
    keys = list(KEYS)
    for obj in watched:
        monitor = getattr(obj, "monitor", None)
        if isinstance(monitor, Monitor) and monitor.key not in keys:
            keys.append(monitor.key)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(11,)))
    out = []
    for epoch in range(1, epochs + 1):
        record: dict[str, float] = {"epoch": epoch, "lr": lr, "train_time": 0.0, "eval_time": 0.0}
        for key in keys:
            progress = 0.5 * 0.7 ** min(epoch, IMPROVING)  # shrinks while improving, then stays
            noise = float(rng.uniform(0.0, 0.01)) if epoch > IMPROVING else 0.0
            good = guess_higher_is_better(key)
            record[key] = (1.0 - progress - noise) if good else (0.1 + progress + noise)
        if nan_at == epoch:
            record["training_cost"] = float("nan")
        out.append(record)
    return out


def through_checkpoint(
    trainer_state: dict[str, Any], callbacks: list[dict[str, Any]] | None = None
) -> tuple[dict[str, Any], list[Any] | None]:
    """``(trainer_state, callback_states)`` after a round trip through a run's checkpoint file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.npz"
        save_run_checkpoint(path, trainer_state, callbacks)
        return load_run_checkpoint(path)


def same(a: Any, b: Any) -> bool:
    """Deep equality of states and records: arrays by value, NaN equal to NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        numeric = a.dtype.kind in "fc" and b.dtype.kind in "fc"
        return np.array_equal(a, b, equal_nan=numeric)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return bool(a == b)
