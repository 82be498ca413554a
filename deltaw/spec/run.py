"""Running an experiment into its own run folder.

A run folder holds: ``spec<ext>`` (the file as written), ``overrides.json``,
``resolved.yaml`` (every default filled in), ``environment.json`` (Python,
numpy, BLAS, deltaw and every plugin used), ``metrics.jsonl`` and
``metrics.csv`` (one row per epoch), ``checkpoint.npz`` (the last complete
epoch: weights, optimizer state, counters, RNG and schedule state),
``weights.npz`` (the final weights) and ``run.json`` (status and summary).
Every file is written atomically; an interrupted run keeps its last checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deltaw.core.base import Callback
from deltaw.core.training import NonFiniteError, Trainer
from deltaw.errors import TrainingError
from deltaw.registry import Registry, get_registry
from deltaw.spec.build import Experiment, build
from deltaw.spec.files import save_arrays, save_checkpoint, write_json, write_text
from deltaw.spec.loading import load_spec
from deltaw.spec.models import Spec


@dataclass
class RunResult:
    folder: Path
    status: str  # completed | interrupted | stopped
    history: list[dict[str, float]]
    wall_time: float
    message: str = ""


def new_run_folder(parent: Path, name: str) -> Path:
    """A fresh folder ``parent/name-YYYYmmdd-HHMMSS[-N]``; never reuses an existing one."""
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{_slug(name)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    for i in range(1000):
        folder = parent / (stem if i == 0 else f"{stem}-{i}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise TrainingError(f"could not create a new run folder under {parent}")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-") or "run"


def environment(exp: Experiment) -> dict[str, Any]:
    """Versions of everything that shaped the numbers."""
    import deltaw

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "deltaw": deltaw.__version__,
        "plugins": exp.plugins_used,
    }


def blas_info() -> dict[str, Any]:
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info: dict[str, Any] = {"name": blas.get("name"), "version": blas.get("version")}
    except Exception:  # pragma: no cover - older numpy
        info = {}
    try:
        from threadpoolctl import threadpool_info

        info["threads"] = [{"api": p.get("internal_api"), "threads": p.get("num_threads")} for p in threadpool_info()]
    except ImportError:
        pass
    return info


class RunWriter(Callback):
    """Writes metrics and the checkpoint of every completed epoch into the run folder."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        with open(self.folder / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics) + "\n")
        write_metrics_csv(self.folder / "metrics.csv", trainer.history)
        save_checkpoint(self.folder / "checkpoint.npz", trainer.state_dict())


def write_metrics_csv(path: Path, history: list[dict[str, float]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


class HookCallbacks(Callback):
    """Forwards training events to every plugin implementing the ``deltaw_*`` hooks."""

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self.hook = registry.pm.hook

    def on_run_start(self, trainer: Trainer) -> None:
        self.hook.deltaw_run_start(trainer=trainer)

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        self.hook.deltaw_epoch_end(trainer=trainer, epoch=epoch, metrics=metrics)

    def on_run_end(self, trainer: Trainer) -> None:
        self.hook.deltaw_run_end(trainer=trainer)


class BatchHookCallbacks(HookCallbacks):
    """:class:`HookCallbacks` for when some plugin implements ``deltaw_batch_end``."""

    def on_batch_end(self, trainer: Trainer, epoch: int, batch: int) -> None:
        self.hook.deltaw_batch_end(trainer=trainer, epoch=epoch, batch=batch)


def hook_callbacks(registry: Registry) -> list[Callback]:
    """The adapter to pluggy's run hooks, or nothing when no plugin implements them."""
    hooks = registry.pm.hook
    names = ("deltaw_run_start", "deltaw_epoch_end", "deltaw_batch_end", "deltaw_run_end")
    if not any(getattr(hooks, n).get_hookimpls() for n in names):
        return []
    cls = BatchHookCallbacks if hooks.deltaw_batch_end.get_hookimpls() else HookCallbacks
    return [cls(registry)]


def run_spec(
    spec_path: str | Path,
    overrides: Sequence[str] = (),
    out: str | Path = "runs",
    callbacks: Sequence[Callback] = (),
    registry: Registry | None = None,
) -> RunResult:
    """Validate, build and train the spec at ``spec_path`` into a new run folder under ``out``."""
    registry = registry or get_registry()
    spec_path = Path(spec_path)
    spec, raw = load_spec(spec_path, list(overrides), registry=registry)
    exp = build(spec, registry=registry, source=str(spec_path))
    folder = new_run_folder(Path(out), spec.name)
    write_text(folder / f"spec{spec_path.suffix.lower()}", spec_path.read_text(encoding="utf-8"))
    write_json(folder / "overrides.json", list(overrides))
    write_text(folder / "resolved.yaml", yaml.safe_dump(spec.resolved(), sort_keys=False))
    write_json(folder / "environment.json", environment(exp))
    return train_experiment(exp, folder, callbacks, registry)


def train_experiment(exp: Experiment, folder: Path, callbacks: Sequence[Callback], registry: Registry) -> RunResult:
    """Train ``exp`` writing into ``folder``; on Ctrl-C or a non-finite cost, keep the last checkpoint."""
    assert exp.data is not None
    trainer = exp.trainer([RunWriter(folder), *hook_callbacks(registry), *callbacks])
    started = time.perf_counter()
    status, message = "completed", ""
    try:
        with blas_threads(exp.spec.training.threads):
            trainer.fit(exp.data)
        if trainer.stop:
            status, message = "stopped", trainer.stop_reason or ""
    except KeyboardInterrupt:
        status = "interrupted"
        message = f"Interrupted during epoch {trainer.epoch + 1}; kept the checkpoint of epoch {trainer.epoch}."
    except NonFiniteError as exc:
        finish(folder, trainer, exp.spec, "diverged", time.perf_counter() - started, str(exc))
        lr = exp.optimizer.params.lr
        raise TrainingError(
            f"Training diverged: {exc} (learning rate {lr:g}). The last good checkpoint (epoch {exc.epoch - 1}) is in {folder}. "
            f"The learning rate is most likely too large: try optimizer.lr={lr / 10:g}, "
            f"or clip gradients (training.clip.norm)."
        ) from None
    wall = time.perf_counter() - started
    finish(folder, trainer, exp.spec, status, wall, message)
    return RunResult(folder, status, trainer.history, wall, message)


def finish(folder: Path, trainer: Trainer, spec: Spec, status: str, wall: float, message: str) -> None:
    """Write the final weights and ``run.json``."""
    net = trainer.network
    arrays = {f"w{i}": w for i, w in enumerate(net.weights)} | {f"b{i}": b for i, b in enumerate(net.biases)}
    save_arrays(folder / "weights.npz", arrays)
    write_json(folder / "run.json", {
        "name": spec.name,
        "status": status,
        "message": message,
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "wall_time": wall,
        "final": trainer.history[-1] if trainer.history else {},
    })


class blas_threads:
    """Limit BLAS threads for the run (needs threadpoolctl); a no-op when ``n`` is None."""

    def __init__(self, n: int | None) -> None:
        self.n, self._ctx = n, None

    def __enter__(self) -> None:
        if self.n is None:
            return
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            raise TrainingError("training.threads needs threadpoolctl: pip install threadpoolctl (or deltaw[bench]).") from None
        self._ctx = threadpool_limits(limits=self.n, user_api="blas")
        self._ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
