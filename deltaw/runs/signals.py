"""SIGTERM stops a run as Ctrl-C does: the checkpoint is kept and the run can be resumed.

``kill PID``, ``timeout``, a batch scheduler (Slurm, Kubernetes, systemd) reaching a
time limit and a closing terminal send SIGTERM. :func:`sigterm_as_interrupt` turns it
into :class:`Terminated`, a ``KeyboardInterrupt``, raised in the main thread: the
trainer rolls back to its last complete epoch and the run layer records ``interrupted``.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM during a run."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread, once.

    A second SIGTERM while the run is stopping is ignored, so the checkpoint and
    ``run.json`` are written in peace (SIGKILL still ends the process). The previous
    handler is restored on leaving. Outside the main thread (a sweep's thread
    workers) signals cannot be handled, and a process started by ``multiprocessing``
    (a sweep's process workers) keeps what its executor chose (a pool ends its workers
    with SIGTERM): in both, nothing changes.
    """
    in_worker = multiprocessing.parent_process() is not None
    if in_worker or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise Terminated

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        # None: a handler installed from C, which cannot be put back; the default then
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
