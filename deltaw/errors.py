"""Every error deltaw expects a user to meet.

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


class DeltawNotice(UserWarning):
    """Something the user should know that is not an error (issued with :func:`warnings.warn`).

    For example: a name the spec wrote is registered by deltaw and by one
    installed plugin, so it means the plugin (``deltaw:NAME`` is the built-in).
    The command line prints the message alone on stderr; a program can record,
    silence or raise it with the :mod:`warnings` filters.
    """


class DataError(DeltawError):
    """A data set is missing, corrupt or does not fit the network."""

    exit_code = 4


class TrainingError(DeltawError):
    """Training had to stop (for example a cost that became NaN or inf)."""

    exit_code = 5


class GradientCheckError(DeltawError):
    """Backprop and finite differences disagree beyond the tolerance."""

    exit_code = 6
