"""Data sets read from the user's own files: ``npz`` here, ``csv`` in :mod:`.csvfile`, and
the helpers both use to find a file and name what it holds.

Both readers end the same way, with :func:`~deltaw.plugins.datasets.splits.assemble`.
"""

from __future__ import annotations

import difflib
import zipfile
from pathlib import Path

import numpy as np
from pydantic import Field

import deltaw
from deltaw.errors import DataError
from deltaw.plugins.datasets.splits import FileParams, Found, assemble


def local_file(path: str, what: str) -> Path:
    """``path`` with ``~`` expanded; a DataError when there is no such file."""
    p = Path(path).expanduser()
    if not p.is_file():
        where = "does not exist" if not p.exists() else "is not a file"
        raise DataError(
            f"The {what} file {p} {where} (relative paths are read from the working directory, "
            f"{Path.cwd()}). Check data.path in the spec, or pass an absolute path."
        )
    return p


def listing(names: list[str]) -> str:
    """``'a', 'b'`` (or ``none``), for messages that list what a file holds."""
    return ", ".join(repr(n) for n in names) if names else "none"


def did_you_mean(name: str, names: list[str]) -> str:
    """`` Did you mean 'x'?`` with the closest of ``names``, or nothing."""
    close = difflib.get_close_matches(name, names, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


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
            description="Key of the inputs, and prefix of the split keys (x_train, x_validation, "
            "x_test).",
        )
        y_key: str = Field(
            "y",
            description="Key of the targets, and prefix of the split keys (y_train, "
            "y_validation, y_test).",
        )

    def load(self, rng: np.random.Generator, dtype: np.dtype) -> deltaw.DataSplits:
        p, dtype = self.params, np.dtype(dtype)
        path = local_file(p.path, "npz")
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(
                f"{path} is not a readable .npz archive ({exc}). Save the arrays with "
                "numpy.savez(path, x=..., y=...) "
                f"or savez(path, x_train=..., y_train=..., x_test=..., y_test=...)."
            ) from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(
                f"{path} holds a single array, not an .npz archive of named arrays. Save x and y "
                "with numpy.savez(path, x=..., y=...)."
            )
        with archive:
            keys = sorted(archive.files)
            xk, yk = p.x_key, p.y_key

            def read(key: str) -> np.ndarray:
                try:
                    arr = archive[key]
                except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                    raise DataError(
                        f"{path}: the array {key!r} cannot be read ({exc}); arrays must be "
                        "numeric, not objects."
                    ) from None
                if arr.dtype.kind not in "biuf":
                    raise DataError(
                        f"{path}: the array {key!r} has dtype {arr.dtype}; inputs and targets must "
                        "be numbers (bool, int or float)."
                    )
                if arr.ndim == 0 or len(arr) == 0:
                    raise DataError(
                        f"{path}: the array {key!r} is empty or a scalar (shape {arr.shape}); it "
                        "needs one row per sample."
                    )
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise DataError(
                        f"{path}: the array {key!r} contains NaN or infinite values; clean them "
                        "before training."
                    )
                return arr

            def pair(suffix: str) -> tuple[np.ndarray, np.ndarray, str] | None:
                kx, ky = xk + suffix, yk + suffix
                if kx not in keys and ky not in keys:
                    return None
                for k, other in ((kx, ky), (ky, kx)):
                    if k not in keys:
                        raise DataError(
                            f"{path} has {other!r} but no {k!r}; keys in the file: "
                            f"{listing(keys)}.{did_you_mean(k, keys)}"
                        )
                x, y = read(kx), read(ky)
                if len(x) != len(y):
                    raise DataError(
                        f"{path}: {kx!r} has {len(x)} rows but {ky!r} has {len(y)}; they need one "
                        "target row per input row."
                    )
                return x, y, f"{kx!r}/{ky!r}"

            splits: Found = {}
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
                        f"{path} has neither {xk!r}/{yk!r} nor "
                        f"{xk + '_train'!r}/{yk + '_train'!r}; keys in the file: "
                        f"{listing(keys)}. Set data.x_key and data.y_key to the names it uses "
                        "(e.g. x_key: "
                        f"{keys[0] if keys else 'x'!r})."
                    )
                splits["training"] = whole
        shapes = {tuple(x.shape[1:]) for x, _, _ in splits.values()}
        if len(shapes) > 1:
            raise DataError(
                f"{path}: the input arrays have different row shapes {sorted(shapes)}; every split "
                "needs the same features."
            )
        row_shape = next(iter(shapes))
        info = {"image_shape": list(row_shape), "kind": "image"} if len(row_shape) >= 2 else {}
        return assemble(path, splits, p, rng, dtype, info=info)
