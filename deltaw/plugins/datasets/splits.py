"""From arrays to a data set's splits: the helpers every built-in data set shares, and the
steps the file readers (``npz``, ``csv``) end with.

:func:`assemble` finishes a file reader's work in named steps:
:func:`check_no_second_split` (a split the file has is not carved again),
:func:`class_targets` (class labels become one-hot rows, one class count for
every split), :func:`carve` (the splits the file lacks are taken off the end of
the training rows after an optional rng shuffle, and ``limit`` keeps the first
training rows) and :func:`data_info` (what the set says about itself). Every
array ends C-contiguous in the run's dtype (:func:`as_split`). :func:`one_hot`,
:func:`as_split`, :func:`count_of` and :data:`Amount` serve the MNIST reader and
the synthetic sets too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

import deltaw
from deltaw.errors import DataError

#: What a reader found: split name → (x, y, where they came from, for messages).
Found = dict[str, tuple[np.ndarray, np.ndarray, str]]


def _check_amount(value: int | float) -> int | float:
    if value < 0:
        raise ValueError("must be 0 or more: a fraction below 1 (0.2) or a whole count (1000)")
    if value >= 1:
        if float(value) != int(value):
            raise ValueError("a fraction must be below 1 (0.2) and a count a whole number (1000)")
        return int(value)
    return value


#: A split size: a fraction of the rows when below 1 (``0.2``), a count of rows from 1 up
#: (``1000``).
Amount = Annotated[int | float, AfterValidator(_check_amount)]


def count_of(amount: int | float, total: int) -> int:
    """Rows meant by an :data:`Amount` out of ``total``: ``round(fraction·total)`` or the count
    itself."""
    return int(round(amount * total)) if amount < 1 else int(amount)


def one_hot(labels: np.ndarray, classes: int, dtype: np.dtype) -> np.ndarray:
    """``(m, classes)`` rows of zeros with a 1 at each label, in ``dtype``."""
    out = np.zeros((len(labels), classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def as_split(x: np.ndarray, y: np.ndarray, dtype: np.dtype) -> deltaw.Split:
    """A :class:`deltaw.Split` whose arrays are C-contiguous and of ``dtype``; 1-D becomes one
    column."""
    x = x.reshape(len(x), -1) if x.ndim != 2 else x
    y = y.reshape(len(y), -1) if y.ndim != 2 else y
    return deltaw.Split(np.ascontiguousarray(x, dtype=dtype), np.ascontiguousarray(y, dtype=dtype))


class FileParams(BaseModel):
    """Parameters shared by the file readers: targets, the splits to carve, and ``limit``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="The file to read (~ is expanded; relative paths are read from the working "
        "directory)."
    )
    one_hot: bool | None = Field(
        None,
        description="Turn integer class labels into one-hot rows: true, false, or null for "
        "automatic "
        "(npz: a 1-D integer y; csv: a text column of class names).",
    )
    classes: int | None = Field(
        None,
        ge=2,
        description="Number of classes for one-hot targets; default: the largest label + 1.",
    )
    validation: Amount = Field(
        0,
        description="Rows held out for validation from the training rows: a fraction (<1) or a "
        "count; 0 = none.",
    )
    test: Amount = Field(
        0,
        description="Rows held out for testing from the training rows: a fraction (<1) or a "
        "count; 0 = none.",
    )
    shuffle: bool = Field(
        True,
        description="Shuffle the rows (with the run's rng) before carving validation and test "
        "rows off the end.",
    )
    limit: int | None = Field(
        None, ge=1, description="Use only the first N training rows (after carving); null = all."
    )
    scale: float = Field(
        1.0,
        gt=0,
        description="Multiply every input by this, e.g. 0.00392156862745098 (1/255) for byte "
        "pixels.",
    )


def assemble(
    source: Path,
    splits: Found,
    p: FileParams,
    rng: np.random.Generator,
    dtype: np.dtype,
    class_names: list[str] | None = None,
    info: dict[str, Any] | None = None,
) -> deltaw.DataSplits:
    """Finish loading: one-hot targets, carve missing splits, apply ``limit``, cast to ``dtype``.

    ``splits`` maps "training" (always), "validation" and "test" (when the file
    has them) to ``(x, y, what)``; ``what`` names their origin in messages.
    """
    check_no_second_split(source, splits, p)
    ys, classes = class_targets(source, splits, p, dtype, class_names)
    parts = {k: (v[0] * p.scale if p.scale != 1 else v[0], ys[k]) for k, v in splits.items()}
    parts.update(carve(source, *parts["training"], p, rng))
    out = {k: as_split(x, y, dtype) for k, (x, y) in parts.items()}
    meta = data_info(source, out["training"], classes, class_names, info)
    return deltaw.DataSplits(out["training"], out.get("validation"), out.get("test"), meta)


def check_no_second_split(source: Path, splits: Found, p: FileParams) -> None:
    """A split the file already has must not also be carved out of the training rows."""
    for name, amount in (("validation", p.validation), ("test", p.test)):
        if amount and name in splits:
            raise DataError(
                f"{source} already has a {name} split ({splits[name][2]}), so data.{name} = "
                f"{amount} would make "
                f"a second one. Remove data.{name} from the spec to use the file's {name} rows."
            )


def wants_one_hot(y: np.ndarray, one_hot: bool | None, class_names: list[str] | None) -> bool:
    """``one_hot`` when set; else one-hot for class names, or for a 1-D integer (or bool) ``y``."""
    if one_hot is not None:
        return one_hot
    is_int = np.issubdtype(y.dtype, np.integer) or y.dtype == bool
    return class_names is not None or (is_int and y.ndim == 1)


def class_labels(source: Path, y: np.ndarray, what: str) -> np.ndarray:
    """``y`` (one label per row) as int64 class labels 0, 1, 2, …; a DataError naming the
    first value that is not one."""
    y = y.reshape(-1)
    if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
        raise DataError(
            f"{source}: the targets ({what}) are not numbers, so they cannot be class labels."
        )
    as_int = y.astype(np.int64)
    if not np.array_equal(as_int, y) or (len(y) and as_int.min() < 0):
        bad = y[(as_int != y) | (as_int < 0)][0] if len(y) else None
        raise DataError(
            f"{source}: one_hot needs class labels 0, 1, 2, …, but the targets ({what}) contain "
            f"{bad!r}. "
            f"Set data.one_hot: false to use the targets as they are."
        )
    return as_int


def class_targets(
    source: Path,
    splits: Found,
    p: FileParams,
    dtype: np.dtype,
    class_names: list[str] | None = None,
) -> tuple[dict[str, np.ndarray], int | None]:
    """Every split's targets, one-hot with one class count for all when they are class
    labels (:func:`wants_one_hot`), else as they are; and that class count (None: no classes)."""
    ys = {k: v[1] for k, v in splits.items()}
    first_y, what = ys["training"], splits["training"][2]
    if not wants_one_hot(first_y, p.one_hot, class_names):
        if p.classes is not None:
            raise DataError(
                f"{source}: data.classes only applies to one-hot targets; remove it or set "
                "data.one_hot: true."
            )
        return ys, None
    if not (first_y.ndim == 1 or (first_y.ndim == 2 and first_y.shape[1] == 1)):
        raise DataError(
            f"{source}: one_hot needs one label per row, but the targets ({what}) have shape "
            f"{first_y.shape}. Set data.one_hot: false to use them as they are."
        )
    labels = {k: class_labels(source, y, splits[k][2]) for k, y in ys.items()}
    top = max(int(v.max()) for v in labels.values() if len(v)) + 1
    classes = p.classes or max(top, 2)
    if top > classes:
        raise DataError(
            f"{source}: data.classes is {classes} but the targets contain the label {top - 1}. "
            f"Raise data.classes to at least {top}, or leave it out to count the classes from the "
            "labels."
        )
    return {k: one_hot(v, classes, dtype) for k, v in labels.items()}, classes


def carve(
    source: Path, x: np.ndarray, y: np.ndarray, p: FileParams, rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The training rows split into "training" and, when asked for, "test" and "validation":
    shuffled (``p.shuffle``) when anything is carved, test rows taken off the end, then
    validation rows; ``p.limit`` keeps the first training rows."""
    total = len(x)
    n_test, n_val = count_of(p.test, total), count_of(p.validation, total)
    if n_test + n_val >= total:
        raise DataError(
            f"{source}: the training rows ({total}) cannot give {n_val} validation and {n_test} "
            "test rows and keep "
            f"any for training. Lower data.validation / data.test (fractions below 1, or counts)."
        )
    if (n_test or n_val) and p.shuffle:
        order = rng.permutation(total)
        x, y = x[order], y[order]
    parts = {}
    end = total
    if n_test:
        parts["test"] = (x[end - n_test : end], y[end - n_test : end])
        end -= n_test
    if n_val:
        parts["validation"] = (x[end - n_val : end], y[end - n_val : end])
        end -= n_val
    end = min(end, p.limit) if p.limit else end
    return {"training": (x[:end], y[:end]), **parts}


def data_info(
    source: Path,
    train: deltaw.Split,
    classes: int | None,
    class_names: list[str] | None = None,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``DataSplits.info`` of a file's data: source, widths, task and kind, classes and their
    names, then the reader's own ``info``."""
    meta: dict[str, Any] = {
        "source": str(source),
        "input_dim": int(train.x.shape[1]),
        "outputs": int(train.y.shape[1]),
        "task": "classification" if classes else "regression",
        "kind": "2d" if train.x.shape[1] == 2 else "tabular",
    }
    if classes:
        meta["classes"] = classes
    if class_names is not None:
        meta["labels"] = list(class_names)
    meta.update(info or {})
    return meta
