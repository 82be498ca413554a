"""Files deltaw writes and reads back: atomic writes and JSON read back with a clear error.

An atomic write goes to a temporary file beside the target, then a rename: a
reader sees the old file or the new one, never half of one, and a full disk, a
read-only folder or a crash while writing leaves the previous version intact.
A failure raises :class:`~deltaw.errors.FileError` naming the target (not the
temporary file) and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.errors import DeltawError, file_error


def atomic_write(path: Path, write: Any, mode: str = "w") -> None:
    """Write through ``write(fileobj)`` to a temporary file beside ``path``, then rename it over it.

    Raises :class:`~deltaw.errors.FileError` (exit code 7) when the file system
    refuses (ENOSPC, EROFS, EACCES, …); ``path`` is then unchanged.

    The file gets the mode any new file gets (0666 less the umask: usually
    0644), whatever writes it: text, JSON, arrays or a matplotlib picture.
    """
    path = Path(path)
    try:
        _write_then_rename(path, write, mode)
    except OSError as exc:
        raise file_error(exc, path, "write") from None


def _write_then_rename(path: Path, write: Any, mode: str) -> None:
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
        with contextlib.suppress(OSError):  # a read-only remount may refuse this too
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
    """``text`` into ``path``, atomically (UTF-8)."""
    atomic_write(path, lambda f: f.write(text))


def copy_file(source: Path, path: Path) -> None:
    """Copy ``source``'s bytes to ``path`` atomically."""
    raw = Path(source).read_bytes()
    atomic_write(path, lambda f: f.write(raw), mode="wb")


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON, atomically (values JSON lacks are written as ``str``)."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays), mode="wb")


def read_json(path: Path, default: Any) -> Any:
    """The JSON in ``path``; ``default`` when there is no such file; a :class:`DeltawError`
    naming the file when it cannot be read or is not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8
        raise DeltawError(f"{path} cannot be read ({exc}).") from None
