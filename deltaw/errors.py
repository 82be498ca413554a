"""Every error deltaw expects a user to meet, and the warning its plugin loading gives.

The CLI catches :class:`DeltawError` and prints its message (no traceback) with
the error's ``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


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
