"""Writing what a run folder recorded in the formats of other tools: TensorBoard event files.

:func:`export_tensorboard` gives runs made without the ``tensorboard`` callback
the event files it would have written (in ``tb/``): every metric per split per
epoch, the learning rate, the epoch times and the HParams session, read from
``metrics.jsonl`` and ``resolved.yaml``. Gradient norms and histograms need the
network as it trains, so only the callback writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deltaw.core.run_context import flatten
from deltaw.runs.report import RunRecord, collect_runs

SPLITS = ("training", "validation", "test")


@dataclass
class Exported:
    """One run folder: ``written`` its event files (``epochs`` steps), or why not (``skipped``)."""

    folder: Path
    logdir: Path
    epochs: int = 0
    skipped: str = ""

    @property
    def written(self) -> bool:
        return not self.skipped


def export_tensorboard(
    paths: Sequence[str | Path], *, folder: str = "tb", force: bool = False
) -> list[Exported]:
    """Write TensorBoard event files into ``RUN/folder`` for every run under ``paths``.

    ``paths`` are run folders, sweep folders (their trials) or folders of runs. A
    run whose ``folder`` already holds event files (the callback's, or an earlier
    export's) is skipped unless ``force``, which replaces them.
    """
    from deltaw.plugins.tensorboard import summary_writer

    done = []
    for record in collect_runs(paths):
        logdir = record.folder / folder
        old = sorted(logdir.glob("events.out.tfevents.*")) if logdir.is_dir() else []
        if not record.history:
            done.append(Exported(record.folder, logdir, skipped="no epoch was recorded"))
            continue
        if old and not force:
            done.append(
                Exported(
                    record.folder,
                    logdir,
                    skipped=f"{logdir} already holds event files (--force replaces them)",
                )
            )
            continue
        writer = summary_writer(logdir)  # says how to install tensorboardX when it is missing
        for path in old:
            path.unlink()
        _write_run(writer, record)
        done.append(Exported(record.folder, logdir, epochs=len(record.history)))
    return done


def _write_run(writer: object, record: RunRecord) -> None:
    from deltaw.plugins.tensorboard import write_hparams, write_record

    training = record.resolved.get("training") or {}
    splits = list(training.get("evaluate") or SPLITS)
    try:
        for row in record.history:
            write_record(writer, row, splits)
        write_hparams(writer, flatten(record.resolved), record.history[-1], splits)
    finally:
        writer.close()  # type: ignore[attr-defined]
