"""Files deltaw writes and reads back: atomic writes (a temporary file beside the
target, then a rename) and JSON read back with a clear error."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.errors import DeltawError


def atomic_write(path: Path, write: Any, mode: str = "w") -> None:
    """Write through ``write(fileobj)`` to a temporary file beside ``path``, then rename it
    over ``path``: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file a normal file's mode
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> None:
    """``text`` into ``path``, atomically (UTF-8)."""
    atomic_write(path, lambda f: f.write(text))


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
