"""Data sets read from the user's own files (``npz``, ``csv``), and the array helpers they share.

Both readers end the same way (:func:`assemble`): targets become one-hot when
they are class labels, splits the file does not provide are carved out of the
training rows after an optional rng shuffle, ``limit`` keeps the first rows of
the training split, and every array is cast to the run's dtype, C-contiguous.
The helpers :func:`one_hot`, :func:`as_split` and :func:`count_of` are used by
the MNIST reader and the synthetic sets too.
"""

from __future__ import annotations

import csv
import difflib
import io
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

import deltaw
from deltaw.errors import DataError

# ---------------------------------------------------------------------------------------
# Helpers shared by every built-in data set
# ---------------------------------------------------------------------------------------


def _check_amount(value: int | float) -> int | float:
    if value < 0:
        raise ValueError("must be 0 or more: a fraction below 1 (0.2) or a whole count (1000)")
    if value >= 1:
        if float(value) != int(value):
            raise ValueError("a fraction must be below 1 (0.2) and a count a whole number (1000)")
        return int(value)
    return value


#: A split size: a fraction of the rows when below 1 (``0.2``), a count of rows from 1 up (``1000``).
Amount = Annotated[int | float, AfterValidator(_check_amount)]


def count_of(amount: int | float, total: int) -> int:
    """Rows meant by an :data:`Amount` out of ``total``: ``round(fraction·total)`` or the count itself."""
    return int(round(amount * total)) if amount < 1 else int(amount)


def one_hot(labels: np.ndarray, classes: int, dtype: np.dtype) -> np.ndarray:
    """``(m, classes)`` rows of zeros with a 1 at each label, in ``dtype``."""
    out = np.zeros((len(labels), classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def as_split(x: np.ndarray, y: np.ndarray, dtype: np.dtype) -> deltaw.Split:
    """A :class:`deltaw.Split` whose arrays are C-contiguous and of ``dtype``; 1-D becomes one column."""
    x = x.reshape(len(x), -1) if x.ndim != 2 else x
    y = y.reshape(len(y), -1) if y.ndim != 2 else y
    return deltaw.Split(np.ascontiguousarray(x, dtype=dtype), np.ascontiguousarray(y, dtype=dtype))


def _local(path: str, what: str) -> Path:
    """``path`` with ``~`` expanded; a DataError when there is no such file."""
    p = Path(path).expanduser()
    if not p.is_file():
        where = "does not exist" if not p.exists() else "is not a file"
        raise DataError(
            f"The {what} file {p} {where} (relative paths are read from the working directory, "
            f"{Path.cwd()}). Check data.path in the spec, or pass an absolute path."
        )
    return p


def _listing(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "none"


def _suggest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class FileParams(BaseModel):
    """Parameters shared by the file readers: targets, the splits to carve, and ``limit``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="The file to read (~ is expanded; relative paths are read from the working directory)."
    )
    one_hot: bool | None = Field(
        None,
        description="Turn integer class labels into one-hot rows: true, false, or null for automatic "
        "(npz: a 1-D integer y; csv: a text column of class names).",
    )
    classes: int | None = Field(
        None,
        ge=2,
        description="Number of classes for one-hot targets; default: the largest label + 1.",
    )
    validation: Amount = Field(
        0,
        description="Rows held out for validation from the training rows: a fraction (<1) or a count; 0 = none.",
    )
    test: Amount = Field(
        0,
        description="Rows held out for testing from the training rows: a fraction (<1) or a count; 0 = none.",
    )
    shuffle: bool = Field(
        True,
        description="Shuffle the rows (with the run's rng) before carving validation and test rows off the end.",
    )
    limit: int | None = Field(
        None, ge=1, description="Use only the first N training rows (after carving); null = all."
    )
    scale: float = Field(
        1.0,
        gt=0,
        description="Multiply every input by this, e.g. 0.00392156862745098 (1/255) for byte pixels.",
    )


def assemble(
    source: Path,
    splits: dict[str, tuple[np.ndarray, np.ndarray, str]],
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
    for name, amount in (("validation", p.validation), ("test", p.test)):
        if amount and name in splits:
            raise DataError(
                f"{source} already has a {name} split ({splits[name][2]}), so data.{name} = {amount} would make "
                f"a second one. Remove data.{name} from the spec to use the file's {name} rows."
            )
    # class labels → one-hot, with one class count for every split
    ys = {k: v[1] for k, v in splits.items()}
    first_y = ys["training"]
    is_int = np.issubdtype(first_y.dtype, np.integer) or first_y.dtype == bool
    flat = first_y.ndim == 1 or (first_y.ndim == 2 and first_y.shape[1] == 1)
    want = (
        p.one_hot
        if p.one_hot is not None
        else (class_names is not None or (is_int and first_y.ndim == 1))
    )
    classes = None
    if want:
        if not flat:
            raise DataError(
                f"{source}: one_hot needs one label per row, but the targets ({splits['training'][2]}) have shape "
                f"{first_y.shape}. Set data.one_hot: false to use them as they are."
            )
        labels = {}
        for k, y in ys.items():
            y = y.reshape(-1)
            if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
                raise DataError(
                    f"{source}: the targets ({splits[k][2]}) are not numbers, so they cannot be class labels."
                )
            as_int = y.astype(np.int64)
            if not np.array_equal(as_int, y) or (len(y) and as_int.min() < 0):
                bad = y[(as_int != y) | (as_int < 0)][0] if len(y) else None
                raise DataError(
                    f"{source}: one_hot needs class labels 0, 1, 2, …, but the targets ({splits[k][2]}) contain {bad!r}. "
                    f"Set data.one_hot: false to use the targets as they are."
                )
            labels[k] = as_int
        top = max(int(v.max()) for v in labels.values() if len(v)) + 1
        classes = p.classes or max(top, 2)
        if top > classes:
            raise DataError(
                f"{source}: data.classes is {classes} but the targets contain the label {top - 1}. "
                f"Raise data.classes to at least {top}, or leave it out to count the classes from the labels."
            )
        ys = {k: one_hot(v, classes, dtype) for k, v in labels.items()}
    elif p.classes is not None:
        raise DataError(
            f"{source}: data.classes only applies to one-hot targets; remove it or set data.one_hot: true."
        )
    parts = {k: (v[0] * p.scale if p.scale != 1 else v[0], ys[k]) for k, v in splits.items()}
    # carve the splits the file does not provide: shuffle, then take them off the end
    x, y = parts["training"]
    total = len(x)
    n_test, n_val = count_of(p.test, total), count_of(p.validation, total)
    if n_test + n_val >= total:
        raise DataError(
            f"{source}: the training rows ({total}) cannot give {n_val} validation and {n_test} test rows and keep "
            f"any for training. Lower data.validation / data.test (fractions below 1, or counts)."
        )
    if (n_test or n_val) and p.shuffle:
        order = rng.permutation(total)
        x, y = x[order], y[order]
    end = total
    if n_test:
        parts["test"] = (x[end - n_test : end], y[end - n_test : end])
        end -= n_test
    if n_val:
        parts["validation"] = (x[end - n_val : end], y[end - n_val : end])
        end -= n_val
    end = min(end, p.limit) if p.limit else end
    parts["training"] = (x[:end], y[:end])
    out = {k: as_split(x_, y_, dtype) for k, (x_, y_) in parts.items()}
    train = out["training"]
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
    return deltaw.DataSplits(out["training"], out.get("validation"), out.get("test"), meta)


# ---------------------------------------------------------------------------------------
# npz
# ---------------------------------------------------------------------------------------


class Npz(deltaw.Dataset):
    """Arrays you saved with ``numpy.savez``: inputs and targets, whole or already split.

    Yields x of shape (m, features) (images and other n-d inputs are flattened
    per row) and y of shape (m, outputs). The file holds either ``x``/``y``
    (carve ``validation``/``test`` out of them) or ``x_train``/``y_train`` with
    optional ``x_validation``/``y_validation`` and ``x_test``/``y_test`` (the
    layout of Keras' ``mnist.npz``). ``x_key``/``y_key`` rename the ``x``/``y``
    part of every key. A 1-D integer y is turned into one-hot rows
    (``one_hot`` forces it on or off; ``classes`` fixes their number).
    Parameters: ``path`` (required), ``x_key`` "x", ``y_key`` "y",
    ``one_hot`` auto, ``classes`` auto, ``validation`` 0, ``test`` 0 (each a
    fraction below 1 or a count, taken off the end after a shuffle),
    ``shuffle`` true, ``limit`` none, ``scale`` 1 (inputs are multiplied by
    it: 1/255 for byte pixels).
    Reference: numpy.savez / numpy.load (arrays are read with allow_pickle=False).
    """

    class Params(FileParams):
        x_key: str = Field(
            "x",
            description="Key of the inputs, and prefix of the split keys (x_train, x_validation, x_test).",
        )
        y_key: str = Field(
            "y",
            description="Key of the targets, and prefix of the split keys (y_train, y_validation, y_test).",
        )

    def load(self, rng: np.random.Generator, dtype: np.dtype) -> deltaw.DataSplits:
        p, dtype = self.params, np.dtype(dtype)
        path = _local(p.path, "npz")
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(
                f"{path} is not a readable .npz archive ({exc}). Save the arrays with numpy.savez(path, x=..., y=...) "
                f"or savez(path, x_train=..., y_train=..., x_test=..., y_test=...)."
            ) from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(
                f"{path} holds a single array, not an .npz archive of named arrays. Save x and y with numpy.savez(path, x=..., y=...)."
            )
        with archive:
            keys = sorted(archive.files)
            xk, yk = p.x_key, p.y_key

            def read(key: str) -> np.ndarray:
                try:
                    arr = archive[key]
                except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                    raise DataError(
                        f"{path}: the array {key!r} cannot be read ({exc}); arrays must be numeric, not objects."
                    ) from None
                if arr.dtype.kind not in "biuf":
                    raise DataError(
                        f"{path}: the array {key!r} has dtype {arr.dtype}; inputs and targets must be numbers (bool, int or float)."
                    )
                if arr.ndim == 0 or len(arr) == 0:
                    raise DataError(
                        f"{path}: the array {key!r} is empty or a scalar (shape {arr.shape}); it needs one row per sample."
                    )
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise DataError(
                        f"{path}: the array {key!r} contains NaN or infinite values; clean them before training."
                    )
                return arr

            def pair(suffix: str) -> tuple[np.ndarray, np.ndarray, str] | None:
                kx, ky = xk + suffix, yk + suffix
                if kx not in keys and ky not in keys:
                    return None
                for k, other in ((kx, ky), (ky, kx)):
                    if k not in keys:
                        raise DataError(
                            f"{path} has {other!r} but no {k!r}; keys in the file: {_listing(keys)}.{_suggest(k, keys)}"
                        )
                x, y = read(kx), read(ky)
                if len(x) != len(y):
                    raise DataError(
                        f"{path}: {kx!r} has {len(x)} rows but {ky!r} has {len(y)}; they need one target row per input row."
                    )
                return x, y, f"{kx!r}/{ky!r}"

            splits: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
            train = pair("_train")
            if train is not None:
                splits["training"] = train
                for name, suffix in (("validation", "_validation"), ("test", "_test")):
                    found = pair(suffix)
                    if found is not None:
                        splits[name] = found
            else:
                whole = pair("")
                if whole is None:
                    raise DataError(
                        f"{path} has neither {xk!r}/{yk!r} nor {xk + '_train'!r}/{yk + '_train'!r}; keys in the file: "
                        f"{_listing(keys)}. Set data.x_key and data.y_key to the names it uses (e.g. x_key: "
                        f"{keys[0] if keys else 'x'!r})."
                    )
                splits["training"] = whole
        shapes = {tuple(x.shape[1:]) for x, _, _ in splits.values()}
        if len(shapes) > 1:
            raise DataError(
                f"{path}: the input arrays have different row shapes {sorted(shapes)}; every split needs the same features."
            )
        row_shape = next(iter(shapes))
        info = {"image_shape": list(row_shape), "kind": "image"} if len(row_shape) >= 2 else {}
        return assemble(path, splits, p, rng, dtype, info=info)


# ---------------------------------------------------------------------------------------
# csv
# ---------------------------------------------------------------------------------------

Column = int | str


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Csv(deltaw.Dataset):
    """A table of numbers in a delimited text file: some columns are inputs, the target column(s) the outputs.

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
            description="Target column(s): name or 0-based index (negative counts from the end), or a list.",
        )
        features: list[Column] | None = Field(
            None,
            description="Input columns (names or indexes); default: every column that is not a target.",
        )
        header: bool | Literal["auto"] = Field(
            "auto",
            description="Whether the first row holds column names; auto: yes when it has text above a number.",
        )
        delimiter: str = Field(
            ",",
            min_length=1,
            max_length=1,
            description="The character between cells (use '\\t' for tab-separated files).",
        )

    def load(self, rng: np.random.Generator, dtype: np.dtype) -> deltaw.DataSplits:
        p, dtype = self.params, np.dtype(dtype)
        path = _local(p.path, "csv")
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
                for r in csv.reader(io.StringIO(text), delimiter=p.delimiter)
                if any(c.strip() for c in r)
            ]
        except csv.Error as exc:
            raise DataError(f"{path} is not valid CSV ({exc}).") from None
        if not rows:
            raise DataError(
                f"{path} is empty: it needs one row per sample (and optionally a header row first)."
            )
        width = len(rows[0])
        if width < 2:
            raise DataError(
                f"{path}: the first row has a single column with delimiter {p.delimiter!r}; it needs at least one input "
                f"and one target column. If the file uses another delimiter, set data.delimiter (e.g. ';' or '\\t')."
            )
        header = p.header
        if header == "auto":
            header = len(rows) > 1 and any(
                not _is_number(a) and _is_number(b) for a, b in zip(rows[0], rows[1])
            )
        names = [c.strip() for c in rows[0]] if header else [str(i) for i in range(width)]
        body = rows[1:] if header else rows
        first_line = 2 if header else 1
        if not body:
            raise DataError(f"{path} has a header row but no data rows.")
        for i, r in enumerate(body):
            if len(r) != width:
                raise DataError(
                    f"{path}, row {i + first_line}: {len(r)} cells, but the {'header' if header else 'first row'} has {width}. Every row needs the same columns."
                )

        def index(ref: Column, role: str) -> int:
            if isinstance(ref, str) and not (not header and ref.lstrip("-").isdigit()):
                if not header:
                    raise DataError(
                        f"{path} has no header row, so {role} column {ref!r} cannot be found by name; use a 0-based index "
                        f"(0 to {width - 1}), or set data.header: true if the first row holds names."
                    )
                if ref not in names:
                    raise DataError(
                        f"{path} has no column {ref!r} (data.{role}); its columns are {_listing(names)}.{_suggest(ref, names)}"
                    )
                return names.index(ref)
            i = int(ref)
            if not -width <= i < width:
                raise DataError(
                    f"{path} has {width} columns (0 to {width - 1}), so data.{role} = {i} is out of range; its columns are {_listing(names)}."
                )
            return i % width

        targets = [
            index(t, "target") for t in (p.target if isinstance(p.target, list) else [p.target])
        ]
        features = (
            [index(f, "features") for f in p.features]
            if p.features is not None
            else [i for i in range(width) if i not in targets]
        )
        if not targets or not features:
            raise DataError(
                f"{path}: needs at least one target and one input column; columns are {_listing(names)}."
            )
        if set(targets) & set(features):
            both = [names[i] for i in targets if i in features]
            raise DataError(
                f"{path}: column(s) {_listing(both)} are both a target and a feature; a column can only be one."
            )
        cells = np.array(body, dtype=str)
        cells = np.char.strip(cells)

        def numbers(cols: list[int], role: str) -> np.ndarray:
            block = cells[:, cols]
            try:
                return block.astype(np.float64)
            except ValueError:
                pass
            for j, c in enumerate(cols):
                for i, v in enumerate(block[:, j]):
                    if not _is_number(v):
                        shown = "an empty cell" if v == "" else repr(str(v))
                        raise DataError(
                            f"{path}, row {i + first_line}, column {names[c]!r}: {shown} is not a number. {role} columns must "
                            f"hold numbers; drop or fill missing values, or pick other columns with data.features / data.target "
                            f"(columns: {_listing(names)})."
                        ) from None
            raise AssertionError("unreachable")  # pragma: no cover

        x = numbers(features, "Input")
        for i, c in enumerate(features):
            if not np.isfinite(x[:, i]).all():
                raise DataError(
                    f"{path}, column {names[c]!r}: contains NaN or infinite values; clean them before training."
                )
        class_names = None
        tcells = cells[:, targets]
        textual = len(targets) == 1 and not all(_is_number(v) for v in tcells[:, 0])
        if textual:
            if p.one_hot is False:
                raise DataError(
                    f"{path}: the target column {names[targets[0]]!r} holds text (class names), which only works with one_hot; remove data.one_hot: false."
                )
            class_names, y = np.unique(tcells[:, 0], return_inverse=True)
            class_names = [str(c) for c in class_names]
            if "" in class_names:
                row = int(np.argmax(tcells[:, 0] == "")) + first_line
                raise DataError(
                    f"{path}, row {row}, column {names[targets[0]]!r}: an empty target cell; every row needs a class name."
                )
        else:
            y = numbers(targets, "Target")
            if not np.isfinite(y).all():
                raise DataError(
                    f"{path}: the target column(s) {_listing([names[i] for i in targets])} contain NaN or infinite values; clean them before training."
                )
            if p.one_hot is None:
                y = y.reshape(len(y), -1)  # numbers stay numbers unless one_hot: true
        info = {"columns": [names[i] for i in features], "targets": [names[i] for i in targets]}
        return assemble(
            path,
            {"training": (x, y, f"column(s) {_listing(info['targets'])}")},
            p,
            rng,
            dtype,
            class_names,
            info,
        )
