"""The ``tensorboard`` callback: TensorBoard event files in the run folder (``tb/``).

Needs the optional extra ``pip install 'deltaw[tensorboard]'`` (tensorboardX,
imported only when a run uses the callback). Look at the files with
``tensorboard --logdir runs/`` (TensorBoard itself: ``pip install tensorboard``).

What it writes, at step = epoch:

* every metric per split: ``validation/accuracy``, ``training/cost``, … (the
  record's ``<split>_<metric>`` keys), the learning rate ``optimizer/lr`` and the
  epoch's times ``time/train`` and ``time/eval`` (seconds);
* with ``gradient_norms``, the learning speed of each layer (the book's chapter 5,
  "why are deep networks hard to train"): ``gradient_norm/layer<l>/b`` = ‖∂C/∂bˡ‖
  and ``gradient_norm/layer<l>/W`` = ‖∂C/∂Wˡ‖ (layer 1 is the first weight layer),
  computed at the end of every epoch on a fixed batch — the first ``samples``
  rows of the training split, the same rows every epoch — so training pays
  nothing per mini-batch. The cost's gradient only (no regularizer), batch means;
* with ``histograms``, per layer the distribution of the weights and biases
  (``weights/layer<l>/W``, ``…/b``) and, on the same fixed batch, of their
  gradients (``gradients/layer<l>/W``, ``…/b``);
* at the end of the run the hyper-parameters (the resolved spec, flattened:
  ``optimizer.lr``, ``network.layers``, …) for TensorBoard's HParams view,
  whose metrics are the scalars above at their last epoch: the view compares a
  sweep's trials.

A fresh run also writes the gradient norms and histograms at step 0 (before
training). A resumed run appends to the same files: its writer starts with a
``purge_step`` at the epoch after the checkpoint, so TensorBoard drops whatever
an interrupted run had written past it, and no step is ever shown twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw
from deltaw.core.history import metric_keys
from deltaw.errors import DeltawError
from deltaw.plugins.callbacks import run_path

ENV = "DELTAW_TENSORBOARD"
BOOKKEEPING_TAGS = {"lr": "optimizer/lr", "train_time": "time/train", "eval_time": "time/eval"}


def switched_on(flag: bool | None = None) -> bool:
    """``flag`` if given (``deltaw run --tensorboard``), else whether ``DELTAW_TENSORBOARD``
    is 1, true, yes or on."""
    if flag is not None:
        return flag
    return os.environ.get(ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def summary_writer(logdir: Path, purge_step: int | None = None) -> Any:
    """A ``tensorboardX.SummaryWriter`` on ``logdir``; a clear error when the extra is missing."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise DeltawError(
            "The tensorboard callback (and deltaw export tensorboard) needs tensorboardX, an "
            "optional extra: pip install 'deltaw[tensorboard]' (or pip install tensorboardX). "
            "To look at the files: pip install tensorboard, then tensorboard --logdir runs/."
        ) from None
    logdir.mkdir(parents=True, exist_ok=True)
    # a file of its own, named after the ones before it: tensorboardX names files by the second,
    # so a run resumed within the second it stopped would otherwise overwrite its first file
    n = sum(1 for _ in logdir.glob("events.out.tfevents.*"))
    return SummaryWriter(
        logdir=str(logdir), purge_step=purge_step, flush_secs=30, filename_suffix=f".{n:03d}"
    )


def tag(key: str, splits: Iterable[str]) -> str:
    """The TensorBoard tag of a record key: ``validation_accuracy`` → ``validation/accuracy``."""
    if key in BOOKKEEPING_TAGS:
        return BOOKKEEPING_TAGS[key]
    for split in sorted(splits, key=len, reverse=True):  # the longest split name that fits
        if key.startswith(f"{split}_"):
            return f"{split}/{key[len(split) + 1 :]}"
    return key


def write_record(writer: Any, record: Mapping[str, float], splits: Sequence[str]) -> None:
    """One epoch's record (a line of ``metrics.jsonl``) as scalars at step ``record["epoch"]``."""
    step = int(record["epoch"])
    for key, value in record.items():
        if key != "epoch" and isinstance(value, (int, float)):
            writer.add_scalar(tag(key, splits), float(value), step)


def write_hparams(
    writer: Any, params: Mapping[str, Any], record: Mapping[str, float], splits: Sequence[str]
) -> None:
    """The HParams view's session: ``params`` (flat) and, as its metrics, the scalar tags of
    ``record``'s metrics (their values are the scalars already written, at their last step).

    ``tensorboardX``'s ``add_hparams`` would write the metrics a second time, into a run of
    their own; writing its summaries into this run keeps one run and one value per step.
    """
    from tensorboardX.summary import hparams

    values = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in params.items()}
    metrics = {tag(k, splits): float(record[k]) for k in metric_keys(record)}
    for summary in hparams({k: v for k, v in values.items() if v is not None}, metrics):
        writer.file_writer.add_summary(summary)


class TensorBoard(deltaw.Callback):
    """Write TensorBoard event files into the run folder: metrics, learning rate, layer speeds.

    Every metric per split per epoch (``validation/accuracy``), the learning
    rate, optionally per-layer gradient norms ‖∂C/∂bˡ‖ (the book's ch. 5 "learning
    speed" of each layer) and histograms of weights and gradients — both on a
    fixed batch of training data at epoch end, so nothing is added per
    mini-batch — and at the end the flattened spec with the final metrics for the
    HParams view. A resumed run continues the same files without duplicate steps.
    Switch it on for every run with ``deltaw run --tensorboard`` or
    ``DELTAW_TENSORBOARD=1``. Needs ``pip install 'deltaw[tensorboard]'``.
    Defaults: folder "tb", gradient_norms false, histograms false, samples 1000.
    """

    volatile_files = ("*events.out.tfevents.*",)  # named and stamped by wall time

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        folder: str = Field(
            "tb", description="Folder of the event files, relative to the run folder (or absolute)."
        )
        gradient_norms: bool = Field(
            False, description="Per layer ‖∂C/∂b‖ and ‖∂C/∂W‖ every epoch (the learning speed)."
        )
        histograms: bool = Field(
            False, description="Per layer histograms of the weights, biases and their gradients."
        )
        samples: int = Field(
            1000, ge=1, description="Training rows of the fixed batch for gradients (the first N)."
        )
        hparams: bool = Field(
            True, description="At the end, the flattened spec and final metrics (HParams view)."
        )

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.writer: Any = None
        self.batch: tuple[np.ndarray, np.ndarray] | None = None

    def on_run_start(self, trainer: Any) -> None:
        p = self.params
        logdir = run_path(trainer, p.folder, "tensorboard")
        resumed = trainer.run.resumed_from if trainer.run is not None else None
        fresh = not resumed
        # resumed: TensorBoard forgets what was written past the checkpoint (Ctrl-C mid-way);
        # a run restarted from nothing (no checkpoint yet) forgets all of it
        purge = resumed + 1 if resumed else (0 if _has_events(logdir) else None)
        self.writer = summary_writer(logdir, purge)
        self.batch = self._fixed_batch(trainer) if p.gradient_norms or p.histograms else None
        if fresh:
            self._layers(trainer, 0)

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        write_record(self.writer, metrics, trainer.evaluate_on)
        self._layers(trainer, epoch)
        self.writer.flush()

    def on_run_end(self, trainer: Any) -> None:
        if self.writer is None:
            return
        if self.params.hparams and trainer.history and trainer.run is not None:
            write_hparams(self.writer, trainer.run.params, trainer.history[-1], trainer.evaluate_on)
        self.writer.close()
        self.writer = None

    def _fixed_batch(self, trainer: Any) -> tuple[np.ndarray, np.ndarray]:
        data = trainer.run.data if trainer.run is not None else None
        if data is None:
            raise DeltawError(
                "The tensorboard callback's gradient_norms and histograms use a fixed batch of the "
                "training data (trainer.run.data), which the run layer (deltaw run, deltaw.run) "
                "provides; with a bare Trainer, give it a RunContext with data."
            )
        n = self.params.samples
        return data.train.x[:n], data.train.y[:n]

    def _layers(self, trainer: Any, step: int) -> None:
        """Gradient norms and histograms of every layer at ``step``, on the fixed batch."""
        if self.batch is None:
            return
        net, w = trainer.network, self.writer
        nabla_w, nabla_b = net.backprop(*self.batch, trainer.cost)  # batch means (BP3, BP4)
        for l, (W, b, gW, gb) in enumerate(zip(net.weights, net.biases, nabla_w, nabla_b), 1):
            if self.params.gradient_norms:
                w.add_scalar(f"gradient_norm/layer{l}/b", float(np.linalg.norm(gb)), step)
                w.add_scalar(f"gradient_norm/layer{l}/W", float(np.linalg.norm(gW)), step)
            if self.params.histograms:
                for name, values in (("W", W), ("b", b)):
                    w.add_histogram(f"weights/layer{l}/{name}", values, step)
                for name, values in (("W", gW), ("b", gb)):
                    w.add_histogram(f"gradients/layer{l}/{name}", values, step)


def _has_events(logdir: Path) -> bool:
    return logdir.is_dir() and any(logdir.glob("events.out.tfevents.*"))


@deltaw.hookimpl
def register_callbacks(register: Any) -> None:
    register("tensorboard", TensorBoard)
