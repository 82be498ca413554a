"""MNIST from the four original IDX files, split as in the book's ``mnist_loader``.

Where the files are looked for, in order:

1. ``data.path`` in the spec — when set, the only place looked (a spec means
   exactly the files it names);
2. otherwise the folder in the environment variable ``DELTAW_MNIST_DIR``, then
   the default data folder ``$DELTAW_DATA_DIR/mnist``, with ``DELTAW_DATA_DIR``
   defaulting to ``~/.deltaw/data``; the first folder holding all four files
   is used.

Each file may be gzip-compressed (``name.gz``, as distributed) or raw, and
spelled as mirrors spell it (``train-images.idx3-ubyte``, any case, or inside
a folder of its own name); when files are missing, the near misses in the
folder are named. Nothing
is cached on disk: decoding the full set with numpy takes about a second.
"""

from __future__ import annotations

import difflib
import gzip
import os
import re
import zlib
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw
from deltaw.errors import DataError
from deltaw.plugins.datasets.splits import as_split, one_hot

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_DIR_ENV = "DELTAW_MNIST_DIR"
DATA_DIR_ENV = "DELTAW_DATA_DIR"
DEFAULT_DATA_DIR = "~/.deltaw/data"
CLASSES = 10
HOW_TO_GET = (
    "Download the four files of the MNIST database (LeCun, Cortes, Burges) — "
    + ", ".join(FILES.values())
    + " — each gzip-compressed (.gz) or not, into one folder, and point deltaw at it with "
    f"data.path in the spec or the environment variable {MNIST_DIR_ENV} (or put them in "
    f"$DELTAW_DATA_DIR/mnist, by default {DEFAULT_DATA_DIR}/mnist)."
)


def data_dir() -> Path:
    """deltaw's data folder: ``$DELTAW_DATA_DIR``, else ``~/.deltaw/data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()


def candidates(path: str | None) -> list[tuple[Path, str]]:
    """The folders to search, in order, each with the setting it came from."""
    if path:
        return [(Path(path).expanduser(), "data.path in the spec")]
    found = []
    if os.environ.get(MNIST_DIR_ENV):
        found.append(
            (Path(os.environ[MNIST_DIR_ENV]).expanduser(), f"environment variable {MNIST_DIR_ENV}")
        )
    if os.environ.get(DATA_DIR_ENV):
        found.append((data_dir() / "mnist", f"environment variable {DATA_DIR_ENV}, plus /mnist"))
    else:
        found.append((data_dir() / "mnist", f"the default data folder; {DATA_DIR_ENV} is not set"))
    return found


def _file_in(folder: Path, name: str) -> Path | None:
    """``name`` (.gz or raw) in ``folder``, as distributed or as mirrors spell it.

    Mirrors write dots or underscores for the hyphens (``train-images.idx3-ubyte``),
    change the case, or unpack each file into a folder of its own name (Kaggle's
    layout): every such spelling is accepted.
    """
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    want = _canonical(name)
    for entry in _entries(folder):
        if _canonical(entry.name) != want:
            continue
        if entry.is_file():
            return entry
        inner = [e for e in _entries(entry) if _canonical(e.name) == want and e.is_file()]
        if inner:
            return inner[0]
    return None


def _canonical(name: str) -> str:
    """A file name without .gz, case, dots, hyphens or underscores: how mirrors differ."""
    name = name.lower()
    name = name[: -len(".gz")] if name.endswith(".gz") else name
    return re.sub(r"[^a-z0-9]", "", name)


def _entries(folder: Path) -> list[Path]:
    """The folder's entries, .gz first (so a compressed copy wins, as with exact names)."""
    try:
        return sorted(folder.iterdir(), key=lambda p: (not p.name.endswith(".gz"), p.name))
    except OSError:
        return []


def near_misses(folder: Path, missing: list[str]) -> str:
    """`` Near misses there: 'x' (for y), …``: files in ``folder`` named most like a missing one.

    Each file counts for the one expected name it is closest to (the four names
    resemble each other), and only when that name is missing.
    """
    found = []
    for entry in _entries(folder):
        text = _canonical(entry.name)
        ratios = {
            n: difflib.SequenceMatcher(None, text, _canonical(n)).ratio() for n in FILES.values()
        }
        best = max(ratios, key=lambda n: ratios[n])
        if best in missing and ratios[best] >= 0.75:
            found.append(f"{entry.name!r} (for {best})")
    if not found:
        return ""
    return (
        f" Near misses there: {', '.join(found)}; rename them, or unpack them if they are "
        f"archives (only gzip .gz is read as it is)."
    )


def locate(path: str | None) -> dict[str, Path]:
    """The four files, from the first folder that holds all of them; a DataError listing every place
    looked."""
    places = candidates(path)
    report = []
    for i, (folder, source) in enumerate(places, 1):
        files = {k: _file_in(folder, n) for k, n in FILES.items()}
        missing = [FILES[k] for k, f in files.items() if f is None]
        if not missing:
            return files  # type: ignore[return-value]
        if len(missing) < len(FILES):
            raise DataError(
                f"MNIST is incomplete in {folder} (from {source}): missing {', '.join(missing)} "
                "(looked for each "
                f"name with and without .gz, with dots or underscores for hyphens)."
                f"{near_misses(folder, missing)} "
                f"Add the missing files. {HOW_TO_GET}"
            )
        state = (
            "no such folder"
            if not folder.exists()
            else "not a folder"
            if not folder.is_dir()
            else "none of the four files"
            + near_misses(folder, missing).rstrip(".").replace(" Near", "; near", 1)
        )
        report.append(f"{i}. {folder} (from {source}): {state}")
    skipped = (
        " Only data.path was searched because it is set; without it deltaw looks in "
        f"${MNIST_DIR_ENV} and then $DELTAW_DATA_DIR/mnist."
        if path
        else ""
    )
    raise DataError(f"MNIST files not found. Looked in: {'; '.join(report)}.{skipped} {HOW_TO_GET}")


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with ``ndim`` dimensions (gzip or raw) as a read-only uint8
    array."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"{path} cannot be read ({exc.strerror or exc}). Check its permissions."
        ) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"{path} is not a valid gzip file ({exc}): it is probably truncated or damaged. "
                "Download it again, or use the uncompressed file."
            ) from None
    elif path.suffix == ".gz":
        raise DataError(
            f"{path} is named .gz but is not gzip data (it starts with "
            f"{raw[:4].hex() or 'nothing'}). Download it again, or remove the .gz suffix if it is "
            "a raw IDX file."
        )
    header = 4 + 4 * ndim
    expected = 0x800 | ndim  # 0x00 0x00, type 0x08 = unsigned byte, number of dimensions
    if len(raw) < header:
        raise DataError(
            f"{path} is truncated: {len(raw)} bytes, shorter than the {header}-byte header of an "
            f"IDX file with {ndim} dimensions. Download it again."
        )
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected:
        raise DataError(
            f"{path} has the magic number 0x{magic:08x}, but an IDX file of unsigned bytes with "
            f"{ndim} dimension(s) starts "
            f"with 0x{expected:08x}. It is not the expected MNIST file (images have 3 dimensions, "
            "labels 1); check the file name and download it again."
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != size:
        what = "truncated" if len(raw) - header < size else "longer than its header says"
        raise DataError(
            f"{path} is {what}: its header promises {' × '.join(map(str, dims))} = {size} bytes of "
            f"data, but it has {len(raw) - header}. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _pixels(images: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Flattened rows of grey levels scaled from 0–255 to [0, 1]."""
    out = np.empty((len(images), images[0].size if len(images) else 0), dtype=dtype)
    np.multiply(images.reshape(len(images), -1), dtype.type(1 / 255), out=out)
    return out


class Mnist(deltaw.Dataset):
    """MNIST handwritten digits: 28×28 grey images, 10 classes, split as in Nielsen's mnist_loader.

    Yields x of shape (m, 784), pixels scaled to [0, 1], and one-hot y of shape
    (m, 10). Splits: the first 50,000 training images for training, the last
    ``validation`` (10,000) of them for validation, and the 10,000 test images.
    Parameters: ``path`` (folder of the four IDX files, .gz or raw; default:
    $DELTAW_MNIST_DIR, then $DELTAW_DATA_DIR/mnist with DELTAW_DATA_DIR
    defaulting to ~/.deltaw/data), ``validation`` 10000 (0 = no validation
    split), ``limit`` none (e.g. 1000 to train on the first 1,000 images, as in
    the book's overfitting experiments).
    Reference: Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of
    handwritten digits"; M. Nielsen, Neural Networks and Deep Learning, ch. 1.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        path: str | None = Field(
            None,
            description="Folder holding the four IDX files (.gz or raw); default: "
            "$DELTAW_MNIST_DIR, then $DELTAW_DATA_DIR/mnist (~/.deltaw/data/mnist).",
        )
        validation: int = Field(
            10000,
            ge=0,
            description="Training images held out for validation, taken from the end of the "
            "training file (0 = none).",
        )
        limit: int | None = Field(
            None,
            ge=1,
            description="Train on only the first N training images (the book's overfitting runs "
            "use 1000); null = all.",
        )

    def load(self, rng: np.random.Generator, dtype: np.dtype) -> deltaw.DataSplits:
        p, dtype = self.params, np.dtype(dtype)
        files = locate(p.path)
        arrays = {k: read_idx(f, 3 if k.endswith("images") else 1) for k, f in files.items()}
        for part in ("train", "test"):
            images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
            if len(images) != len(labels):
                raise DataError(
                    f"{files[f'{part}_images']} has {len(images)} images but "
                    f"{files[f'{part}_labels']} has {len(labels)} labels; "
                    f"they must come from the same download. Replace both with a matching pair."
                )
            if len(labels) and labels.max() >= CLASSES:
                raise DataError(
                    f"{files[f'{part}_labels']} contains the label {labels.max()}; MNIST labels "
                    "are the digits 0–9. Download the file again."
                )
        if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
            raise DataError(
                f"{files['train_images']} holds {arrays['train_images'].shape[1:]} images but "
                f"{files['test_images']} holds "
                f"{arrays['test_images'].shape[1:]}; training and test images must have the same "
                "size."
            )
        n = len(arrays["train_images"])
        if p.validation >= n:
            raise DataError(
                f"data.validation = {p.validation} leaves no training images: "
                f"{files['train_images']} has only {n}. Use a smaller validation count."
            )
        end = n - p.validation
        keep = min(end, p.limit) if p.limit else end

        def split(images: np.ndarray, labels: np.ndarray) -> deltaw.Split:
            return as_split(_pixels(images, dtype), one_hot(labels, CLASSES, dtype), dtype)

        train_i, train_l = arrays["train_images"], arrays["train_labels"]
        validation = split(train_i[end:], train_l[end:]) if p.validation else None
        return deltaw.DataSplits(
            train=split(train_i[:keep], train_l[:keep]),
            validation=validation,
            test=split(arrays["test_images"], arrays["test_labels"]),
            info={
                "classes": CLASSES,
                "input_dim": int(np.prod(train_i.shape[1:])),
                "outputs": CLASSES,
                "kind": "image",
                "image_shape": list(train_i.shape[1:]),
                "task": "classification",
                "source": str(files["train_images"].parent),
            },
        )
