"""The Typer app, shared options and error handling of the ``deltaw`` command line.

The command line parses and prints, nothing else.

Exit codes: 0 success; 1 other expected error; 2 spec error; 3 plugin error;
4 data error; 5 training error (diverged); 6 gradient check failed;
130 interrupted by Ctrl-C (the last checkpoint is kept).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

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
    """Turn expected errors into a message and an exit code; never a traceback."""
    from deltaw.errors import DeltawError

    try:
        yield
    except DeltawError as exc:
        err.print(styled("[bold red]Error:[/] {}", exc), soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


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
) -> None:
    """Backpropagation you can see, check and extend."""
    _disabled[:] = disable_plugin or []


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
