"""Atomic file writes and the checkpoint format (one ``.npz`` per checkpoint)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write(path: Path, write: Any, mode: str = "w") -> None:
    """Write through ``write(fileobj)`` to a temporary file beside ``path``, then rename it over ``path``."""
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
    atomic_write(path, lambda f: f.write(text))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays), mode="wb")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """A trainer ``state_dict`` as one ``.npz``: arrays as arrays, the rest as a JSON string."""
    arrays: dict[str, np.ndarray] = {}
    for i, w in enumerate(state["weights"]):
        arrays[f"w{i}"] = w
    for i, b in enumerate(state["biases"]):
        arrays[f"b{i}"] = b
    for i, s in enumerate(state["optimizer"]):
        for k, v in s.items():
            arrays[f"opt{i}/{k}"] = v
    meta = {k: v for k, v in state.items() if k not in ("weights", "biases", "optimizer")}
    meta["layers"] = len(state["weights"])
    meta["optimizer_keys"] = [sorted(s) for s in state["optimizer"]]
    arrays["meta"] = np.array(json.dumps(meta, default=_jsonable))
    save_arrays(path, arrays)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The ``state_dict`` saved by :func:`save_checkpoint`."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        n = meta.pop("layers")
        keys = meta.pop("optimizer_keys")
        state = dict(meta)
        state["weights"] = [z[f"w{i}"] for i in range(n)]
        state["biases"] = [z[f"b{i}"] for i in range(n)]
        state["optimizer"] = [{k: z[f"opt{i}/{k}"] for k in ks} for i, ks in enumerate(keys)]
    return state


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
