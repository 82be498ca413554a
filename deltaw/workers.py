"""What a worker process does before and while it runs sweep trials (standard library only).

:func:`init_worker` is the ``initializer`` of the ``local`` executor's processes.
With the ``spawn`` start method it runs before the first job is unpickled, so
before numpy is imported (this module imports nothing heavy, and neither does
``import deltaw``): the BLAS thread limit it puts in the environment is what
OpenBLAS, MKL and BLIS read when they load. With ``fork`` numpy may be loaded
already; then threadpoolctl limits the loaded libraries. The parent's
environment is never touched.

It also makes Ctrl-C safe. The terminal sends SIGINT to every process of the
sweep: a worker ignores it unless a trial is training (:func:`interruptible`),
and a trial takes only the first one. Training then stops at once and keeps
its last checkpoint, as ``deltaw run`` does, and a second signal cannot break
the writing of that state.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

BLAS_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

_armed = False
_limits: Any = None  # threadpoolctl's limiter, kept alive for the life of the worker


def init_worker(blas_threads: int | None) -> None:
    """Limit BLAS to ``blas_threads`` (None: leave it) and take Ctrl-C only during a trial."""
    global _limits
    if blas_threads:
        for var in BLAS_ENV:
            os.environ.setdefault(var, str(blas_threads))  # a value the user set wins
        if "numpy" in sys.modules:  # fork: the libraries are loaded, limit them in place
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:
                pass
            else:
                _limits = threadpool_limits(limits=blas_threads, user_api="blas")
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, _on_sigint)


def ignore_sigint() -> None:
    """Ignore Ctrl-C in this process (helper processes: a multiprocessing manager)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _on_sigint(signum: int, frame: Any) -> None:
    global _armed
    if _armed:
        _armed = False
        raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """While the block runs, the first SIGINT a worker receives raises KeyboardInterrupt."""
    global _armed
    _armed = True
    try:
        yield
    finally:
        _armed = False


def disarm() -> None:
    """From now on ignore SIGINT (training ended: its state is being written)."""
    global _armed
    _armed = False
