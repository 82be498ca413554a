"""A run's checkpoint: the trainer's state plus the state of the spec's callbacks, in one ``.npz``.

The layout: ``w0``, ``b0``, …, ``opt0/<key>`` arrays and a JSON ``meta`` string
holding the counters, RNG state and schedule state. Callback states may hold arrays (early
stopping's best weights): those are
stored as ``callbacks/<i>/<key>…`` entries and referenced from ``meta``. The history is
not in it (``metrics.jsonl`` holds it; a resume reads it back up to ``meta``'s epoch), so a
checkpoint's size does not grow with the epochs; older checkpoints that hold one still load.
Written atomically: a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import json
import shlex
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.errors import DeltawError, FileError, TrainingError, file_error
from deltaw.files import read_json, save_arrays

_ARRAY = "__array__"


def save_run_checkpoint(
    path: Path, state: dict[str, Any], callbacks: list[dict[str, Any] | None] | None = None
) -> None:
    """Write a trainer ``state_dict`` and the callbacks' ``state_dict``s (``{}`` when stateless).

    Checkpoints written before ``Callback`` declared ``state_dict`` hold None for a
    stateless callback; :func:`load_run_checkpoint` returns them as they are.
    """
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
    if callbacks is not None:
        meta["callbacks"] = _stash(callbacks, "callbacks", arrays)
    arrays["meta"] = np.array(json.dumps(meta, default=_jsonable))
    save_arrays(path, arrays)


def load_run_checkpoint(path: Path) -> tuple[dict[str, Any], list[dict[str, Any] | None] | None]:
    """``(trainer_state, callback_states)`` as saved by :func:`save_run_checkpoint`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            n = meta.pop("layers")
            keys = meta.pop("optimizer_keys")
            callbacks = meta.pop("callbacks", None)
            state = dict(meta)
            state["weights"] = [z[f"w{i}"] for i in range(n)]
            state["biases"] = [z[f"b{i}"] for i in range(n)]
            state["optimizer"] = [{k: z[f"opt{i}/{k}"] for k in ks} for i, ks in enumerate(keys)]
            if callbacks is not None:
                callbacks = _unstash(callbacks, z)
    except FileNotFoundError:
        raise TrainingError(f"{path}: no such checkpoint.") from None
    except (OSError, KeyError, ValueError, EOFError, TypeError, zipfile.BadZipFile) as exc:
        raise damaged(Path(path), exc) from None
    return state, callbacks


def damaged(path: Path, exc: BaseException) -> FileError:
    """The error for a checkpoint that cannot be read: what is wrong, and what remains."""
    size = path.stat().st_size if path.is_file() else 0
    if isinstance(exc, PermissionError):
        return file_error(exc, path, "read the checkpoint")
    if size == 0:
        what = "is empty (0 bytes): it was emptied, or its disk filled up when it was copied"
    elif isinstance(exc, (zipfile.BadZipFile, EOFError)):
        what = f"is truncated or damaged ({size} bytes, not a complete .npz archive)"
    elif isinstance(exc, ValueError) and "pickle" in str(exc):  # numpy's guess: never follow it
        what = f"is not an .npz archive at all ({size} bytes of something else)"
    else:
        what = f"is not a deltaw checkpoint ({type(exc).__name__}: {exc})"
    return FileError(f"The checkpoint {path} {what}. {remains(path.parent)}")


def remains(folder: Path) -> str:
    """What a run folder still holds when its checkpoint is damaged, and how to start again."""
    earlier = sorted(folder.glob("*/epoch-*.npz")) + sorted(folder.glob("best.npz"))
    final = folder / "weights.npz"
    spec = next(iter(sorted(folder.glob("spec.*"))), None)
    restart = f" To train again from the start: {_rerun(folder, spec)}" if spec else ""
    kept = []
    if final.is_file():
        kept.append(
            "weights.npz (the weights when the run last stopped; `deltaw predict` reads it)"
        )
    if earlier:
        files = ", ".join(str(p.relative_to(folder)) for p in earlier)
        kept.append(
            f"{files} (full checkpoints of earlier epochs, kept by the checkpoint callback)"
        )
    if not kept:
        return (
            f"The run cannot be resumed, and nothing else in {folder} holds its weights "
            f"(no weights.npz, no earlier checkpoints); metrics.csv still records its epochs."
            f"{restart}"
        )
    return f"The run cannot be resumed from it. Still in {folder}: {'; '.join(kept)}.{restart}"


def _rerun(folder: Path, spec: Path) -> str:
    """The command that starts the run in ``folder`` again, with its recorded ``--set``s."""
    try:  # overrides.json, read here so the checkpoint format needs no run-folder module
        recorded = read_json(folder / "overrides.json", [])
        sets = "".join(f" --set {shlex.quote(str(o))}" for o in recorded)
    except DeltawError:
        sets = ""
    return f"deltaw run {shlex.quote(str(spec))}{sets}"


def _stash(obj: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """``obj`` with every array moved into ``arrays`` and replaced by a reference."""
    if isinstance(obj, np.ndarray):
        arrays[key] = obj
        return {_ARRAY: key}
    if isinstance(obj, dict):
        return {str(k): _stash(v, f"{key}/{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_stash(v, f"{key}/{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _unstash(obj: Any, z: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY}:
            return z[obj[_ARRAY]]
        return {k: _unstash(v, z) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unstash(v, z) for v in obj]
    return obj


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def checkpoint_epoch(path: Path) -> int | None:
    """The epoch a checkpoint holds (its ``meta`` only is read); None when missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return int(json.loads(str(z["meta"]))["epoch"])
    except Exception:  # noqa: BLE001 - any damage means: no usable checkpoint
        return None
