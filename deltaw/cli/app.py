"""The Typer app, shared options and error handling of the ``deltaw`` command line.

The command line parses and prints, nothing else.

Exit codes (docs/reliability.md): 0 success; 1 other expected error; 2 spec
error; 3 plugin error; 4 data error; 5 training error (diverged or stalled);
6 gradient check failed; 7 a file or folder cannot be read or written (full
disk, read-only, permissions, a damaged run file); 130 interrupted by Ctrl-C
(the last checkpoint is kept).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from deltaw.errors import DeltawPluginWarning

app = typer.Typer(
    name="deltaw",
    help="Backpropagation you can see, check and extend.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
# Markup is off on both consoles: a `[` … `]` in a value, a path, a spec, an error or a
# plugin's docstring prints as written. deltaw's own styling goes through styled().
out = Console(markup=False)
err = Console(stderr=True, markup=False)
_disabled: list[str] = []


def styled(markup: str, *values: object) -> Text:
    """deltaw's own Rich markup with ``{}`` holes, filled with ``values`` shown as they are.

    ``styled("[green]Done[/] in {}", folder)``: only the template is parsed
    as markup; each value goes in afterwards as plain text with the style
    around its hole, so nothing a user or a plugin wrote can style, hide or
    break the output.
    """
    marks = [chr(0xE000 + i) for i in range(len(values))]  # private-use characters hold the places
    parsed = Text.from_markup(markup.format(*marks))
    text, start = Text(), 0
    for mark, value in zip(marks, values):
        at = parsed.plain.index(mark, start)
        text.append_text(parsed[start:at])
        style = " ".join(str(s.style) for s in parsed.spans if s.start <= at < s.end)
        text.append(str(value), style=style or None)
        start = at + 1
    text.append_text(parsed[start:])
    return text


def warn(message: object) -> None:
    """A warning on stderr: ``Warning:`` in yellow, then the message as written."""
    err.print(styled("[yellow]Warning:[/] {}", message), soft_wrap=True)


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn expected errors into a message and an exit code; never a traceback.

    An ``OSError`` (full disk, read-only folder, permissions, a name too long…)
    is the environment's, not a bug: it becomes a :class:`~deltaw.errors.FileError`
    naming the path and what to do (exit code 7).
    """
    from deltaw.errors import DeltawError, file_error

    try:
        try:
            yield
        except OSError as exc:
            raise file_error(exc) from None
        except MemoryError as exc:  # an allocation no check foresaw: say so, not a traceback
            raise DeltawError(
                f"Out of memory{f' ({exc})' if str(exc) else ''}. Use fewer units in "
                f"network.layers, fewer samples, dtype float32 or a smaller batch."
            ) from None
    except DeltawError as exc:
        err.print(styled("[bold red]Error:[/] {}", exc), soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def show_plugin_warnings() -> None:
    """Print every :class:`~deltaw.errors.DeltawPluginWarning` as its message alone on
    stderr (as the command line's other messages); other warnings show as Python shows them.

    The registry loads once per command, so each such warning is printed once.
    """
    previous = warnings.showwarning
    if getattr(previous, "deltaw", False):  # already installed
        return

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202
        if issubclass(category, DeltawPluginWarning):
            print(message, file=sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    show.deltaw = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def registry():  # noqa: ANN201 - lazy import keeps --help fast
    from deltaw.registry import get_registry

    return get_registry(disable=_disabled)


def _version(value: bool) -> None:
    if value:
        from deltaw import __version__

        out.print(f"deltaw {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    disable_plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--disable-plugin", help="Do not load this plugin (entry-point name); repeatable."
        ),
    ] = None,  # noqa: UP045
    plugins_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--plugins-dir",
            help="Load every *.py file in this folder as a plugin (as DELTAW_PLUGINS_DIR); "
            "repeatable.",
            exists=True,
            file_okay=False,
            dir_okay=True,
        ),
    ] = None,  # noqa: UP045
) -> None:
    """Backpropagation you can see, check and extend."""
    _disabled[:] = disable_plugin or []
    if plugins_dir:  # through the environment, so the processes a sweep starts see them too
        from deltaw.registry.local import add_plugin_dirs

        add_plugin_dirs(plugins_dir)
    show_plugin_warnings()


SpecArg = Annotated[
    Path, typer.Argument(help="Spec file (.yaml, .yml, .toml or .json).", show_default=False)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a spec key: --set optimizer.lr=0.5 (repeatable)."),
]  # noqa: UP045


def main() -> None:
    """Console-script entry point."""
    app()
