"""Plugins in single files: `deltaw --plugins-dir DIR` / DELTAW_PLUGINS_DIR loads every *.py of
a folder as one plugin, each on its own, with the failure isolation of entry points. A student
writes a cost in one file and lists, trains, gradient-checks and sweeps with it."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from deltaw.cli import app
from deltaw.errors import DeltawPluginWarning, PluginError
from deltaw.registry import Registry, reset_registry
from deltaw.registry.local import ENV, module_name

cli_app = importlib.import_module("deltaw.cli.app")
runner = CliRunner()

FOCAL = '''"""A student's cost in one file: the binary focal loss (Lin et al., 2017)."""

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw


class Focal(deltaw.Cost):
    """Focal loss: C_x = -Σ_j [y (1-a)^γ log a + (1-y) a^γ log(1-a)].

    ∂C_x/∂a = y [γ(1-a)^(γ-1) log a - (1-a)^γ/a] + (1-y) [a^γ/(1-a) - γ a^(γ-1) log(1-a)].
    """

    domain = "unit"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        gamma: float = Field(2.0, ge=1, description="γ: how much easy samples are discounted")

    def value(self, a, y):
        g = self.params.gamma
        per = y * (1 - a) ** g * np.log(a) + (1 - y) * a**g * np.log(1 - a)
        return float(-per.sum(axis=1).mean())

    def gradient(self, a, y):
        g = self.params.gamma
        one = g * (1 - a) ** (g - 1) * np.log(a) - (1 - a) ** g / a
        zero = a**g / (1 - a) - g * a ** (g - 1) * np.log(1 - a)
        return y * one + (1 - y) * zero


@deltaw.hookimpl
def register_costs(register):
    register("focal", Focal)
'''

SPEC = {
    "name": "student",
    "seed": 2,
    "data": {"name": "moons", "samples": 200, "noise": 0.1},
    "network": {"layers": [2, 6, 2], "activation": "tanh", "output_activation": "sigmoid"},
    "cost": {"name": "focal", "gamma": 2.0},
    "optimizer": {"name": "adam", "lr": 0.01},
    "training": {"epochs": 2, "batch_size": 16},
}


@pytest.fixture(autouse=True)
def _clean(tmp_path, monkeypatch):
    """Every test starts without plugin folders and ends with the environment it found
    (``--plugins-dir`` sets DELTAW_PLUGINS_DIR for the process and the ones it starts)."""
    monkeypatch.delenv(ENV, raising=False)
    for var in ("DELTAW_STRICT_PLUGINS", "DELTAW_DISABLE_PLUGINS", "DELTAW_LOAD_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DELTAW_CACHE_DIR", str(tmp_path / "cache"))
    for console in (cli_app.out, cli_app.err):
        monkeypatch.setattr(console, "_width", 250)
    yield
    reset_registry()
    for name in [m for m in sys.modules if m.startswith("deltaw_local_")]:
        del sys.modules[name]


def deltaw(*args: object):
    reset_registry()  # every invocation is a new process as far as plugins go
    return runner.invoke(app, [str(a) for a in args])


def one_line(text: str) -> str:
    return " ".join(text.split())


def folder(root: Path, name: str, files: dict[str, str]) -> Path:
    where = root / name
    where.mkdir()
    for file, text in files.items():
        (where / file).write_text(text)
    return where


def spec_file(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def test_a_cost_in_one_file_is_listed_shown_trained_and_passes_gradcheck(tmp_path):
    plugins = folder(tmp_path, "plugins", {"focal.py": FOCAL})
    listed = deltaw("--plugins-dir", plugins, "plugins")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if " focal " in f" {line} ")
    assert "cost" in row and str(plugins / "focal.py") in row  # its origin is the file
    report = json.loads(deltaw("--plugins-dir", plugins, "plugins", "--json").stdout)
    assert {
        "name": "focal",
        "distribution": None,
        "version": None,
        "status": "loaded",
        "error": None,
        "registers": [{"kind": "cost", "name": "focal"}],
        "path": str(plugins / "focal.py"),
        "hooks": [],
    } in report["plugins"]

    shown = deltaw("--plugins-dir", plugins, "show", "cost", "focal")
    assert shown.exit_code == 0 and "Focal loss" in shown.output and "gamma" in shown.output

    run = deltaw(
        "--plugins-dir", plugins, "run", spec_file(tmp_path), "--out", tmp_path / "r", "-q"
    )
    assert run.exit_code == 0, run.output
    (metrics,) = (tmp_path / "r").glob("*/metrics.jsonl")
    assert len(metrics.read_text().splitlines()) == 2

    checked = deltaw("--plugins-dir", plugins, "gradcheck", spec_file(tmp_path), "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["passed"] is True
    assert os.environ[ENV] == str(plugins.resolve())  # for the processes it starts
    del os.environ[ENV]  # a new process, without the option
    assert "focal" not in deltaw("plugins").output


def test_a_slip_in_the_files_derivative_fails_gradcheck_naming_the_cost_and_gradient(tmp_path):
    slip = FOCAL.replace("- (1 - a) ** g / a", "- (1 - a) ** g / a**2")
    plugins = folder(tmp_path, "plugins", {"focal.py": slip})
    result = deltaw("--plugins-dir", plugins, "gradcheck", spec_file(tmp_path))
    assert result.exit_code == 6, result.output
    text = one_line(result.output)
    assert "cost 'focal(gamma=2.0)': gradient(a, y)/m gives" in text
    assert "but finite differences of value(a, y) give" in text


def test_the_variable_takes_several_folders_and_a_broken_file_is_reported_once_and_skipped(
    tmp_path, monkeypatch, recwarn
):
    good = folder(tmp_path, "good", {"focal.py": FOCAL})
    bad = folder(
        tmp_path,
        "bad",
        {
            "typo.py": "import deltaw\ndef register_costs(register)\n",
            "raises.py": "import deltaw\nraise RuntimeError('needs a GPU')\n",
            ".#focal.py": "an editor's lock file, not a plugin",
        },
    )
    monkeypatch.setenv(ENV, os.pathsep.join([str(good), "", str(bad)]))
    listed = deltaw("plugins")
    assert listed.exit_code == 0, listed.output
    out = one_line(listed.output)
    assert out.count("plugin 'raises' (from") == 1 and out.count("plugin 'typo' (from") == 1
    assert f"plugin 'raises' (from {bad / 'raises.py'}) failed to load and was skipped" in out
    assert f"RuntimeError: needs a GPU at {bad / 'raises.py'}:2" in out
    assert f"SyntaxError: expected ':' at {bad / 'typo.py'}:2" in out
    assert ".#focal" not in out
    assert "deltaw_local_raises" not in sys.modules  # a failed import leaves nothing behind
    validated = deltaw("validate", spec_file(tmp_path))
    assert validated.exit_code == 0, validated.output

    monkeypatch.setenv("DELTAW_STRICT_PLUGINS", "1")
    strict = deltaw("validate", spec_file(tmp_path))
    assert strict.exit_code == 3
    assert "plugin 'raises'" in one_line(strict.output) and "DELTAW_STRICT_PLUGINS" in strict.output


def test_a_file_plugin_is_disabled_by_its_name_and_two_files_cannot_share_one(tmp_path):
    plugins = folder(tmp_path, "plugins", {"focal.py": FOCAL})
    other = folder(tmp_path, "other", {"focal.py": FOCAL.replace('"focal"', '"focal2"')})
    disabled = deltaw(
        "--plugins-dir", plugins, "--disable-plugin", "focal", "validate", spec_file(tmp_path)
    )
    assert disabled.exit_code == 2
    assert "Unknown cost 'focal'" in one_line(disabled.output)

    both = deltaw("--plugins-dir", plugins, "--plugins-dir", other, "plugins")
    assert both.exit_code == 0
    assert (
        f"plugin 'focal' (from {other / 'focal.py'}) failed to load and was skipped: another "
        f"plugin is already called 'focal' ({plugins / 'focal.py'})" in one_line(both.output)
    )


def test_a_folder_that_does_not_exist_is_a_usage_error_or_a_reported_problem(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    option = deltaw("--plugins-dir", missing, "plugins")
    assert option.exit_code == 2 and "does not exist" in one_line(option.output)
    monkeypatch.setenv(ENV, str(missing))
    with pytest.warns(DeltawPluginWarning, match="is not a folder"):
        reg = Registry()
        reg.load_builtins()
        reg.load_entrypoints()
    assert reg.plugins[str(missing)].status == "failed"
    monkeypatch.setenv("DELTAW_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="nowhere is not a folder"):
        Registry().load_entrypoints()


def test_a_file_plugin_that_raises_while_training_is_named_with_its_file(tmp_path):
    raising = FOCAL.replace(
        "g = self.params.gamma\n        one", "raise ValueError('oops')\n        one"
    )
    plugins = folder(tmp_path, "plugins", {"focal.py": raising})
    result = deltaw("--plugins-dir", plugins, "run", spec_file(tmp_path), "--out", tmp_path / "r")
    assert result.exit_code == 3, result.output
    text = one_line(result.output)
    assert (
        f"plugin 'focal' (file {plugins / 'focal.py'}) raised ValueError in Focal.gradient" in text
    )


def test_the_module_of_a_file_is_named_after_it_and_imported_once_per_registry(tmp_path):
    plugins = folder(tmp_path, "plugins", {"focal.py": FOCAL})
    assert module_name(plugins / "focal.py") == "deltaw_local_focal"
    assert deltaw("--plugins-dir", plugins, "plugins").exit_code == 0
    entry = cli_app.registry().entry("cost", "focal")
    assert entry.cls.__module__ == "deltaw_local_focal"
    assert sys.modules["deltaw_local_focal"].Focal is entry.cls


@pytest.mark.slow
def test_the_processes_of_a_sweep_load_the_same_plugin_files(tmp_path):
    plugins = folder(tmp_path, "plugins", {"focal.py": FOCAL})
    spec = spec_file(
        tmp_path,
        sweep={
            "grid": {"cost.gamma": [1.0, 3.0]},
            "executor": {"name": "local", "start_method": "spawn"},
            "workers": 2,
        },
    )
    result = deltaw("--plugins-dir", plugins, "sweep", spec, "--out", tmp_path / "s", "--json")
    assert result.exit_code == 0, result.output
    trials = [json.loads(p.read_text()) for p in (tmp_path / "s").glob("*/*/run.json")]
    assert len(trials) == 2 and {t["status"] for t in trials} == {"completed"}, trials
