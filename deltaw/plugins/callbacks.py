"""Built-in training callbacks, registered through the public hook like any plugin.

Callbacks see the trainer after every epoch (``on_epoch_end(trainer, epoch,
metrics)`` with ``epoch`` 1-based and ``metrics`` that epoch's record, e.g.
``validation_accuracy``) and stop a run by setting ``trainer.stop = True`` and
``trainer.stop_reason``. Callbacks that write files write into
the run folder ``trainer.run.folder`` and save full checkpoints through
``trainer.save_checkpoint(path)``; the run layer (``deltaw run``,
``deltaw.runs.train``) gives the trainer its ``run`` (a
:class:`~deltaw.core.run_context.RunContext`) before training. A bare
:class:`~deltaw.core.training.Trainer` has none: give it one yourself. Callbacks
with state (best value so far, patience count, best weights) override
``state_dict``/``load_state_dict`` so that a resumed run continues exactly as an
uninterrupted one would. Rules that watch a metric take :class:`deltaw.MonitorParams`
and hold a :class:`deltaw.Monitor`, like any third-party plugin.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

import deltaw
from deltaw.core.history import metric_keys
from deltaw.core.monitor import Monitor
from deltaw.errors import DeltawError
from deltaw.files import write_json
from deltaw.params import MonitorParams


def run_path(trainer: Any, path: str, who: str) -> Path:
    """``path`` resolved inside the trainer's run folder (absolute paths are kept)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if trainer.run is None:
        raise DeltawError(
            f"The {who} callback writes into the run folder, but this trainer has none: "
            f"give it a RunContext (trainer.run), or give an absolute path."
        )
    return trainer.run.folder / p


class EarlyStopping(deltaw.Callback):
    (
        "Stop when the monitored metric has not improved by more than ``min_delta`` for "
        "``patience`` epochs."
        """

    An epoch improves when value > best + min_delta (or < best − min_delta
    for costs); after ``patience`` epochs in a row without one, the run stops.
    With ``restore_best`` the weights of the best epoch are put back when it
    stops. Defaults: monitor validation_accuracy, patience 10 (the book's
    "no-improvement-in-ten" rule), min_delta 0, restore_best false.
    References: Nielsen ch. 3 ("Early stopping"); Keras ``EarlyStopping``.
    """
    )

    class Params(MonitorParams):
        patience: int = Field(10, ge=0, description="Epochs without improvement before stopping.")
        min_delta: float = Field(
            0.0, ge=0, description="Smallest change that counts as an improvement."
        )
        restore_best: bool = Field(
            False, description="Put back the weights of the best epoch when stopping."
        )

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.monitor = Monitor(
            self.params.monitor, self.params.mode, threshold=self.params.min_delta
        )
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        self.best_params: list[np.ndarray] | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        p = self.params
        value = self.monitor.value(metrics, "early-stopping callback")
        if self.monitor.improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if p.restore_best:
                self.best_params = [a.copy() for a in trainer.network.params()]
            return
        self.wait += 1
        if self.wait < p.patience:
            return
        reason = (
            f"early stopping: {p.monitor} has not improved for {self.wait} epochs (best "
            f"{self.best:.6g} at epoch {self.best_epoch})"
        )
        if p.restore_best and self.best_params is not None:
            for dst, src in zip(trainer.network.params(), self.best_params):
                dst[...] = src
            reason += f"; restored the weights of epoch {self.best_epoch}"
        trainer.stop, trainer.stop_reason = True, reason

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
        }
        if self.best_params is not None:
            state["best_params"] = [a.copy() for a in self.best_params]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = (
            state["best"],
            int(state["best_epoch"]),
            int(state["wait"]),
        )
        best = state.get("best_params")
        self.best_params = [np.array(a) for a in best] if best is not None else None


class Checkpoint(deltaw.Callback):
    (
        "Keep checkpoints: every ``every`` epochs (``checkpoints/epoch-NNNN.npz``) and/or the "
        "best one (``best.npz``)."
        """

    Each file is a full, atomically written trainer checkpoint (weights,
    optimizer state, counters, RNG, schedule state) in the layout of
    the run's ``checkpoint.npz``; ``best.json`` says which epoch ``best.npz``
    holds. The run folder itself always keeps the last epoch's checkpoint.
    Defaults: every none, best false (set one of them), monitor
    validation_accuracy, folder "checkpoints". Reference: Keras
    ``ModelCheckpoint`` (``save_freq``, ``save_best_only``).
    """
    )

    class Params(MonitorParams):
        every: int | None = Field(
            None, ge=1, description="Keep a checkpoint every this many epochs."
        )
        best: bool = Field(False, description="Keep the checkpoint of the best epoch as best.npz.")
        folder: str = Field(
            "checkpoints", description="Sub-folder of the run folder for the periodic checkpoints."
        )

        @model_validator(mode="after")
        def _something_to_do(self) -> Checkpoint.Params:
            if self.every is None and not self.best:
                raise ValueError(
                    "set every (keep a checkpoint every N epochs), best: true, or both"
                )
            return self

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.monitor = Monitor(self.params.monitor, self.params.mode)
        self.best: float | None = None

    def on_run_start(self, trainer: Any) -> None:
        run_path(trainer, ".", "checkpoint")  # fail before the first epoch, not after it
        if trainer.run.save_checkpoint is None:
            raise DeltawError(
                "The checkpoint callback saves through trainer.save_checkpoint(path), which needs "
                "the "
                "run's checkpoint writer (trainer.run.save_checkpoint); the run layer (deltaw run, "
                "deltaw.runs.train.run_spec) provides it; with a bare Trainer, give it a "
                "RunContext."
            )

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        p = self.params
        if p.every and epoch % p.every == 0:
            folder = run_path(trainer, p.folder, "checkpoint")
            folder.mkdir(parents=True, exist_ok=True)
            trainer.save_checkpoint(folder / f"epoch-{epoch:04d}.npz")
        if p.best:
            value = self.monitor.value(metrics, "checkpoint callback")
            if self.monitor.improved(value, self.best):
                self.best = value
                trainer.save_checkpoint(run_path(trainer, "best.npz", "checkpoint"))
                write_json(
                    run_path(trainer, "best.json", "checkpoint"),
                    {"epoch": epoch, "monitor": p.monitor, "value": value},
                )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


class StopOnNonFinite(deltaw.Callback):
    """Stop the run, keeping its checkpoint, as soon as a metric becomes NaN or infinite.

    The framework already stops with an error when the weights become
    non-finite (and names the mini-batch); this callback also catches a cost
    that overflows while the weights are still finite, and stops cleanly
    (status "stopped") with the likely fix in the reason. Defaults: watch
    every metric. Reference: Keras ``TerminateOnNaN``.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        monitor: list[str] | None = Field(
            None, description="Metric keys to watch; default: every metric of the epoch."
        )

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        keys = self.params.monitor or metric_keys(metrics)
        bad = [k for k in keys if k in metrics and not math.isfinite(metrics[k])]
        if bad:
            trainer.stop = True
            trainer.stop_reason = (
                f"{', '.join(bad)} became {metrics[bad[0]]} at epoch {epoch} (learning rate "
                f"{trainer.lr:g}); "
                "the learning rate is most likely too large: lower optimizer.lr or clip gradients "
                "(training.clip.norm)"
            )


class _Log(deltaw.Callback):
    """Appends one line per epoch to a file; on resume it cuts the file back to the checkpoint's
    lines."""

    who = "log"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str = Field(description="File to write, relative to the run folder (or absolute).")
        append: bool = Field(
            False, description="Keep what the file already holds instead of starting it afresh."
        )

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.lines = 0  # lines this run has written, header included
        self._start = 0  # bytes already in the file when the run started (append mode)
        self._resumed = False
        self.path: Path | None = None

    def on_run_start(self, trainer: Any) -> None:
        self.path = run_path(trainer, self.params.path, self.who)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._resumed:
            self._truncate()
        elif not self.params.append or not self.path.exists():
            self.path.write_text("", encoding="utf-8")
            self._start = 0
        else:
            self._start = self.path.stat().st_size

    def _truncate(self) -> None:
        assert self.path is not None
        if not self.path.exists():
            self.path.write_text("", encoding="utf-8")
            self.lines = 0
            return
        with open(self.path, "rb") as f:
            f.seek(self._start)
            kept = b"".join(f.readline() for _ in range(self.lines))
        with open(self.path, "r+b") as f:
            f.truncate(self._start)
            f.seek(self._start)
            f.write(kept)

    def _write(self, text: str, lines: int) -> None:
        assert self.path is not None
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self.lines += lines

    def state_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "start": self._start}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lines, self._start, self._resumed = int(state["lines"]), int(state["start"]), True


class CsvLog(_Log):
    """Append every epoch's metrics as a CSV row (header from the first epoch's keys).

    Defaults: path "log.csv" in the run folder, separator ",", append false.
    Reference: Keras ``CSVLogger``. (The run folder always has metrics.csv;
    use this to log elsewhere or to collect several runs in one file.)
    """

    who = "csv-log"

    class Params(_Log.Params):
        path: str = Field(
            "log.csv", description="CSV file, relative to the run folder (or absolute)."
        )
        separator: str = Field(
            ",", min_length=1, max_length=1, description="The character between cells."
        )

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=self.params.separator, lineterminator="\n")
        lines = 1
        if self.lines == 0:
            self.header = list(metrics)
            writer.writerow(self.header)
            lines = 2
        header = getattr(self, "header", None) or self._read_header()
        writer.writerow([metrics.get(k, "") for k in header])
        self._write(buf.getvalue(), lines)

    def _read_header(self) -> list[str]:
        assert self.path is not None
        with open(self.path, encoding="utf-8", newline="") as f:
            f.seek(self._start)
            self.header = next(csv.reader([f.readline()], delimiter=self.params.separator))
        return self.header


class JsonlLog(_Log):
    """Append every epoch's metrics as one JSON object per line.

    Defaults: path "log.jsonl" in the run folder, append false. (The run
    folder always has metrics.jsonl; use this to log elsewhere.)
    """

    who = "jsonl-log"

    class Params(_Log.Params):
        path: str = Field(
            "log.jsonl", description="JSON-lines file, relative to the run folder (or absolute)."
        )

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        self._write(json.dumps(metrics) + "\n", 1)


@deltaw.hookimpl
def register_callbacks(register: Any) -> None:
    register("early-stopping", EarlyStopping)
    register("checkpoint", Checkpoint)
    register("stop-on-non-finite", StopOnNonFinite)
    register("csv-log", CsvLog)
    register("jsonl-log", JsonlLog)
