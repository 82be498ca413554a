"""`[` … `]` written by a user or a plugin prints as written: never eaten as markup, never a crash.

The CLI's consoles have markup off; deltaw's own styling goes through
``deltaw.cli.app.styled``, which escapes every value it fills in.
"""

import inspect
import json
import types

import typer
import yaml
from pydantic import BaseModel, Field
from rich.text import Text
from typer.testing import CliRunner

import deltaw
from deltaw.cli import app
from deltaw.cli.app import styled

runner = CliRunner()
ODD = "a [/x] b [bold]c[/bold] deltaw[plot] [/]"

SPEC = {
    "name": "tiny",
    "seed": 4,
    "data": {"name": "blobs", "samples": 200, "classes": 3},
    "network": {"layers": [2, 6, 3], "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 2, "batch_size": 16},
}


class Bracketed(deltaw.Cost):
    """Sums [y_j ln a_j] over [/x] units; see [bold]this[/bold] and pip install 'deltaw[plot]'.

    A second paragraph with [/] and [red]colour[/red] markup-like text.
    """

    class Params(BaseModel):
        tag: str = Field("[bold]tag[/x]", description="A tag such as [/x] or [bold]b[/bold].")

    def value(self, a, y):
        return float(((a - y) ** 2).sum(axis=1).mean())

    def gradient(self, a, y):
        return 2 * (a - y)


@deltaw.hookimpl
def register_costs(register):
    register("bracketed", Bracketed)


def plain(text: str) -> str:
    return " ".join(text.split())


def test_styled_escapes_every_value_but_keeps_its_own_markup():
    text = styled("[bold red]Error:[/] {} and {}", ODD, "C:\\dir\\")
    assert text.plain == f"Error: {ODD} and C:\\dir\\"
    assert any(span.style == "bold red" for span in text.spans)


def test_a_plugins_docstring_name_and_parameters_print_as_written(deltaw_plugin):
    deltaw_plugin(types.SimpleNamespace(register_costs=register_costs), name="odd[/x][bold]plugin")
    listed = runner.invoke(app, ["plugins"], env={"COLUMNS": "400"})
    assert listed.exit_code == 0, listed.output
    assert "Sums [y_j ln a_j] over [/x] units; see [bold]this[/bold] and pip install" in plain(
        listed.output
    )
    assert "odd[/x][bold]plugin" in listed.output
    shown = runner.invoke(app, ["show", "cost", "bracketed"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    text = plain(shown.output)
    assert plain(inspect.cleandoc(Bracketed.__doc__)) in text
    assert "A tag such as [/x] or [bold]b[/bold]." in text
    assert "'[bold]tag[/x]'" in text and "odd[/x][bold]plugin" in text


def test_the_built_in_cross_entropy_summary_keeps_its_brackets():
    summary = "C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]"
    listed = runner.invoke(app, ["plugins", "cost"], env={"COLUMNS": "400"})
    assert summary in listed.output
    shown = runner.invoke(app, ["show", "cost", "cross-entropy"], env={"COLUMNS": "400"})
    assert summary in shown.output


def test_an_error_about_a_bracketed_set_value_prints_it_and_does_not_crash(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    for command in ("run", "validate"):
        result = runner.invoke(
            app, [command, str(spec), "--set", "cost=no[/x]such[bold]"], env={"COLUMNS": "400"}
        )
        assert result.exit_code in (2, 3), result.output
        assert "no[/x]such[bold]" in result.output
        assert (
            "Traceback" not in result.output
            and result.exception is None
            or isinstance(result.exception, SystemExit)
        )


def test_a_spec_path_with_brackets_is_named_as_written(tmp_path):
    folder = tmp_path / "[bold]x[" / "x]"  # the path reads …/[bold]x[/x]/spec[red].yaml
    folder.mkdir(parents=True)
    spec = folder / "spec[red].yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "optimizer": {"name": "sgd", "lr": -1}}))
    result = runner.invoke(app, ["validate", str(spec)], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    assert str(spec) in plain(result.output)


def test_run_report_and_plot_of_runs_in_a_bracketed_folder(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "name": "n[bold]x[/bold] $\\nosuch{$"}))
    out = tmp_path / "r[bold]s[" / "x]"  # …/r[bold]s[/x]
    done = runner.invoke(app, ["run", str(spec), "--out", str(out), "--no-plots"])
    assert done.exit_code == 0, done.output
    assert f"Run folder: {out}" in done.output
    other = runner.invoke(
        app, ["run", str(spec), "--out", str(out), "-q", "--set", "optimizer.lr=0.25"]
    )
    assert other.exit_code == 0, other.output
    first = sorted(out.iterdir())[0]
    with open(first / "metrics.jsonl", "a") as f:
        f.write('{"epoch": [/x]\n')
    report = runner.invoke(app, ["report", str(out)], env={"COLUMNS": "400"})
    assert report.exit_code == 0, report.output
    assert f"Warning: {first / 'metrics.jsonl'} is damaged" in plain(report.output)
    assert "optimizer.lr" in report.output
    picture = runner.invoke(app, ["plot", str(out), "-o", str(tmp_path / "c.png")])
    assert picture.exit_code == 0, picture.output
    assert (tmp_path / "c.png").stat().st_size > 0


def test_every_help_text_shows_its_brackets():
    """A `[` in a help string must be escaped (rich_markup_mode="rich" would eat it)."""
    command = typer.main.get_command(app)
    texts = [("deltaw", command.help or "")]
    for name, sub in command.commands.items():
        texts.append((name, sub.help or ""))
        texts += [(f"{name} {p.name}", getattr(p, "help", None) or "") for p in sub.params]
    for where, text in texts:
        meant = text.replace("\\[", "[")
        assert Text.from_markup(text).plain == meant, f"{where}: {text!r} loses text as markup"
    shown = runner.invoke(app, ["explain", "--help"], env={"TERMINAL_WIDTH": "400"})
    assert "w[l][j][k]" in shown.output and "deltaw[plot]" in shown.output


def test_json_output_is_unaffected(tmp_path):
    listed = runner.invoke(app, ["plugins", "--json"])
    data = json.loads(listed.stdout)
    assert any(n["name"] == "cross-entropy" for n in data["names"])
