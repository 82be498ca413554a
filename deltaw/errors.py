"""Every error deltaw expects a user to meet, and the warning its plugin loading gives.

The CLI catches :class:`DeltawError` and prints its message (no traceback) with
the error's ``exit_code``; an ``OSError`` (full disk, read-only folder, …)
becomes a :class:`FileError` through :func:`file_error`; anything else is a bug
and keeps its traceback. docs/reliability.md lists every exit code.
"""

from __future__ import annotations

import errno
import shlex
from pathlib import Path


class DeltawError(Exception):
    """Base of every expected, user-facing error."""

    exit_code = 1


class SpecError(DeltawError):
    """A spec file could not be read or did not validate."""

    exit_code = 2


class UnknownNameError(SpecError):
    """A spec names a plugin that is not registered."""


class ParamsError(SpecError):
    """A plugin's parameters do not validate; ``problems`` holds one located line per mistake."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems is not None else [message]

    def __reduce__(self) -> tuple[type, tuple[str, list[str]]]:
        # keep the problems when a sweep's worker process sends the error back
        return type(self), (str(self), self.problems)


class PluginError(DeltawError):
    """A plugin could not be loaded, or registered something invalid."""

    exit_code = 3


class DuplicateNameError(PluginError):
    """Two plugins registered the same kind and name."""


class DataError(DeltawError):
    """A data set is missing, corrupt or does not fit the network."""

    exit_code = 4


class TrainingError(DeltawError):
    """Training had to stop (for example a cost that became NaN or inf)."""

    exit_code = 5


class GradientCheckError(DeltawError):
    """Backprop and finite differences disagree beyond the tolerance."""

    exit_code = 6


class DeltawPluginWarning(UserWarning):
    """A plugin failed to load and was skipped, a plugin switch names no plugin, or a
    name the spec writes means an installed plugin that shadows a built-in (the
    name rule; ``deltaw:NAME`` is the built-in).

    Issued with :func:`warnings.warn` while the registry loads or looks a name up, so a program
    embedding deltaw (or a test) can record, silence or raise it
    (``warnings.simplefilter("error", DeltawPluginWarning)``; for failures,
    ``DELTAW_STRICT_PLUGINS=1`` does that too). The command line prints each
    one's message on stderr.
    """


class FileError(DeltawError):
    """A file or folder cannot be read or written (full disk, read-only, permissions, damaged)."""

    exit_code = 7


# what each errno means for the user, and what to do about it (names absent on a platform skip)
_ADVICE_BY_NAME = {
    "ENOSPC": "the disk is full. Free some space, or write elsewhere (--out DIR)",
    "EDQUOT": "your disk quota is used up. Free some space, or write elsewhere (--out DIR)",
    "EROFS": "the file system is read-only. Write elsewhere (--out DIR)",
    "EACCES": "permission denied. Check the permissions of the file and its folder, "
    "or write elsewhere (--out DIR)",
    "EPERM": "the operation is not permitted. Check the permissions of the file and its "
    "folder, or write elsewhere (--out DIR)",
    "ENAMETOOLONG": "the name is too long for this file system. Use a shorter name or a "
    "shorter folder",
    "ENOTDIR": "a part of the path is a file, not a folder. Give a path whose parents are folders",
    "EISDIR": "it is a folder, where a file is expected. Give a file's path",
    "EEXIST": "it already exists (a file where a folder is needed?). Give another path",
    "ENOENT": "no such file or folder. Check the path",
    "EMFILE": "too many files are open. Close other programs, or raise the limit (ulimit -n)",
    "EIO": "an input/output error: the disk or network file system failed. Check it",
}
_ADVICE = {getattr(errno, k): v for k, v in _ADVICE_BY_NAME.items() if hasattr(errno, k)}


def file_error(exc: OSError, path: str | Path | None = None, action: str = "") -> FileError:
    """A one-paragraph :class:`FileError` for ``exc``: the path, what went wrong, what to do.

    ``action`` says what deltaw was doing ("write the checkpoint"); a path inside
    a run folder adds the command that resumes the run once the fault is fixed.
    """
    where = path if path is not None else (exc.filename or "a file")
    what = _ADVICE.get(exc.errno or -1) or (
        f"{exc.strerror or exc}. Check the path, its folder and the disk"
    )
    doing = f"Cannot {action} {where}" if action else f"{where}"
    code = errno.errorcode.get(exc.errno or -1)
    text = f"{doing}: {what}{f' ({code})' if code else ''}."
    folder = _run_folder(Path(where)) if where != "a file" else None
    if folder is not None:
        kept = (
            "keeps the checkpoint of its last complete epoch"
            if (folder / "checkpoint.npz").is_file()
            else "has no checkpoint yet (no epoch finished)"
        )
        text += (
            f" The run folder {folder} {kept}; once this is fixed, resume it with: "
            f"deltaw run --resume {shlex.quote(str(folder))}"
        )
    return FileError(text)


def _run_folder(path: Path) -> Path | None:
    """The run folder holding ``path`` (a folder with resolved.yaml), if any."""
    for folder in (path.parent, path.parent.parent):
        try:
            if (folder / "resolved.yaml").is_file():
                return folder
        except OSError:
            return None
    return None
