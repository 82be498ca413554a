"""``check_dataset``: dtype and shape per split, the same data from the same seed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltaw.core.base import Dataset, DataSplits, Split
from deltaw.errors import DeltawError
from deltaw.testing._common import DTYPES, Settings, fail, instances

__all__ = ["check_dataset"]

DTYPE_TOL = 1e-6  # float32 data against float64 data: rounding to float32 only


def check_dataset(
    dataset: Dataset | type[Dataset],
    *,
    seed: int = 0,
    dtypes: Sequence[Any] = DTYPES,
    settings: Settings = None,
) -> None:
    """Check a data set against the contract; raise ``AssertionError`` on the first failure.

    * ``load(rng, dtype)`` returns a :class:`deltaw.DataSplits` whose training
      split has rows; per split ``x`` is ``(m, n_in)`` and ``y`` ``(m, n_out)``,
      both finite and of the requested dtype (float64 and float32), with the
      same ``n_in`` and ``n_out`` in every split;
    * ``info`` is a dict of JSON-able values; when it says ``classes``: k,
      ``y`` holds one-hot rows of k columns (or one 0/1 column for k = 2);
    * the same seed gives the same data, and numpy's global generator is left
      alone: every draw comes from the ``rng`` passed in;
    * the float32 data are the float64 data rounded (draw in float64, then cast).

    A generated setting (see :func:`deltaw.testing.param_settings`) that the
    data set refuses with a :class:`deltaw.DeltawError` — a clear message to
    the user, such as too few samples for the classes — is skipped; the first
    setting (the defaults, or the instance given) must load. Pass an instance,
    or ``settings=[...]``, for a data set that needs files.
    """
    for i, (ds, check) in enumerate(instances(dataset, Dataset, "check_dataset", settings)):
        try:
            loaded = {np.dtype(d).name: _load(check, ds, seed, d) for d in dtypes}
        except DeltawError:
            if i == 0:
                raise
            continue
        for name, data in loaded.items():
            _check_splits(check, data, np.dtype(name))
        _check_seed(check, ds, seed, loaded)
        if "float64" in loaded and "float32" in loaded:
            _check_dtypes_agree(check, loaded["float64"], loaded["float32"])


def _load(check: str, ds: Dataset, seed: int, dtype: Any) -> DataSplits:
    legacy = np.random.get_state(legacy=False)
    data = ds.load(np.random.default_rng(seed), np.dtype(dtype))
    after = np.random.get_state(legacy=False)
    if not (
        np.array_equal(legacy["state"]["key"], after["state"]["key"])
        and legacy["state"]["pos"] == after["state"]["pos"]
    ):
        fail(
            check,
            "load drew from numpy's global generator (np.random.*); draw only from the rng "
            "passed in, so the same seed gives the same data",
        )
    if not isinstance(data, DataSplits):
        fail(check, f"load returned {type(data).__name__}; expected deltaw.DataSplits")
    return data


def _check_splits(check: str, data: DataSplits, dtype: np.dtype) -> None:
    if not isinstance(data.train, Split) or len(data.train.x) == 0:
        fail(check, f"the training split is empty or not a deltaw.Split ({dtype.name})")
    widths = None
    for name, split in data.items():
        if not isinstance(split, Split):
            fail(check, f"the {name} split is {type(split).__name__}; expected deltaw.Split")
        for part in ("x", "y"):
            arr = getattr(split, part)
            where = f"{name} split's {part} ({dtype.name} requested)"
            if not isinstance(arr, np.ndarray) or arr.ndim != 2:
                shape = getattr(arr, "shape", type(arr).__name__)
                fail(check, f"the {where} has shape {shape}; expected 2-D (rows, columns)")
            if arr.dtype != dtype:
                fail(check, f"the {where} is {arr.dtype}; load must return the requested dtype")
            if not np.all(np.isfinite(arr)):
                fail(check, f"the {where} holds non-finite values")
        if len(split.x) != len(split.y):
            fail(
                check,
                f"the {name} split has {len(split.x)} rows of x but {len(split.y)} of y",
            )
        shape = (split.x.shape[1], split.y.shape[1])
        if widths is not None and shape != widths:
            fail(
                check,
                f"the {name} split has {shape[0]} inputs and {shape[1]} targets per row, the "
                f"training split {widths[0]} and {widths[1]}; every split feeds the same network",
            )
        widths = shape
        _check_classes(check, data.info, name, split.y)
    try:
        json.dumps(data.info)
    except (TypeError, ValueError) as exc:
        fail(check, f"info is not JSON-able ({exc}); a run records it in environment.json")
    if not isinstance(data.info, dict):
        fail(check, f"info is {type(data.info).__name__}; expected a dict")


def _check_classes(check: str, info: Any, name: str, y: np.ndarray) -> None:
    k = info.get("classes") if isinstance(info, dict) else None
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        return
    binary = y.shape[1] == 1 and k == 2
    if y.shape[1] != k and not binary:
        fail(check, f"info says {k} classes but the {name} split's y has {y.shape[1]} columns")
    if not np.all((y == 0) | (y == 1)) or (not binary and not np.all(y.sum(axis=1) == 1)):
        fail(
            check,
            f"info says {k} classes but the {name} split's y is not "
            + ("0/1 labels" if binary else "one-hot rows (a single 1 per row)"),
        )


def _check_seed(check: str, ds: Dataset, seed: int, loaded: dict[str, DataSplits]) -> None:
    name, first = next(iter(loaded.items()))
    again = _load(check, ds, seed, name)
    for (split, s1), (_, s2) in zip(first.items(), again.items()):
        for part in ("x", "y"):
            if not np.array_equal(getattr(s1, part), getattr(s2, part)):
                fail(
                    check,
                    f"two loads with the same seed give different {split} {part} ({name}); "
                    "draw only from the rng passed in",
                )
    if [k for k, _ in first.items()] != [k for k, _ in again.items()] or first.info != again.info:
        fail(check, f"two loads with the same seed give different splits or info ({name})")


def _check_dtypes_agree(check: str, d64: DataSplits, d32: DataSplits) -> None:
    if [k for k, _ in d64.items()] != [k for k, _ in d32.items()]:
        fail(check, "float64 and float32 loads have different splits")
    for (split, s64), (_, s32) in zip(d64.items(), d32.items()):
        for part in ("x", "y"):
            a64, a32 = getattr(s64, part), getattr(s32, part).astype(np.float64)
            if a64.shape != a32.shape:
                fail(
                    check,
                    f"the {split} {part} has shape {a64.shape} in float64, {a32.shape} in float32",
                )
            err = np.abs(a64 - a32) / np.maximum(1.0, np.abs(a64))
            if err.size and err.max() > DTYPE_TOL:
                i = np.unravel_index(np.argmax(err), err.shape)
                fail(
                    check,
                    f"the {split} {part}[{i[0]},{i[1]}] is {a64[i]:.8g} in float64 but "
                    f"{a32[i]:.8g} in float32: the data must be the same, only rounded; draw "
                    "in float64 and cast",
                )
