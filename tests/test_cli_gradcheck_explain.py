"""``deltaw gradcheck`` and ``deltaw explain`` from the command line."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import deltaw
from deltaw.cli import app
from deltaw.plots import have_matplotlib
from deltaw.registry import get_registry, reset_registry

runner = CliRunner()

SPEC = {
    "name": "probe",
    "seed": 3,
    "data": {"name": "blobs", "samples": 60, "classes": 3},
    "network": {
        "layers": [2, 5, 4, 3],
        "activation": "tanh",
        "output_activation": "softmax",
        "init": "glorot-uniform",
    },
    "cost": "log-likelihood",
}


def spec_file(tmp_path, **network):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "network": {**SPEC["network"], **network}}))
    return path


class BrokenTanh(deltaw.Activation):
    """tanh whose derivative forgot to square: 1 − a instead of 1 − a²."""

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        return 1.0 - a


class BrokenPlugin:
    @deltaw.hookimpl
    def register_activations(self, register):
        register("broken-tanh", BrokenTanh)


def register_broken():
    get_registry().register_plugin(BrokenPlugin(), "deltaw-broken")


@pytest.mark.parametrize(
    ("activation", "output", "cost"),
    [
        ("sigmoid", "sigmoid", "quadratic"),
        ("relu", "softmax", "log-likelihood"),
        ("gelu", "sigmoid", "cross-entropy"),
        ("leaky-relu", "identity", "mse"),
        ("elu", "tanh", "huber"),
        ("tanh", "identity", "hinge"),
        ("relu", "identity", "squared-hinge"),
        ("sigmoid", "softmax", "kl-divergence"),
    ],
)
def test_gradcheck_passes_on_builtin_combinations(activation, output, cost):
    result = runner.invoke(
        app,
        [
            "gradcheck",
            "--layers",
            "3,4,4,2",
            "--activation",
            activation,
            "--output-activation",
            output,
            "--cost",
            cost,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Passed." in result.stdout
    assert "layer" in result.stdout and "max error" in result.stdout


def test_gradcheck_of_a_spec_uses_rows_of_its_training_split(tmp_path):
    result = runner.invoke(app, ["gradcheck", str(spec_file(tmp_path)), "--samples", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True and data["sizes"] == [2, 5, 4, 3] and len(data["rows"]) == 2
    assert [(p["layer"], p["param"]) for p in data["params"]] == [
        (2, "w"),
        (2, "b"),
        (3, "w"),
        (3, "b"),
        (4, "w"),
        (4, "b"),
    ]
    assert data["layers"] == ["tanh", "tanh", "softmax"] and data["cost"] == "log-likelihood"


def test_gradcheck_of_a_float32_spec_still_checks_in_float64(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "dtype": "float32"}))
    result = runner.invoke(app, ["gradcheck", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dtype"] == "float32" and data["passed"]


def test_gradcheck_names_the_layer_with_a_broken_plugin_derivative_and_exits_6(tmp_path):
    register_broken()
    path = spec_file(tmp_path, layers=[2, 5, 4, 3], activation="tanh")
    text = path.read_text().replace("activation: tanh", "activation: broken-tanh")
    path.write_text(text)
    result = runner.invoke(app, ["gradcheck", str(path)])
    assert result.exit_code == 6, result.output
    assert "✗" in result.stdout and "broken-tanh" in result.stdout  # the table still printed
    message = " ".join(result.stderr.split())
    assert "Gradient check failed" in message
    assert "Layer 4 above it is right" in message
    assert "layer 3's activation 'broken-tanh'" in message
    assert "activation 'broken-tanh' (layer 3): backward(z, a, g) gives" in message


def test_gradcheck_with_layers_and_a_broken_output_activation_blames_the_output_layer():
    register_broken()
    result = runner.invoke(
        app, ["gradcheck", "--layers", "2,3,2", "--output-activation", "broken-tanh", "--json"]
    )
    assert result.exit_code == 6
    data = json.loads(result.stdout)
    assert data["passed"] is False
    assert "The output layer is wrong" in data["diagnosis"] and "'broken-tanh'" in data["diagnosis"]


def test_a_looser_tolerance_lets_the_same_check_pass():
    assert runner.invoke(app, ["gradcheck", "--layers", "2,3,2", "--tol", "1e-12"]).exit_code == 6
    assert runner.invoke(app, ["gradcheck", "--layers", "2,3,2", "--tol", "1e-4"]).exit_code == 0


def test_explain_json_has_the_three_views_and_the_costs():
    result = runner.invoke(app, ["explain", "--layers", "2,3,3,2", "--weight", "3,1,2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["weight"]["label"] == "w[3][1][2]" and data["weight"]["index"] == [1, 0]
    assert [layer["layer"] for layer in data["change"]["layers"]] == [3, 4]
    assert len(data["limit"]) == 6 and data["limit"][0]["dw"] == 0.1
    assert data["paths"]["count"] == 2 and data["paths"]["listed"] is True
    assert sorted(data["backprop"]["deltas"]) == ["2", "3", "4"]
    values = data["compare"]["values"]
    assert abs(values["path sum"] - values["backprop"]) <= 1e-12 * abs(values["backprop"])
    assert abs(values["finite difference"] - values["backprop"]) <= 1e-7 * abs(values["backprop"])
    assert data["costs"][0]["note"] == "this one" and data["costs"][0]["paths_one_weight"] == 6
    assert data["activations"] == ["sigmoid", "sigmoid", "sigmoid"]


def test_explain_prints_every_step_as_tables():
    result = runner.invoke(app, ["explain", "--layers", "2,3,3,2", "--weight", "2,1,1"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for heading in (
        "1. Nudge the weight",
        "2. Sum over every path",
        "3. Backprop",
        "4. Side by side",
    ):
        assert heading in out
    assert "All 6 paths" in out and "BP4: ∂C/∂w[2][1][1]" in out and "path sum" in out


def test_explain_says_when_the_paths_exceed_the_cap_but_still_counts_them():
    result = runner.invoke(
        app, ["explain", "--layers", "2,8,8,8,3", "--weight", "2,1,1", "--max-paths", "50"]
    )
    assert result.exit_code == 0, result.output
    message = " ".join(result.stdout.split())
    assert "192 paths exceed the cap of 50 (--max-paths), so they are not listed" in message
    assert "accumulated layer by layer" in message


def test_explain_from_a_spec_uses_the_chosen_row(tmp_path):
    result = runner.invoke(
        app, ["explain", str(spec_file(tmp_path)), "--sample", "4", "--weight", "3,2,1", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["sample"]["y"] in ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    assert data["paths"]["count"] == 3 * 3  # softmax output: z and a neuron


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["explain"], 1, "Give a SPEC file"),
        (["explain", "--layers", "2,3,2", "--weight", "4,1,1"], 1, "choose l from 2 to 3"),
        (
            ["explain", "--layers", "2,3,2", "--weight", "2,1"],
            1,
            "expected three comma-separated numbers",
        ),
        (["gradcheck", "--layers", "2,x"], 2, "positive layer sizes"),
        (
            ["gradcheck", "examples/quickstart.yaml", "--cost", "mse"],
            1,
            "--cost only go with --layers",
        ),
        (["gradcheck", "--layers", "2,3", "--set", "seed=2"], 1, "--set changes a SPEC file"),
        (
            ["gradcheck", "--layers", "2,3", "--activation", "sigmoidd"],
            2,
            "Closest registered activations: sigmoid",
        ),
        (
            ["gradcheck", "--layers", "2,3", "--activation", "{name: leaky-relu, alpha: -1}"],
            2,
            "alpha",
        ),
    ],
)
def test_bad_input_gets_a_one_paragraph_error(args, code, words):
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert words in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


@pytest.mark.skipif(not have_matplotlib(), reason="matplotlib (deltaw[plot]) not installed")
def test_plots_are_written_as_png(tmp_path):
    for command in (["explain", "--weight", "3,1,2"], ["gradcheck"]):
        target = tmp_path / f"{command[0]}.png"
        result = runner.invoke(app, [*command, "--layers", "2,3,3,2", "--plot", str(target)])
        assert result.exit_code == 0, result.output
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the tutorial's commands print what the tutorial shows -----------------------------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "backprop.md"


def doc_blocks(text: str) -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """The tutorial's files (```python blocks starting with '# NAME.py') and its console blocks."""
    files, consoles = {}, []
    for lang, body in re.findall(r"```(python|console)\n(.*?)```", text, flags=re.S):
        lines = body.rstrip("\n").split("\n")
        if lang == "python" and lines[0].startswith("# ") and lines[0].endswith(".py"):
            files[lines[0][2:]] = "\n".join(lines[1:]) + "\n"
        elif lang == "console":
            consoles.append((lines[0].removeprefix("$ "), lines[1:]))
    return files, consoles


def run_doc_command(command: str, files: dict[str, str]) -> tuple[int, str]:
    """Run a tutorial command in-process, 80 columns wide; `python FILE.py ARGS` runs FILE's code
    first."""
    words = shlex.split(command)
    if words[0] == "python":
        exec(compile(files[words[1]], words[1], "exec"), {"__name__": words[1].removesuffix(".py")})
    result = runner.invoke(
        app, words[2:] if words[0] == "python" else words[1:], env={"COLUMNS": "80"}
    )
    return result.exit_code, result.output


NUMBER = re.compile(r"(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)")
WHERE = re.compile(r"\b[a-zδσ]+(?:\[\d+\])+")  # w[4][3][4], b[4][3], a[2][1]: a position


def same_line(shown: str, actual: str) -> bool:
    """Equal text; numbers equal to 1e-4, or both below 1e-6 (rounding-level errors differ between
    BLAS builds).

    On a passing (✓) line, positions such as ``w[4][3][4]`` are not compared: there they name the
    parameter with the largest rounding error, which depends on BLAS threads and the CPU.

    Runs of spaces and of table rules count as one, so a column one character wider still matches.
    """

    def parts(line: str) -> list[str]:
        if "✓" in line:  # a passing row's "worst" entry names the largest rounding error: unstable
            line = WHERE.sub("·", line)
        return NUMBER.split(re.sub(r"([ ━─])\1+", r"\1", line.rstrip()))

    a, b = parts(shown), parts(actual)
    if len(a) != len(b):
        return False
    for i, (x, y) in enumerate(zip(a, b)):
        if i % 2 == 0:
            if x != y:
                return False
        elif not (
            float(x) == pytest.approx(float(y), rel=1e-4)
            or max(abs(float(x)), abs(float(y))) < 1e-6
        ):
            return False
    return True


def test_every_command_in_the_tutorial_prints_what_the_tutorial_shows(monkeypatch):
    monkeypatch.chdir(DOC.parents[1])  # the tutorial's paths are relative to the repository
    files, consoles = doc_blocks(DOC.read_text(encoding="utf-8"))
    assert len(consoles) >= 8 and "broken_tanh.py" in files
    for command, shown in consoles:
        reset_registry()  # each command on a fresh built-ins-only registry
        code, output = run_doc_command(command, files)
        assert code == (6 if any("Gradient check failed" in line for line in shown) else 0), (
            command,
            output,
        )
        actual = output.splitlines()
        start = 0
        for chunk in "\n".join(shown).split("\n...\n"):
            want = [line for line in chunk.strip("\n").split("\n") if line != "..."]
            found = next(
                (
                    i
                    for i in range(start, len(actual) - len(want) + 1)
                    if all(same_line(w, a) for w, a in zip(want, actual[i : i + len(want)]))
                ),
                None,
            )
            assert found is not None, (
                f"docs/backprop.md shows output that `{command}` no longer prints (first shown "
                f"line: {want[0]!r}). "
                f"Run it with COLUMNS=80 and paste the real output."
            )
            start = found + len(want)


def test_the_cli_defaults_are_the_library_defaults():
    from deltaw.cli import explain as explain_cmd
    from deltaw.cli import gradcheck as gradcheck_cmd
    from deltaw.core import explain, gradcheck

    assert (gradcheck_cmd.EPS, gradcheck_cmd.TOL, gradcheck_cmd.PER_PARAM) == (
        gradcheck.DEFAULT_EPS,
        gradcheck.DEFAULT_TOL,
        gradcheck.DEFAULT_PER_PARAM,
    )
    assert (explain_cmd.EPS, explain_cmd.DW, explain_cmd.MAX_PATHS, explain_cmd.TOP) == (
        gradcheck.DEFAULT_EPS,
        explain.DEFAULT_DW,
        explain.DEFAULT_MAX_PATHS,
        explain.DEFAULT_TOP,
    )


def test_relu_parameters_sitting_on_the_kink_are_reported_not_failed():
    args = [
        "gradcheck",
        "--layers",
        "3,4,2",
        "--activation",
        "relu",
        "--output-activation",
        "sigmoid",
        "--init",
        "zeros",
    ]  # zero weights: every z of the ReLU layer is exactly 0
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "16 parameter(s) at a kink were reported, not checked" in " ".join(result.stdout.split())
    data = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert [p["at_kinks"] for p in data["params"]] == [12, 4, 0, 0]
