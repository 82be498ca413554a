"""What a trainer knows about the run it belongs to: its folder and how to checkpoint it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunContext:
    """Where a run lives; the run layer (``deltaw run``) gives one to the trainer before training.

    A bare :class:`~deltaw.core.training.Trainer` has none (``trainer.run is None``):
    callbacks that write files then need absolute paths.

    Attributes:
        folder: the run folder; relative paths of callbacks are read from here.
        save_checkpoint: writes a full checkpoint (weights, optimizer, counters, RNG,
            schedule and callback state) to the path it is given.
        resumed_from: the epoch a resumed run continues from (None for a fresh run).
    """

    folder: Path
    save_checkpoint: Callable[[Path], None] | None = None
    resumed_from: int | None = None
