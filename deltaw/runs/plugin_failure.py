"""A third-party plugin that raises during a run: one message, exit code 3, the run kept.

:func:`plugin_failure` turns an exception whose traceback ends in a
third-party plugin's code (see :mod:`deltaw.registry.blame`) into a
:class:`~deltaw.errors.PluginError` that names the plugin, its distribution and
the method, says which checkpoint the run folder keeps, and how to go on:
without the plugin (``--disable-plugin``) when the spec does not use it, or
after fixing it when the spec does. Errors of deltaw itself, and the
:class:`~deltaw.errors.DeltawError` a plugin raises on purpose, are left alone.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path

from deltaw.errors import DeltawError, PluginError
from deltaw.registry import Registry
from deltaw.registry.blame import Culprit, culprit
from deltaw.runs.folder import resume_command


def plugin_failure(
    registry: Registry,
    exc: BaseException,
    used: Mapping[str, str],
    folder: Path | None = None,
    saved_epoch: int | None = None,
    again: str = "",
) -> PluginError | None:
    """The error to raise instead of ``exc`` if a third-party plugin raised it, else None.

    ``used`` is the spec's ``"kind:name" → origin`` (``Experiment.plugins_used``);
    ``folder`` the run folder (None before it exists) with the checkpoint of
    ``saved_epoch``; ``again`` the command that runs the spec when there is no folder.
    """
    if not isinstance(exc, Exception) or isinstance(exc, DeltawError):
        return None
    found = culprit(registry, exc)
    if found is None:
        return None
    parts = [found.describe(exc)]
    if folder is None:
        parts.append("Nothing was trained.")
        rerun = again
    elif saved_epoch:
        parts.append(f"The run folder {folder} keeps the checkpoint of epoch {saved_epoch}.")
        rerun = resume_command(folder)
    else:
        parts.append(f"No epoch had finished, so the run folder {folder} has no checkpoint yet.")
        rerun = resume_command(folder)
    parts.append(_way_out(found, used, rerun))
    return PluginError(" ".join(parts))


@contextlib.contextmanager
def plugin_errors(registry: Registry, used: Mapping[str, str], again: str) -> Iterator[None]:
    """Name the plugin when one raises while the experiment is built (data, initializers)."""
    try:
        yield
    except Exception as exc:
        failure = plugin_failure(registry, exc, used, again=again)
        if failure is None:
            raise
        raise failure from exc


def _way_out(found: Culprit, used: Mapping[str, str], rerun: str) -> str:
    """Run without the plugin if the spec does not need it; otherwise fix it or pick another."""
    p = found.plugin
    mine = [key.split(":", 1) for key, origin in used.items() if origin == p.origin]
    if mine:
        fix = f"upgrade or fix {p.distribution}" if p.distribution else f"fix plugin {p.name!r}"
        uses = ", ".join(f"{kind} {name!r}" for kind, name in mine)
        other = f"another {mine[0][0]}" if len(mine) == 1 else "others"
        return f"The spec uses its {uses}: {fix} (or choose {other}), then: {rerun}"
    if not p.distribution:  # registered in code: nothing to disable
        return f"To run without it: registry.unregister_plugin({p.name!r}), then: {rerun}"
    rest = rerun.removeprefix("deltaw ")
    return (
        f"To run without it: deltaw --disable-plugin {shlex.quote(p.name)} {rest} "
        f"(or set DELTAW_DISABLE_PLUGINS={shlex.quote(p.name)})."
    )
