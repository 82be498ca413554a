"""Training a spec into its own run folder, and resuming it bit for bit.

:func:`run_spec` validates, builds and trains a spec into a new run folder
(:mod:`deltaw.runs.folder` describes its files); :func:`resume_run` continues
an interrupted one from its last checkpoint. An interrupted run keeps its last
checkpoint, on Ctrl-C and on SIGTERM alike (:mod:`deltaw.runs.signals`); while
training, ``run.json`` names the process that owns the run (refreshed every
:data:`INFO_EVERY` seconds), so a killed run reads as ``crashed``
(:func:`deltaw.runs.folder.run_state`). What a
resume may change is in :mod:`deltaw.runs.resuming`. Callbacks and the run hooks reach the run
through ``trainer.run`` (a :class:`~deltaw.core.run_context.RunContext`: the folder, a
checkpoint writer, the resolved spec, the overrides, the status and the epoch it resumed
from).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deltaw.core.base import Callback, Schedule
from deltaw.core.monitor import Monitor
from deltaw.core.run_context import RunContext
from deltaw.core.stall import StalledError, StallGuard, unscaled_inputs
from deltaw.core.training import NonFiniteError, Trainer
from deltaw.errors import DeltawError, SpecError, TrainingError
from deltaw.files import copy_file, write_json, write_text
from deltaw.registry import Registry, get_registry
from deltaw.registry.runhooks import hook_callbacks
from deltaw.runs.checkpoint import load_run_checkpoint, save_run_checkpoint
from deltaw.runs.environment import blas_threads, environment
from deltaw.runs.folder import (
    new_run_folder,
    now,
    resume_command,
    run_overrides,
    run_spec_file,
    run_state,
    save_preprocess,
    save_weights,
    write_run_info,
)
from deltaw.runs.owner import owner_alive, this_process
from deltaw.runs.plugin_failure import plugin_errors, plugin_failure
from deltaw.runs.resuming import (
    check_checkpoint,
    check_overrides,
    check_unchanged,
    fingerprints,
    history_until,
)
from deltaw.runs.signals import Terminated, sigterm_as_interrupt
from deltaw.runs.status import RunStatus, run_ended
from deltaw.runs.writer import RunWriter, callback_states
from deltaw.spec.build import Experiment, build
from deltaw.spec.loading import load_spec
from deltaw.spec.resolve import ResolvedSpec

# seconds between updates of a running run's run.json (its epochs are the checkpoint's anyway)
INFO_EVERY = 5.0


@dataclass
class RunResult:
    """How a run ended: ``status`` is completed, stopped (a callback or schedule) or interrupted
    (``signal`` says by what: ``SIGINT`` for Ctrl-C, ``SIGTERM``)."""

    folder: Path
    status: str
    history: list[dict[str, float]]
    wall_time: float
    message: str = ""
    signal: str = ""


def run_spec(
    spec_path: str | Path,
    overrides: Sequence[str] = (),
    out: str | Path = "runs",
    callbacks: Sequence[Callback] = (),
    registry: Registry | None = None,
    *,
    folder: Path | None = None,
    plots: bool = True,
    trial: int | None = None,
    tensorboard: bool | None = None,
) -> RunResult:
    """Validate, build and train the spec at ``spec_path`` into a new run folder under ``out``.

    ``folder`` (an existing, empty folder) is used instead of a new one under
    ``out``; sweeps use it for their trials, and give ``trial``, the trial's
    number (``trainer.run.trial``). ``plots`` writes the learning curves when
    matplotlib is installed. ``tensorboard`` adds the ``tensorboard`` callback
    (None: when the environment variable ``DELTAW_TENSORBOARD`` is set to 1).
    """
    registry = registry or get_registry()
    spec_path = Path(spec_path)
    resolved, exp = check_spec(spec_path, overrides, registry)
    folder = folder if folder is not None else new_run_folder(Path(out), exp.spec.name)
    copy_file(spec_path, folder / f"spec{spec_path.suffix.lower()}")  # bytes: any accepted encoding
    write_json(folder / "overrides.json", list(overrides))
    write_text(folder / "resolved.yaml", yaml.safe_dump(resolved.resolved(), sort_keys=False))
    save_preprocess(folder, exp.preprocess)  # the training split's statistics, for predict
    write_json(folder / "environment.json", environment(exp, registry))
    extra = {"files": fingerprints(folder)}  # a resume refuses edits made after this
    with sigterm_as_interrupt():
        return train_experiment(
            exp,
            folder,
            callbacks,
            registry,
            plots=plots,
            source=str(spec_path),
            extra=extra,
            spec=resolved.resolved(),
            overrides=list(overrides),
            trial=trial,
            tensorboard=tensorboard,
        )


def check_spec(
    spec_path: Path, overrides: Sequence[str], registry: Registry, load_data: bool = True
) -> tuple[ResolvedSpec, Experiment]:
    """Everything ``run`` checks before training starts (``deltaw validate`` runs it too).

    The spec and its ``--set``s, every plugin, the memory the network needs,
    the data set (loaded, unless ``load_data`` is False) against the network,
    and every ``monitor`` against the metrics the run will record.
    """
    resolved, _ = load_spec(spec_path, list(overrides), registry=registry)
    again = shlex.join(["deltaw", "run", str(spec_path), *(f"--set={o}" for o in overrides)])
    with plugin_errors(registry, resolved.plugins_used(), again):
        exp = build(resolved, load_data=load_data, registry=registry, source=str(spec_path))
    check_monitors(exp, str(spec_path))
    return resolved, exp


def resume_run(
    folder: str | Path,
    overrides: Sequence[str] = (),
    callbacks: Sequence[Callback] = (),
    registry: Registry | None = None,
    *,
    plots: bool = True,
    trial: int | None = None,
    tensorboard: bool | None = None,
) -> RunResult:
    """Continue the run in ``folder`` from its last checkpoint, in the same folder.

    The run trains what it recorded (``resolved.yaml``), and the result is bit for bit what
    an uninterrupted run would have given. ``overrides`` may only change the keys of
    :data:`~deltaw.runs.resuming.ON_RESUME` (train a finished run for longer, lower the
    learning rate); each change is recorded in ``run.json`` (``changes``) with the epoch from
    which it applies. Refused: a spec edited since the run started, a missing checkpoint
    after completed epochs, a run whose process still trains it.
    ``trial`` and ``tensorboard`` as for :func:`run_spec`; a run whose ``tb/`` holds event
    files continues them (``tensorboard`` None means True then).
    """
    registry = registry or get_registry()
    folder = Path(folder)
    if not folder.is_dir():
        raise DeltawError(
            f"--resume {folder}: no such folder. Give a run folder printed by `deltaw run`."
        )
    spec_path = run_spec_file(folder)
    state = run_state(folder)
    info, status, done = state.info, state.status, state.epochs
    owner = info.get("owner") or {}
    if status == "running" and owner_alive(owner):
        raise DeltawError(
            f"--resume {folder}: this run is still training, in process {owner.get('pid')} "
            f"on {owner.get('host')}. Stop it first (Ctrl-C in its terminal, or kill "
            f"{owner.get('pid')}: it keeps its checkpoint), then resume."
        )
    check_overrides(folder, overrides)
    check_unchanged(folder, info, registry)
    previous = run_overrides(folder)
    resolved, _ = load_spec(folder / "resolved.yaml", list(overrides), registry=registry)
    if status == "diverged":
        raise TrainingError(
            f"{folder}: this run diverged ({info.get('message', '')}); "
            f"resuming would diverge again the same way. "
            f"Start a new run with a smaller optimizer.lr."
        )
    if status == "stopped":
        raise TrainingError(
            f"{folder}: this run was stopped ({info.get('message', 'by a callback')}); "
            f"there is nothing to resume."
        )
    if status == "completed" and resolved.spec.training.epochs <= done:
        raise TrainingError(
            f"{folder}: this run already completed its {done} epochs. To train it for longer: "
            f"deltaw run --resume {shlex.quote(str(folder))} --set training.epochs={done + 10}"
        )
    check_checkpoint(folder, done)
    with plugin_errors(registry, resolved.plugins_used(), resume_command(folder)):
        exp = build(resolved, registry=registry, source=str(folder / "resolved.yaml"))
    ckpt = folder / "checkpoint.npz"
    saved = load_run_checkpoint(ckpt) if ckpt.exists() else None
    start = saved[0]["epoch"] if saved else 0
    if tensorboard is None and any((folder / "tb").glob("events.out.tfevents.*")):
        tensorboard = True  # started with --tensorboard: its record goes on
    changes = list(info.get("changes", []))
    if overrides:
        write_json(folder / "overrides.json", previous + list(overrides))
        write_text(folder / "resolved.yaml", yaml.safe_dump(resolved.resolved(), sort_keys=False))
        changes.append({"epoch": start + 1, "set": list(overrides), "at": now()})
    resumes = list(info.get("resumed", [])) + [{"at": now(), "from_epoch": start}]
    extra = {"resumed": resumes, "files": fingerprints(folder)}
    with sigterm_as_interrupt():
        return train_experiment(
            exp,
            folder,
            callbacks,
            registry,
            resume=saved,
            plots=plots,
            source=str(spec_path),
            wall_before=float(info.get("wall_time", 0.0)),
            extra={**extra, "changes": changes} if changes else extra,
            spec=resolved.resolved(),
            overrides=previous + list(overrides),
            trial=trial,
            tensorboard=tensorboard,
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
    spec: dict[str, Any] | None = None,
    overrides: Sequence[str] = (),
    trial: int | None = None,
    tensorboard: bool | None = None,
) -> RunResult:
    """Train ``exp`` writing into ``folder``; on Ctrl-C, SIGTERM or a non-finite cost, keep the
    last checkpoint. ``run.json`` is written at the start, at the end, and after an epoch when
    :data:`INFO_EVERY` seconds have passed since it was last written.

    ``spec`` (the resolved spec as plain data), ``overrides`` and ``trial`` go into
    the run's context (``trainer.run``) for callbacks and run hooks.
    """
    assert exp.data is not None
    check_monitors(exp, source)
    writer = RunWriter(folder, exp.callbacks)
    guard = [StallGuard()] if exp.spec.training.stall_check else []
    switched_on = tensorboard_callbacks(exp.callbacks, tensorboard)
    hooks = hook_callbacks(registry)
    threads = blas_threads(exp.spec.training.threads, exp)
    trainer = exp.trainer([writer, *hooks, *switched_on, *callbacks, *threads.callbacks])
    # first the run's status (so every callback's on_run_end sees how it ended), then the
    # stall guard, before the spec's callbacks and the writer: a stalled epoch is never recorded
    trainer.callbacks[:0] = [RunStatus(), *guard]
    prepare(trainer, exp, folder, resume[0]["epoch"] if resume is not None else None)
    assert trainer.run is not None
    trainer.run.spec = dict(spec or {})
    trainer.run.overrides = list(overrides)
    trainer.run.trial = trial
    if resume is not None:
        restore(trainer, exp, resume, folder)
    try:
        result = train_and_record(
            trainer, exp, folder, writer, registry, plots, wall_before, extra, threads
        )
    except BaseException:
        run_ended(hooks, trainer, registry, exp, writer.saved_epoch, failing=True)
        raise
    run_ended(hooks, trainer, registry, exp, writer.saved_epoch)
    return result


def train_and_record(
    trainer: Trainer,
    exp: Experiment,
    folder: Path,
    writer: RunWriter,
    registry: Registry,
    plots: bool,
    wall_before: float,
    extra: dict[str, Any] | None,
    threads: Any,
) -> RunResult:
    """Train (with ``threads``, the BLAS thread limit), then write how it ended (``run.json``,
    ``weights.npz``, plots); errors as promised."""
    assert exp.data is not None and trainer.run is not None
    extra = dict(
        extra or {}, train_size=len(exp.data.train), epochs_planned=exp.spec.training.epochs
    )
    extra["owner"] = this_process()  # a reader tells a killed run from a running one
    extra["blas_threads"] = threads.record  # kept up to date while training
    started = time.perf_counter()

    def wall() -> float:
        return wall_before + time.perf_counter() - started

    written = [started]

    def epoch_done(trainer: Trainer) -> None:  # after the epoch's checkpoint: run.json follows
        if time.perf_counter() - written[0] >= INFO_EVERY:
            write_info(folder, trainer, exp, "running", wall(), "", extra)
            written[0] = time.perf_counter()

    writer.after_epoch = epoch_done
    write_info(folder, trainer, exp, "running", wall_before, "", extra)
    status, message, signal = "completed", "", ""
    try:
        with threads:
            trainer.fit(exp.data)
        if trainer.stop:
            status, message = "stopped", stop_reason(trainer)
    except KeyboardInterrupt as exc:
        status = "interrupted"
        signal = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        saved = writer.saved_epoch
        where = f"during epoch {trainer.epoch + 1}"
        if (
            saved and saved > trainer.epoch
        ):  # Ctrl-C after the epoch's checkpoint was written: keep that epoch
            restore(trainer, exp, load_run_checkpoint(folder / "checkpoint.npz"), folder)
            where = f"at the end of epoch {saved}"
        # Ctrl-C between an epoch's metrics line and its checkpoint: the files follow the checkpoint
        writer.on_run_start(trainer)
        kept = (
            f"kept the checkpoint of epoch {saved}"
            if saved
            else "no epoch had finished, so there is no checkpoint yet"
        )
        how = "Terminated (SIGTERM)" if signal == "SIGTERM" else "Interrupted"
        message = f"{how} {where}; {kept}. Resume with: {resume_command(folder)}"
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
        unscaled = unscaled_inputs(exp.data.train.x, exp.data.info.get("columns"))
        cause = (
            f"The learning rate is most likely far too large: try --set optimizer.lr={lr / 100:g}."
            if unscaled is None
            else f"The inputs are not scaled: {unscaled}. Inputs that large saturate the hidden "
            "units at any learning rate: standardize them first, --set preprocess.standardize="
            "true (if it still stalls, try a smaller optimizer.lr)."
        )
        raise TrainingError(
            f"Training diverged: {exc}, at learning rate {exc.lr:g}. "
            f"The accuracy will not improve from here. "
            f"{cause} The run folder {folder} "
            f"keeps the checkpoint of epoch {exc.epoch - 1}. "
            f"(To let such a run go on anyway: --set training.stall_check=false.)"
        ) from None
    except BaseException as exc:
        failure = plugin_failure(registry, exc, exp.plugins_used, folder, writer.saved_epoch)
        if failure is None:  # deltaw's own error: as it is
            finish(folder, trainer, exp, "failed", wall(), f"{type(exc).__name__}: {exc}", extra)
            raise
        back_to_checkpoint(trainer, exp, folder, writer.saved_epoch)
        finish(folder, trainer, exp, "failed", wall(), str(failure), extra)
        raise failure from exc
    finish(folder, trainer, exp, status, wall(), message, extra)
    trainer.run.status = status
    if plots:
        write_plots(folder, trainer, exp)
    return RunResult(folder, status, trainer.history, wall(), message, signal)


def back_to_checkpoint(trainer: Trainer, exp: Experiment, folder: Path, saved: int | None) -> None:
    """After a failure, make the trainer (and so weights.npz, run.json) match the checkpoint."""
    try:
        if saved:
            restore(trainer, exp, load_run_checkpoint(folder / "checkpoint.npz"), folder)
        else:
            trainer.restore_snapshot()  # the start of the failed epoch
    except Exception:  # noqa: BLE001 - the checkpoint file itself is untouched either way
        pass


def prepare(
    trainer: Trainer, exp: Experiment, folder: Path, resumed_from: int | None = None
) -> None:
    """Give the trainer its run: the folder and a checkpoint writer that includes callback state."""
    stateful = exp.callbacks

    def save_checkpoint(path: Path) -> None:
        save_run_checkpoint(Path(path), trainer.state_dict(), callback_states(stateful))

    trainer.run = RunContext(folder, save_checkpoint, resumed_from, data=exp.data)


def tensorboard_callbacks(
    spec_callbacks: Sequence[Callback], wanted: bool | None
) -> list[Callback]:
    """The ``tensorboard`` callback when it is switched on for every run and the spec has none.

    ``wanted`` is ``deltaw run --tensorboard``; None reads ``DELTAW_TENSORBOARD``.
    """
    from deltaw.plugins.tensorboard import TensorBoard, switched_on

    if not switched_on(wanted) or any(isinstance(c, TensorBoard) for c in spec_callbacks):
        return []
    return [TensorBoard()]


def restore(
    trainer: Trainer, exp: Experiment, resume: tuple[dict[str, Any], Any], folder: Path
) -> None:
    """Load a checkpoint into the trainer and the spec's callbacks; the history up to its epoch
    comes from ``metrics.jsonl`` (older checkpoints hold it themselves)."""
    state, cb_states = resume
    shapes = [w.shape for w in trainer.network.weights]
    if [tuple(w.shape) for w in state["weights"]] != shapes:
        raise TrainingError(
            f"{folder / 'checkpoint.npz'} holds weights of shapes "
            f"{[tuple(w.shape) for w in state['weights']]}, "
            f"but the run's spec builds {shapes}; "
            f"the folder's spec and checkpoint do not belong together."
        )
    trainer.load_state_dict(state)
    if trainer.schedule is None:  # η is the base rate, which a resume may change (optimizer.lr)
        trainer.lr = trainer.base_lr
    if "history" not in state:
        trainer.history = history_until(folder, trainer.epoch)
    for cb, cb_state in zip(exp.callbacks, cb_states or []):
        if cb_state is not None:  # older checkpoints: None for a stateless callback
            cb.load_state_dict(cb_state)


def stop_reason(trainer: Trainer) -> str:
    reason = trainer.stop_reason or ""
    schedule = trainer.schedule
    if reason == "the schedule asked to stop" and schedule is not None and schedule.stop_reason:
        reason = schedule.stop_reason
    return reason


def check_monitors(exp: Experiment, source: str) -> None:
    """Every ``monitor`` of the schedule and callbacks names a recorded metric; bind auto modes.

    A plugin takes part by holding a :class:`~deltaw.core.monitor.Monitor` as
    ``monitor`` (declared on ``Schedule`` and ``Callback``; anything else there is ignored).
    """
    evaluate = exp.spec.training.evaluate  # without the data, every split asked for is assumed
    known = exp.data is not None
    splits = [n for n, _ in exp.data.items() if n in evaluate] if known else list(evaluate)
    recorded = [f"{s}_{m}" for s in splits for m in exp.metrics]
    watchers: list[tuple[str, Schedule | Callback]] = [
        (f"callbacks[{i}]", c) for i, c in enumerate(exp.callbacks)
    ]
    if exp.schedule is not None:
        watchers.insert(0, ("schedule", exp.schedule))
    for where, obj in watchers:
        monitor = obj.monitor
        if not isinstance(monitor, Monitor):
            continue
        if monitor.key not in recorded:
            raise SpecError(
                f"{source}: {where}.monitor is {monitor.key!r}, "
                f"but this run records only: {', '.join(recorded) or 'no metrics'} "
                f"(training.evaluate × metrics, for the splits the data set has). "
                f"Pick one of those."
            )
        monitor.bind(exp.metrics[monitor.metric].higher_is_better)


def write_info(
    folder: Path,
    trainer: Trainer,
    exp: Experiment,
    status: str,
    wall: float,
    message: str,
    extra: dict[str, Any],
) -> None:
    """Write ``run.json``: status, epochs, steps, wall time and the last record."""
    info = {
        "name": exp.spec.name,
        "status": status,
        "message": message,
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "wall_time": wall,
        "updated": now(),
        "final": trainer.history[-1] if trainer.history else {},
        **extra,
    }
    write_run_info(folder, info)


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
    save_weights(folder, trainer.network.weights, trainer.network.biases)
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
