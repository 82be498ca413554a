"""A run's checkpoint: the trainer's state plus the state of the spec's callbacks, in one ``.npz``.

The layout: ``w0``, ``b0``, …, ``opt0/<key>`` arrays and a JSON ``meta`` string
holding the counters, RNG state, schedule state and history. Callback states may hold arrays (early stopping's best weights): those are
stored as ``callbacks/<i>/<key>…`` entries and referenced from ``meta``.
Written atomically: a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from deltaw.errors import TrainingError
from deltaw.files import save_arrays

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
    except (
        OSError,
        KeyError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        json.JSONDecodeError,
    ) as exc:
        raise TrainingError(
            f"{path} is not a readable deltaw checkpoint ({type(exc).__name__}: {exc})."
        ) from None
    return state, callbacks


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
