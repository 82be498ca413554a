"""The ``csv`` data set: a table of numbers in a delimited text file.

:meth:`Csv.load` runs named steps, each testable on its own: :func:`read_rows`
(the file's non-blank rows), :func:`has_header` (the "auto" rule),
:func:`make_table` (column names, data cells, rows of equal width),
:func:`choose_columns` (target and input columns from names or indexes),
:func:`read_inputs` and :func:`read_targets` (numbers, or class names for one
text target column), then :func:`~deltaw.plugins.datasets.splits.assemble`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

import deltaw
from deltaw.errors import DataError
from deltaw.plugins.datasets.files import did_you_mean, listing, local_file
from deltaw.plugins.datasets.splits import FileParams, assemble

#: A column named in a spec: its header name, or its 0-based index (negative from the end).
Column = int | str


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass
class Table:
    """A CSV file's data: column names, the data cells (stripped text, one row per sample)
    and the file line of the first data row (for messages)."""

    path: Path
    names: list[str]
    cells: np.ndarray
    header: bool
    first_line: int

    @property
    def width(self) -> int:
        return len(self.names)


def read_rows(path: Path, delimiter: str) -> list[list[str]]:
    """The non-blank rows of the file (UTF-8, a byte-order mark allowed); at least one row of
    at least two cells."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc}); save it as UTF-8 CSV.") from None
    except OSError as exc:
        raise DataError(
            f"{path} cannot be read ({exc.strerror or exc}). Check its permissions."
        ) from None
    try:
        rows = [
            r
            for r in csv.reader(io.StringIO(text), delimiter=delimiter)
            if any(c.strip() for c in r)
        ]
    except csv.Error as exc:
        raise DataError(f"{path} is not valid CSV ({exc}).") from None
    if not rows:
        raise DataError(
            f"{path} is empty: it needs one row per sample (and optionally a header row first)."
        )
    if len(rows[0]) < 2:
        raise DataError(
            f"{path}: the first row has a single column with delimiter {delimiter!r}; it needs at "
            "least one input "
            "and one target column. If the file uses another delimiter, set data.delimiter (e.g. "
            "';' or '\\t')."
        )
    return rows


def has_header(rows: list[list[str]]) -> bool:
    """The "auto" rule: the first row is a header when some cell of it is text above a number."""
    return len(rows) > 1 and any(
        not _is_number(a) and _is_number(b) for a, b in zip(rows[0], rows[1])
    )


def make_table(path: Path, rows: list[list[str]], header: bool) -> Table:
    """The rows as a :class:`Table`: names from the header row (else "0", "1", …), every data
    row as wide as the first row."""
    width = len(rows[0])
    names = [c.strip() for c in rows[0]] if header else [str(i) for i in range(width)]
    body = rows[1:] if header else rows
    first_line = 2 if header else 1
    if not body:
        raise DataError(f"{path} has a header row but no data rows.")
    for i, r in enumerate(body):
        if len(r) != width:
            raise DataError(
                f"{path}, row {i + first_line}: {len(r)} cells, but the "
                f"{'header' if header else 'first row'} has {width}. Every row needs the same "
                "columns."
            )
    return Table(path, names, np.char.strip(np.array(body, dtype=str)), header, first_line)


def column_index(table: Table, ref: Column, role: str) -> int:
    """The 0-based index of column ``ref`` (a name, or an index, negative from the end)."""
    path, names, width = table.path, table.names, table.width
    if isinstance(ref, str) and not (not table.header and ref.lstrip("-").isdigit()):
        if not table.header:
            raise DataError(
                f"{path} has no header row, so {role} column {ref!r} cannot be found by name; use "
                "a 0-based index "
                f"(0 to {width - 1}), or set data.header: true if the first row holds names."
            )
        if ref not in names:
            raise DataError(
                f"{path} has no column {ref!r} (data.{role}); its columns are "
                f"{listing(names)}.{did_you_mean(ref, names)}"
            )
        return names.index(ref)
    i = int(ref)
    if not -width <= i < width:
        raise DataError(
            f"{path} has {width} columns (0 to {width - 1}), so data.{role} = {i} is out of range; "
            f"its columns are {listing(names)}."
        )
    return i % width


def choose_columns(
    table: Table, target: Column | list[Column], features: list[Column] | None
) -> tuple[list[int], list[int]]:
    """``(targets, features)`` as column indexes; features default to every other column."""
    targets = [
        column_index(table, t, "target") for t in (target if isinstance(target, list) else [target])
    ]
    inputs = (
        [column_index(table, f, "features") for f in features]
        if features is not None
        else [i for i in range(table.width) if i not in targets]
    )
    if not targets or not inputs:
        raise DataError(
            f"{table.path}: needs at least one target and one input column; columns are "
            f"{listing(table.names)}."
        )
    if set(targets) & set(inputs):
        both = [table.names[i] for i in targets if i in inputs]
        raise DataError(
            f"{table.path}: column(s) {listing(both)} are both a target and a feature; a column "
            "can only be one."
        )
    return targets, inputs


def numbers(table: Table, cols: list[int], role: str) -> np.ndarray:
    """The cells of ``cols`` as float64; a DataError naming the first cell that is not a number."""
    block = table.cells[:, cols]
    try:
        return block.astype(np.float64)
    except ValueError:
        pass
    for j, c in enumerate(cols):
        for i, v in enumerate(block[:, j]):
            if not _is_number(v):
                shown = "an empty cell" if v == "" else repr(str(v))
                raise DataError(
                    f"{table.path}, row {i + table.first_line}, column {table.names[c]!r}: {shown} "
                    f"is not a number. {role} columns must "
                    "hold numbers; drop or fill missing values, or pick other columns with "
                    "data.features / data.target "
                    f"(columns: {listing(table.names)})."
                ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def read_inputs(table: Table, cols: list[int]) -> np.ndarray:
    """The input columns as float64, every value finite."""
    x = numbers(table, cols, "Input")
    for i, c in enumerate(cols):
        if not np.isfinite(x[:, i]).all():
            raise DataError(
                f"{table.path}, column {table.names[c]!r}: contains NaN or infinite values; clean "
                "them before training."
            )
    return x


def read_targets(
    table: Table, cols: list[int], one_hot: bool | None
) -> tuple[np.ndarray, list[str] | None]:
    """``(y, class names)``: one text column is class names (y their indexes in sorted
    order); numbers stay float64 (one column per target unless ``one_hot`` is set), names None."""
    path, names = table.path, table.names
    tcells = table.cells[:, cols]
    if len(cols) == 1 and not all(_is_number(v) for v in tcells[:, 0]):
        if one_hot is False:
            raise DataError(
                f"{path}: the target column {names[cols[0]]!r} holds text (class names), which "
                "only works with one_hot; remove data.one_hot: false."
            )
        classes, y = np.unique(tcells[:, 0], return_inverse=True)
        class_names = [str(c) for c in classes]
        if "" in class_names:
            row = int(np.argmax(tcells[:, 0] == "")) + table.first_line
            raise DataError(
                f"{path}, row {row}, column {names[cols[0]]!r}: an empty target cell; every row "
                "needs a class name."
            )
        return y, class_names
    y = numbers(table, cols, "Target")
    if not np.isfinite(y).all():
        raise DataError(
            f"{path}: the target column(s) {listing([names[i] for i in cols])} contain NaN or "
            "infinite values; clean them before training."
        )
    if one_hot is None:
        y = y.reshape(len(y), -1)  # numbers stay numbers unless one_hot: true
    return y, None


class Csv(deltaw.Dataset):
    """A table of numbers in a delimited text file: input columns and the target column(s).

    Yields x of shape (rows, feature columns) and y of shape (rows, target
    columns), or one-hot rows for class labels. A target column of text
    (``setosa``, ``versicolor``, …) is always class names: one-hot, classes in
    sorted order, their names in ``info["labels"]``. Integer labels in a
    numeric column become one-hot only with ``one_hot: true``. Every other
    cell must be a number.
    Parameters: ``path`` (required); ``target`` -1 (the last column: a
    name or 0-based index, or a list of them; negative indexes count from the
    end); ``features`` every other column; ``header`` "auto" (the first row is a
    header when it has text above a number), true or false; ``delimiter`` ",";
    ``one_hot`` auto; ``classes`` auto; ``validation`` 0 and ``test`` 0 (each a
    fraction below 1 or a count, carved off the end after a shuffle with the
    run's rng); ``shuffle`` true; ``limit`` none; ``scale`` 1 (inputs are
    multiplied by it).
    Reference: RFC 4180 (quoting), read with Python's csv module.
    """

    class Params(FileParams):
        target: Column | list[Column] = Field(
            -1,
            description="Target column(s): name or 0-based index (negative counts from the end), "
            "or a list.",
        )
        features: list[Column] | None = Field(
            None,
            description="Input columns (names or indexes); default: every column that is not a "
            "target.",
        )
        header: bool | Literal["auto"] = Field(
            "auto",
            description="Whether the first row holds column names; auto: yes when it has text "
            "above a number.",
        )
        delimiter: str = Field(
            ",",
            min_length=1,
            max_length=1,
            description="The character between cells (use '\\t' for tab-separated files).",
        )

    def load(self, rng: np.random.Generator, dtype: np.dtype) -> deltaw.DataSplits:
        p, dtype = self.params, np.dtype(dtype)
        path = local_file(p.path, "csv")
        rows = read_rows(path, p.delimiter)
        table = make_table(path, rows, has_header(rows) if p.header == "auto" else p.header)
        targets, features = choose_columns(table, p.target, p.features)
        x = read_inputs(table, features)
        y, class_names = read_targets(table, targets, p.one_hot)
        info = {
            "columns": [table.names[i] for i in features],
            "targets": [table.names[i] for i in targets],
        }
        found = {"training": (x, y, f"column(s) {listing(info['targets'])}")}
        return assemble(path, found, p, rng, dtype, class_names, info)
