"""Atomic file writes: a temporary file beside the target, then a rename."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write(path: Path, write: Any, mode: str = "w") -> None:
    """Write through ``write(fileobj)`` to a temporary file beside ``path``, then rename it over it.

    The file gets the mode any new file gets (0666 less the umask: usually
    0644), whatever writes it: text, JSON, arrays or a matplotlib picture.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(
            tmp, FILE_MODE & ~umask()
        )  # mkstemp makes 0600; give the file a normal file's mode
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


FILE_MODE = 0o666  # what open() asks for; the umask takes its part away


def umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (briefly process-wide)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays), mode="wb")
