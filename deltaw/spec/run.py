"""Running an experiment into its own run folder, and resuming it.

A run folder holds: ``spec<ext>`` (the file as written), ``overrides.json``,
``resolved.yaml`` (every default filled in), ``environment.json`` (Python,
numpy, BLAS, deltaw and every plugin's version), ``metrics.jsonl`` and
``metrics.csv`` (one row per epoch), ``checkpoint.npz`` (the last complete
epoch: weights, optimizer state, counters, RNG, schedule and callback state),
``weights.npz`` (the final weights), ``run.json`` (status and summary) and,
when matplotlib is installed, ``curves.png`` (and ``regions.png`` for 2-D
data). Every file is written atomically; an interrupted run keeps its last
checkpoint, and :func:`resume_run` continues it exactly where it stopped.

Callbacks find the folder as ``trainer.run_dir`` and save a full checkpoint
with ``trainer.save_checkpoint(path)``; both are set here before training.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deltaw.core.base import Callback
from deltaw.core.training import NonFiniteError, Trainer
from deltaw.errors import DeltawError, SpecError, TrainingError
from deltaw.registry import Registry, get_registry
from deltaw.spec.build import Experiment, build
from deltaw.spec.checkpoint import load_run_checkpoint, save_run_checkpoint
from deltaw.spec.files import save_arrays, write_json, write_text
from deltaw.spec.loading import SUFFIXES, load_spec, parse_override

RESUMABLE = ("interrupted", "running", "failed")


@dataclass
class RunResult:
    """How a run ended: ``status`` is completed, stopped (a callback or schedule) or interrupted (Ctrl-C)."""

    folder: Path
    status: str
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
    return "".join(c if c.isalnum() or c in "-_.=" else "-" for c in name).strip("-") or "run"


def resume_command(folder: Path) -> str:
    return f"deltaw run --resume {shlex.quote(str(folder))}"


# -- environment -------------------------------------------------------------------------
def environment(exp: Experiment, registry: Registry | None = None) -> dict[str, Any]:
    """Versions of everything that shaped the numbers."""
    import deltaw

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "deltaw": deltaw.__version__,
        "libraries": {
            name: _version(name)
            for name in ("pydantic", "pluggy", "typer", "rich", "PyYAML", "matplotlib")
        },
        "plugins_used": exp.plugins_used,
        "command": sys.argv[:],
        "started": _now(),
    }
    if registry is not None:
        env["plugins"] = {
            p.name: {"distribution": p.distribution, "version": p.version, "status": p.status}
            for p in registry.plugins.values()
        }
    return env


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def blas_info() -> dict[str, Any]:
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info: dict[str, Any] = {"name": blas.get("name"), "version": blas.get("version")}
    except Exception:  # pragma: no cover - older numpy
        info = {}
    try:
        from threadpoolctl import threadpool_info

        info["threads"] = [
            {"api": p.get("internal_api"), "threads": p.get("num_threads")}
            for p in threadpool_info()
        ]
    except ImportError:
        pass
    return info


# -- what runs alongside training ---------------------------------------------------------
class RunWriter(Callback):
    """Writes metrics and the checkpoint of every completed epoch into the run folder.

    ``stateful`` are the spec's callbacks whose state goes into the checkpoint.
    """

    def __init__(self, folder: Path, stateful: Sequence[Callback] = ()) -> None:
        super().__init__()
        self.folder = folder
        self.stateful = list(stateful)
        self.saved_epoch: int | None = None

    def on_run_start(self, trainer: Trainer) -> None:
        # rewrite from the (possibly resumed) history, so a resumed run has no duplicate rows
        write_text(
            self.folder / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in trainer.history)
        )
        write_metrics_csv(self.folder / "metrics.csv", trainer.history)
        if (self.folder / "checkpoint.npz").exists():
            self.saved_epoch = trainer.epoch

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        with open(self.folder / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics) + "\n")
        write_metrics_csv(self.folder / "metrics.csv", trainer.history)
        save_run_checkpoint(
            self.folder / "checkpoint.npz", trainer.state_dict(), callback_states(self.stateful)
        )
        self.saved_epoch = epoch


class StalledError(TrainingError):
    """An epoch left some layer's weights where they were: its units are saturated or dead."""

    def __init__(self, epoch: int, layers: list[int], lr: float) -> None:
        self.epoch, self.layers, self.lr = epoch, layers, lr
        which = ", ".join(str(l + 1) for l in layers)
        super().__init__(
            f"training stalled in epoch {epoch}: the weights of layer{'s' if len(layers) > 1 else ''} {which} did not change "
            f"(every gradient there is zero, so the units are saturated or dead)"
        )


class StallGuard(Callback):
    """Stops a run when an epoch leaves some layer's W and b unchanged (relative change below ``tolerance``).

    That happens when η is so large that the first updates saturate every
    sigmoid (σ' = 0) or kill every ReLU: the run would go on at chance level
    without ever printing a NaN. Epochs whose rate is below 1/1000 of η₀
    (the tail of a schedule) are not checked. The stalled epoch is undone.
    """

    def __init__(self, tolerance: float = 1e-5) -> None:
        super().__init__()
        self.tolerance = tolerance
        self.start: list[np.ndarray] = []

    def on_run_start(self, trainer: Trainer) -> None:
        self.start = [p.copy() for p in trainer.network.params()]

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        params = trainer.network.params()
        stalled = []
        if trainer.lr >= 1e-3 * trainer.base_lr:
            for l in range(0, len(params), 2):
                before = math.sqrt(sum(float(np.vdot(p, p)) for p in self.start[l : l + 2]))
                moved = math.sqrt(
                    sum(
                        float(np.vdot(p - q, p - q))
                        for p, q in zip(params[l : l + 2], self.start[l : l + 2])
                    )
                )
                if moved <= self.tolerance * max(before, 1e-300):
                    stalled.append(l // 2)
        if stalled:
            lr = trainer.lr
            trainer.restore_snapshot()
            raise StalledError(epoch, stalled, lr)
        for dst, src in zip(self.start, params):
            dst[...] = src


def callback_states(callbacks: Sequence[Callback]) -> list[dict[str, Any] | None]:
    return [
        cb.state_dict() if callable(getattr(cb, "state_dict", None)) else None for cb in callbacks
    ]


def write_metrics_csv(path: Path, history: list[dict[str, float]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue() if keys else "")


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


# -- running -----------------------------------------------------------------------------
def run_spec(
    spec_path: str | Path,
    overrides: Sequence[str] = (),
    out: str | Path = "runs",
    callbacks: Sequence[Callback] = (),
    registry: Registry | None = None,
    *,
    folder: Path | None = None,
    plots: bool = True,
) -> RunResult:
    """Validate, build and train the spec at ``spec_path`` into a new run folder under ``out``.

    ``folder`` (an existing, empty folder) is used instead of a new one under
    ``out``; sweeps use it for their trials. ``plots`` writes the learning
    curves when matplotlib is installed.
    """
    registry = registry or get_registry()
    spec_path = Path(spec_path)
    spec, _ = load_spec(spec_path, list(overrides), registry=registry)
    exp = build(spec, registry=registry, source=str(spec_path))
    check_monitors(exp, str(spec_path))
    folder = folder if folder is not None else new_run_folder(Path(out), spec.name)
    write_text(folder / f"spec{spec_path.suffix.lower()}", spec_path.read_text(encoding="utf-8"))
    write_json(folder / "overrides.json", list(overrides))
    write_text(folder / "resolved.yaml", yaml.safe_dump(spec.resolved(), sort_keys=False))
    write_json(folder / "environment.json", environment(exp, registry))
    return train_experiment(exp, folder, callbacks, registry, plots=plots, source=str(spec_path))


def run_spec_file(folder: Path) -> Path:
    """The spec as written inside a run folder (``spec.yaml``, ``spec.toml`` or ``spec.json``)."""
    for suffix in SUFFIXES:
        path = folder / f"spec{suffix}"
        if path.exists() and (folder / "resolved.yaml").exists():
            return path
    raise DeltawError(
        f"{folder} is not a deltaw run folder: it has no spec.yaml (or .toml, .json) beside a resolved.yaml. "
        f"Give the folder that `deltaw run` printed (it holds run.json, metrics.csv, checkpoint.npz)."
    )


def read_run_info(folder: Path) -> dict[str, Any]:
    """``run.json`` of a run folder ({} when the run never got as far as writing it)."""
    try:
        return json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise DeltawError(f"{folder / 'run.json'} cannot be read ({exc}).") from None


def run_overrides(folder: Path) -> list[str]:
    try:
        data = json.loads((folder / "overrides.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, json.JSONDecodeError) as exc:
        raise DeltawError(f"{folder / 'overrides.json'} cannot be read ({exc}).") from None
    return [str(o) for o in data]


def resume_run(
    folder: str | Path,
    overrides: Sequence[str] = (),
    callbacks: Sequence[Callback] = (),
    registry: Registry | None = None,
    *,
    plots: bool = True,
) -> RunResult:
    """Continue the run in ``folder`` from its last checkpoint, in the same folder.

    The result is bit for bit what an uninterrupted run would have given.
    ``overrides`` may only change ``training.epochs`` (to train a finished
    run for longer); anything else needs a new run.
    """
    registry = registry or get_registry()
    folder = Path(folder)
    if not folder.is_dir():
        raise DeltawError(
            f"--resume {folder}: no such folder. Give a run folder printed by `deltaw run`."
        )
    spec_path = run_spec_file(folder)
    info = read_run_info(folder)
    for text in overrides:
        key, _ = parse_override(text)
        if key != "training.epochs":
            raise SpecError(
                f"--resume {folder}: --set {text!r} would change the experiment; when resuming only training.epochs "
                f"may change (to train for longer). Start a new run to change {key}."
            )
    previous = run_overrides(folder)
    spec, _ = load_spec(spec_path, previous + list(overrides), registry=registry)
    status, done = info.get("status", "running"), int(info.get("epochs", 0))
    if status == "diverged":
        raise TrainingError(
            f"{folder}: this run diverged ({info.get('message', '')}); resuming would diverge again the same way. "
            f"Start a new run with a smaller optimizer.lr."
        )
    if status == "stopped":
        raise TrainingError(
            f"{folder}: this run was stopped ({info.get('message', 'by a callback')}); there is nothing to resume."
        )
    if status == "completed" and spec.training.epochs <= done:
        raise TrainingError(
            f"{folder}: this run already completed its {done} epochs. To train it for longer: "
            f"deltaw run --resume {shlex.quote(str(folder))} --set training.epochs={done + 10}"
        )
    exp = build(spec, registry=registry, source=str(spec_path))
    ckpt = folder / "checkpoint.npz"
    state = load_run_checkpoint(ckpt) if ckpt.exists() else None
    if overrides:
        write_json(folder / "overrides.json", previous + list(overrides))
        write_text(folder / "resolved.yaml", yaml.safe_dump(spec.resolved(), sort_keys=False))
    resumes = list(info.get("resumed", [])) + [
        {"at": _now(), "from_epoch": state[0]["epoch"] if state else 0}
    ]
    return train_experiment(
        exp,
        folder,
        callbacks,
        registry,
        resume=state,
        plots=plots,
        source=str(spec_path),
        wall_before=float(info.get("wall_time", 0.0)),
        extra={"resumed": resumes},
    )


def train_experiment(
    exp: Experiment,
    folder: Path,
    callbacks: Sequence[Callback],
    registry: Registry,
    *,
    resume: tuple[dict[str, Any], list[dict[str, Any] | None] | None] | None = None,
    plots: bool = True,
    source: str = "the spec",
    wall_before: float = 0.0,
    extra: dict[str, Any] | None = None,
) -> RunResult:
    """Train ``exp`` writing into ``folder``; on Ctrl-C or a non-finite cost, keep the last checkpoint."""
    assert exp.data is not None
    check_monitors(exp, source)
    writer = RunWriter(folder, exp.callbacks)
    guard = [StallGuard()] if exp.spec.training.stall_check else []
    trainer = exp.trainer([writer, *hook_callbacks(registry), *callbacks])
    trainer.callbacks[:0] = (
        guard  # before the spec's callbacks and the writer: a stalled epoch is never recorded
    )
    prepare(trainer, exp, folder)
    if resume is not None:
        restore(trainer, exp, resume, folder)
    extra = dict(
        extra or {}, train_size=len(exp.data.train), epochs_planned=exp.spec.training.epochs
    )
    started = time.perf_counter()

    def wall() -> float:
        return wall_before + time.perf_counter() - started

    write_info(folder, trainer, exp, "running", wall_before, "", extra)
    status, message = "completed", ""
    try:
        with blas_threads(exp.spec.training.threads):
            trainer.fit(exp.data)
        if trainer.stop:
            status, message = "stopped", stop_reason(trainer)
    except KeyboardInterrupt:
        status = "interrupted"
        saved = writer.saved_epoch
        where = f"during epoch {trainer.epoch + 1}"
        if (
            saved and saved > trainer.epoch
        ):  # Ctrl-C after the epoch's checkpoint was written: keep that epoch
            restore(trainer, exp, load_run_checkpoint(folder / "checkpoint.npz"), folder)
            where = f"at the end of epoch {saved}"
        kept = (
            f"kept the checkpoint of epoch {saved}"
            if saved
            else "no epoch had finished, so there is no checkpoint yet"
        )
        message = f"Interrupted {where}; {kept}. Resume with: {resume_command(folder)}"
    except NonFiniteError as exc:
        finish(folder, trainer, exp, "diverged", wall(), str(exc), extra)
        lr = exp.optimizer.params.lr
        good = (
            f"The last good checkpoint (epoch {exc.epoch - 1}) is in {folder}."
            if exc.epoch > 1
            else f"The run folder is {folder}."
        )
        raise TrainingError(
            f"Training diverged: {exc} (learning rate {lr:g}). {good} "
            f"The learning rate is most likely too large: try --set optimizer.lr={lr / 10:g}, "
            f"or clip gradients (training.clip.norm)."
        ) from None
    except StalledError as exc:
        finish(folder, trainer, exp, "diverged", wall(), str(exc), extra)
        lr = exp.optimizer.params.lr
        raise TrainingError(
            f"Training diverged: {exc}, at learning rate {exc.lr:g}. The accuracy will not improve from here. "
            f"The learning rate is most likely far too large: try --set optimizer.lr={lr / 100:g}. The run folder {folder} "
            f"keeps the checkpoint of epoch {exc.epoch - 1}. (To let such a run go on anyway: --set training.stall_check=false.)"
        ) from None
    except BaseException as exc:
        finish(folder, trainer, exp, "failed", wall(), f"{type(exc).__name__}: {exc}", extra)
        raise
    finish(folder, trainer, exp, status, wall(), message, extra)
    if plots:
        write_plots(folder, trainer, exp)
    return RunResult(folder, status, trainer.history, wall(), message)


def prepare(trainer: Trainer, exp: Experiment, folder: Path) -> None:
    """What the built-in plugins expect of a run: its folder, a checkpoint writer, the schedule's horizon."""
    assert exp.data is not None
    trainer.run_dir = folder  # type: ignore[attr-defined]
    stateful = exp.callbacks

    def save_checkpoint(path: str | Path) -> None:
        save_run_checkpoint(Path(path), trainer.state_dict(), callback_states(stateful))

    trainer.save_checkpoint = save_checkpoint  # type: ignore[attr-defined]


def restore(
    trainer: Trainer, exp: Experiment, resume: tuple[dict[str, Any], Any], folder: Path
) -> None:
    """Load a checkpoint into the trainer and the spec's callbacks."""
    state, cb_states = resume
    shapes = [w.shape for w in trainer.network.weights]
    if [tuple(w.shape) for w in state["weights"]] != shapes:
        raise TrainingError(
            f"{folder / 'checkpoint.npz'} holds weights of shapes {[tuple(w.shape) for w in state['weights']]}, "
            f"but the run's spec builds {shapes}; the folder's spec and checkpoint do not belong together."
        )
    trainer.load_state_dict(state)
    for cb, cb_state in zip(exp.callbacks, cb_states or []):
        if cb_state is not None and callable(getattr(cb, "load_state_dict", None)):
            cb.load_state_dict(cb_state)


def stop_reason(trainer: Trainer) -> str:
    reason = trainer.stop_reason or ""
    if reason == "the schedule asked to stop" and getattr(trainer.schedule, "stop_reason", None):
        reason = trainer.schedule.stop_reason  # type: ignore[union-attr]
    return reason


def check_monitors(exp: Experiment, source: str) -> None:
    """Every ``monitor`` of the schedule and callbacks names a metric this run records; bind auto modes."""
    from deltaw.plugins.callbacks import Monitor

    assert exp.data is not None
    splits = [name for name, _ in exp.data.items() if name in exp.spec.training.evaluate]
    recorded = [f"{s}_{m}" for s in splits for m in exp.metrics]
    watchers: list[tuple[str, Any]] = [("schedule", exp.schedule)] + [
        (f"callbacks[{i}]", c) for i, c in enumerate(exp.callbacks)
    ]
    for where, obj in watchers:
        monitor = getattr(obj, "monitor", None)
        if not isinstance(monitor, Monitor):
            continue
        if monitor.key not in recorded:
            raise SpecError(
                f"{source}: {where}.monitor is {monitor.key!r}, but this run records only: {', '.join(recorded) or 'no metrics'} "
                f"(training.evaluate × metrics, for the splits the data set has). Pick one of those."
            )
        metric = exp.metrics[monitor.key.split("_", 1)[1]]
        monitor.bind(bool(getattr(metric, "higher_is_better", True)))


def write_info(
    folder: Path,
    trainer: Trainer,
    exp: Experiment,
    status: str,
    wall: float,
    message: str,
    extra: dict[str, Any],
) -> None:
    info = {
        "name": exp.spec.name,
        "status": status,
        "message": message,
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "wall_time": wall,
        "updated": _now(),
        "final": trainer.history[-1] if trainer.history else {},
        **extra,
    }
    if status in RESUMABLE:
        info["resume"] = resume_command(folder)
    write_json(folder / "run.json", info)


def finish(
    folder: Path,
    trainer: Trainer,
    exp: Experiment,
    status: str,
    wall: float,
    message: str,
    extra: dict[str, Any],
) -> None:
    """Write the final weights and ``run.json``."""
    net = trainer.network
    arrays = {f"w{i}": w for i, w in enumerate(net.weights)} | {
        f"b{i}": b for i, b in enumerate(net.biases)
    }
    save_arrays(folder / "weights.npz", arrays)
    write_info(folder, trainer, exp, status, wall, message, extra)


def write_plots(folder: Path, trainer: Trainer, exp: Experiment) -> None:
    """``curves.png`` (and ``regions.png`` for 2-D inputs) when matplotlib is installed."""
    from deltaw.plots import have_matplotlib

    if not have_matplotlib() or not trainer.history:
        return
    from deltaw.plots.curves import decision_regions, learning_curves

    learning_curves([trainer.history], [exp.spec.name], folder / "curves.png", title=exp.spec.name)
    if exp.data is not None and exp.network.sizes[0] == 2:
        decision_regions(trainer.network, exp.data, folder / "regions.png", title=exp.spec.name)


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
            raise TrainingError(
                "training.threads needs threadpoolctl: pip install threadpoolctl (or deltaw[bench])."
            ) from None
        self._ctx = threadpool_limits(limits=self.n, user_api="blas")
        self._ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
