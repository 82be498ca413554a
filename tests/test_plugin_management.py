"""Managing plugins from the command line: plugins, show, --disable-plugin, broken plugins,
install/uninstall through this interpreter's pip, new-plugin, schema; the pytest fixtures; the hook
docs."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from test_registry import LION, Site
from typer.testing import CliRunner

from deltaw.cli import app
from deltaw.registry import hookspecs, install, reset_registry

cli_app = importlib.import_module(
    "deltaw.cli.app"
)  # the module (deltaw.cli.app is also the Typer app's name)
ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

SPEC = {
    "name": "tiny",
    "seed": 1,
    "data": {"name": "xor", "samples": 80},
    "network": {"layers": [2, 4, 2], "activation": "tanh", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "lion", "lr": 0.01},
    "training": {"epochs": 2, "batch_size": 8},
}


@pytest.fixture
def site(tmp_path, monkeypatch):
    s = Site(tmp_path / "site", monkeypatch)
    yield s
    s.cleanup()


@pytest.fixture(autouse=True)
def _own_cache_dir_and_wide_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("DELTAW_CACHE_DIR", str(tmp_path / "cache"))
    for console in (cli_app.out, cli_app.err):  # one table row per line, as in a wide terminal
        monkeypatch.setattr(console, "_width", 250)
    monkeypatch.delenv("DELTAW_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("DELTAW_STRICT_PLUGINS", raising=False)


def deltaw(*args: object):
    reset_registry()  # every invocation is a new process as far as plugins go
    return runner.invoke(app, [str(a) for a in args])


def spec_file(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- deltaw plugins / show -------------------------------------------------------------------------


def test_plugins_lists_each_plugin_with_distribution_version_status_and_what_it_registers(site):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION}, version="0.3.1")
    result = deltaw("plugins")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "lion" in line]
    assert any(
        "optimizer" in r and "lion" in r and "deltaw-lion 0.3.1" in r for r in rows
    )  # a registered name
    assert any(
        re.search(r"lion\s.*deltaw-lion\s.*0\.3\.1\s.*loaded\s.*optimizer: lion", r) for r in rows
    )  # the plugin
    assert re.search(r"deltaw\s.*deltaw\s.*loaded\s.*\d+ costs", result.output)


def test_plugins_json_has_every_plugin_and_name(site):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    result = deltaw("plugins", "--json")
    report = json.loads(result.stdout)
    assert {
        "name": "lion",
        "distribution": "deltaw-lion",
        "version": "1.0",
        "status": "loaded",
        "error": None,
        "registers": [{"kind": "optimizer", "name": "lion"}],
        "path": None,
        "hooks": [],
    } in report["plugins"]
    only = json.loads(deltaw("plugins", "optimizer", "--json").stdout)
    assert {n["kind"] for n in only["names"]} == {"optimizer"} and "lion" in {
        n["name"] for n in only["names"]
    }


def test_a_broken_plugin_does_not_break_help_plugins_or_validate(site, tmp_path):
    site.add(
        "deltaw-broken", {"broken": "broken_mod"}, {"broken_mod": "raise RuntimeError('kaput')\n"}
    )
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    assert deltaw("--help").exit_code == 0
    listed = deltaw("plugins")
    assert listed.exit_code == 0
    assert re.search(r"broken\s.*deltaw-broken\s.*failed\s.*RuntimeError: kaput", listed.output)
    assert listed.output.count("failed to load and was skipped") == 1  # reported once, on stderr
    assert "DeltawPluginWarning" not in listed.output  # as a message, not as a Python warning
    checked = deltaw("validate", spec_file(tmp_path))
    assert checked.exit_code == 0, checked.output
    assert "name: lion" in checked.stdout


def test_strict_mode_makes_a_broken_plugin_a_plugin_error_exit_code(site, tmp_path, monkeypatch):
    site.add(
        "deltaw-broken", {"broken": "broken_mod"}, {"broken_mod": "raise RuntimeError('kaput')\n"}
    )
    monkeypatch.setenv("DELTAW_STRICT_PLUGINS", "1")
    result = deltaw("validate", spec_file(tmp_path, optimizer="sgd"))
    assert result.exit_code == 3
    assert (
        "plugin 'broken' (from deltaw-broken 1.0) failed to load" in one_line(result.output)
        and "Traceback" not in result.output
    )
    assert deltaw("--help").exit_code == 0  # --help never loads plugins


def test_disable_plugin_option_disables_it_and_a_spec_naming_it_says_so(site, tmp_path):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    assert deltaw("validate", spec_file(tmp_path)).exit_code == 0  # loaded once: remembered
    listed = deltaw("--disable-plugin", "lion", "plugins")
    assert re.search(r"lion\s.*disabled\s.*named in --disable-plugin", listed.output)
    result = deltaw("--disable-plugin", "lion", "validate", spec_file(tmp_path))
    assert result.exit_code == 2
    text = one_line(result.output)
    assert "Unknown optimizer 'lion' at optimizer." in text
    assert (
        "provided by plugin 'lion' of the package deltaw-lion 1.0, which is disabled (named in "
        "--disable-plugin)" in text
    )


def test_two_plugins_with_one_name_are_flagged_in_the_list_and_a_qualified_name_works_in_a_spec(
    site, tmp_path
):
    site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION})
    site.add("deltaw-lion-fork", {"fork": "lion_mod2"}, {"lion_mod2": LION})
    listed = deltaw("plugins")
    assert (
        "Ambiguous: optimizer 'lion' is registered by deltaw-lion-fork 1.0 ('fork:lion') and "
        "deltaw-lion 1.0 ('lion:lion')" in one_line(listed.output)
    )
    ambiguous = deltaw("validate", spec_file(tmp_path))
    assert ambiguous.exit_code == 2
    assert "registered by more than one plugin" in one_line(ambiguous.output)
    picked = deltaw("validate", spec_file(tmp_path, optimizer={"name": "fork:lion", "lr": 0.01}))
    assert picked.exit_code == 0, picked.output
    trained = deltaw(
        "run", spec_file(tmp_path, optimizer="deltaw-lion:lion"), "--out", tmp_path / "runs", "-q"
    )
    assert trained.exit_code == 0, trained.output


def test_show_documents_a_plugin_with_its_origin_and_parameters():
    result = deltaw("show", "optimizer", "adam")
    assert result.exit_code == 0
    assert "optimizer adam" in result.output and "plugin 'deltaw', built-in" in result.output
    assert re.search(r"beta1\s.*float\s.*0\.9", result.output)
    unknown = deltaw("show", "optimizer", "adamm")
    assert unknown.exit_code == 2 and "Closest registered optimizers: adam" in one_line(
        unknown.output
    )


# -- install / uninstall ---------------------------------------------------------------------------


@pytest.fixture
def fake_pip(monkeypatch, site):
    """pip that 'installs' deltaw-lion into the fake site (or removes it) and records its command
    line."""
    calls: list[list[str]] = []

    def call(cmd, *args, **kwargs):
        calls.append(cmd)
        action = cmd[3]
        if action == "install":
            site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": LION}, version="0.2.0")
        else:
            info = site.root / "deltaw_lion-0.2.0.dist-info"
            for f in info.iterdir():
                f.unlink()
            info.rmdir()
        return 0

    monkeypatch.setattr(install.subprocess, "call", call)
    monkeypatch.setenv(
        "PYTHONPATH", str(site.root)
    )  # the child `deltaw plugins --json` sees the fake site too
    site.allow("lion")
    return calls


def test_install_runs_pip_of_this_interpreter_and_reports_the_new_plugin_as_loaded(fake_pip):
    result = deltaw("install", "deltaw-lion", "-U", "--pre", "-e", "./somewhere")
    assert result.exit_code == 0, result.output
    assert fake_pip == [
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--upgrade",
            "--pre",
            "deltaw-lion",
            "-e",
            "./somewhere",
        ]
    ]
    assert "Plugin 'lion' (deltaw-lion 0.2.0) loaded: optimizer lion" in one_line(result.output)


def test_after_uninstall_a_spec_naming_its_plugin_says_which_package_is_missing(fake_pip, tmp_path):
    assert deltaw("install", "deltaw-lion").exit_code == 0
    removed = deltaw("uninstall", "deltaw-lion", "-y")
    assert removed.exit_code == 0, removed.output
    assert fake_pip[-1] == [sys.executable, "-m", "pip", "uninstall", "--yes", "deltaw-lion"]
    assert "Removed plugin 'lion' (deltaw-lion 0.2.0)" in removed.output
    result = deltaw("validate", spec_file(tmp_path))
    assert result.exit_code == 2
    text = one_line(result.output)
    assert f"{tmp_path / 'spec.yaml'}: 1 problem in the spec" in text
    assert "Unknown optimizer 'lion' at optimizer." in text
    assert (
        "provided by plugin 'lion' of the package deltaw-lion 0.2.0, which is not installed" in text
    )
    assert (
        "`deltaw install deltaw-lion`" in text
        and "Closest registered optimizers:" in text
        and "`deltaw plugins`" in text
    )


def reinstall_broken(monkeypatch, site):
    """pip that reinstalls deltaw-lion 0.2.0 over itself, now with a module that cannot import."""

    def call(cmd, *args, **kwargs):
        info = site.root / "deltaw_lion-0.2.0.dist-info"
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
        broken = "import numpy\nraise ImportError('deltaw_lion needs scipy')\n"
        site.add("deltaw-lion", {"lion": "lion_mod"}, {"lion_mod": broken}, version="0.2.0")
        return 0

    monkeypatch.setattr(install.subprocess, "call", call)


@pytest.mark.parametrize("strict", ["", "1"])
def test_reinstalling_a_plugin_that_now_fails_to_load_is_an_error(
    fake_pip, site, monkeypatch, strict
):
    assert deltaw("install", "deltaw-lion").exit_code == 0
    reinstall_broken(monkeypatch, site)
    monkeypatch.setenv("DELTAW_STRICT_PLUGINS", strict)
    result = deltaw("install", "--force-reinstall", "deltaw-lion")
    assert result.exit_code == 3, result.output
    text = one_line(result.output)
    assert "Plugin 'lion' (deltaw-lion 0.2.0) failed: cannot import 'lion_mod'" in text
    assert "ImportError: deltaw_lion needs scipy" in text
    assert "pip installed deltaw-lion 0.2.0, but deltaw cannot load its plugin 'lion'" in text
    assert "`deltaw uninstall deltaw-lion`" in text


def test_installing_an_unchanged_plugin_again_still_checks_that_it_loads(fake_pip, monkeypatch):
    assert deltaw("install", "deltaw-lion").exit_code == 0
    monkeypatch.setattr(install.subprocess, "call", lambda cmd: 0)  # "already satisfied"
    result = deltaw("install", "Deltaw_Lion>=0.1")
    assert result.exit_code == 0, result.output
    assert "Plugin 'lion' (deltaw-lion 0.2.0) loaded: optimizer lion" in one_line(result.output)
    nothing = deltaw("install", "numpy")
    assert nothing.exit_code == 0 and "None of the packages pip installed is a deltaw plugin" in (
        one_line(nothing.output)
    )


def test_force_reinstall_reinstalls_the_named_packages_never_deltaw_or_numpy(fake_pip, monkeypatch):
    install_once = install.subprocess.call

    def call(cmd):  # the second call finds deltaw-lion installed: it only records
        return (fake_pip.append(cmd) or 0) if fake_pip else install_once(cmd)

    monkeypatch.setattr(install.subprocess, "call", call)
    result = deltaw("install", "--force-reinstall", "-U", "deltaw-lion", "-e", "./mine")
    assert result.exit_code == 0, result.output
    pip = [sys.executable, "-m", "pip", "install"]
    assert fake_pip == [
        # pip's --force-reinstall alone would reinstall every dependency, deltaw included
        [*pip, "--upgrade", "--force-reinstall", "--no-deps", "deltaw-lion", "-e", "./mine"],
        [*pip, "--upgrade", "deltaw-lion", "-e", "./mine"],  # only what is missing
    ]
    assert "Plugin 'lion' (deltaw-lion 0.2.0) loaded: optimizer lion" in one_line(result.output)


def test_force_reinstall_stops_at_the_first_pip_call_that_fails(monkeypatch):
    calls = []
    monkeypatch.setattr(install.subprocess, "call", lambda cmd: calls.append(cmd) or 2)
    result = deltaw("install", "--force-reinstall", "deltaw-lion")
    assert result.exit_code == 2 and "pip failed (exit code 2)" in result.output
    assert len(calls) == 1 and "--no-deps" in calls[0]


def test_pip_failing_is_reported_with_its_exit_code(monkeypatch):
    monkeypatch.setattr(install.subprocess, "call", lambda cmd: 1)
    result = deltaw("install", "deltaw-nonexistent")
    assert result.exit_code == 1 and "pip failed (exit code 1)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["uninstall", "deltaw"], "removes plugins, not deltaw itself"),
        (["uninstall", "DeltaW>=0.1"], "removes plugins, not deltaw itself"),
        (["install"], "Name at least one package to install"),
    ],
)
def test_install_and_uninstall_refuse_what_they_should_not_do(monkeypatch, args, message):
    monkeypatch.setattr(install.subprocess, "call", lambda cmd: pytest.fail(f"pip was run: {cmd}"))
    result = deltaw(*args)
    assert result.exit_code == 3 and message in one_line(result.output)


def test_install_without_pip_in_the_environment_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(install.importlib.util, "find_spec", lambda name: None)
    result = deltaw("install", "deltaw-lion")
    assert (
        result.exit_code == 3
        and "-m ensurepip" in one_line(result.output)
        and sys.executable in one_line(result.output)
    )


# -- new-plugin and schema from the command line ---------------------------------------------------


def test_new_plugin_writes_a_package_and_says_what_to_do_next(tmp_path):
    result = deltaw(
        "new-plugin", "my-cost", "--kind", "cost", "--dir", tmp_path / "my-cost", "--author", "Ada"
    )
    assert result.exit_code == 0, result.output
    text = one_line(result.output)
    assert "(plugin 'my-cost', package deltaw-my-cost): cost 'my-cost' (MyCost)" in text
    assert "deltaw install -e" in text and "cost: my-cost" in text
    assert (tmp_path / "my-cost" / "src" / "deltaw_my_cost" / "cost.py").is_file()
    assert 'authors = [{ name = "Ada" }]' in (tmp_path / "my-cost" / "pyproject.toml").read_text()
    again = deltaw("new-plugin", "my-cost", "--kind", "cost", "--dir", tmp_path / "my-cost")
    assert again.exit_code == 1 and "already exists and is not empty" in one_line(again.output)
    assert "Warning" not in result.output  # my-cost shadows no built-in


def test_new_plugin_warns_when_the_name_shadows_a_builtin(tmp_path):
    result = deltaw("new-plugin", "sgd", "--kind", "optimizer", "--dir", tmp_path / "sgd")
    assert result.exit_code == 0, result.output
    text = one_line(result.output)
    assert "Warning: optimizer 'sgd' is also a built-in of deltaw, and your plugin shadows it." in (
        text
    )
    assert "'deltaw:sgd' is the built-in" in text and "a default a spec leaves out" in text
    assert (tmp_path / "sgd" / "pyproject.toml").is_file()
    other_kind = deltaw("new-plugin", "sgd", "--kind", "cost", "--dir", tmp_path / "sgd-cost")
    assert other_kind.exit_code == 0 and "Warning" not in other_kind.output


def test_new_plugin_writes_several_kinds_with_their_own_names_and_adds_more(tmp_path):
    made = deltaw(
        "new-plugin", "focal-loss", "-k", "cost", "-k", "metric", "--name", "cost=focal",
        "--dir", tmp_path / "pkg",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    text = one_line(made.output)
    assert "(plugin 'focal-loss', package deltaw-focal-loss): cost 'focal' (FocalCost), " in text
    assert "metric 'focal-loss' (FocalLossMetric)" in text
    assert "cost: focal" in text and "metrics: [cost, accuracy, focal-loss]" in text
    added = deltaw("new-plugin", "--add-kind", "optimizer", "-n", "focal-sgd", tmp_path / "pkg")
    assert added.exit_code == 0, added.output
    assert "Added to" in added.output and "optimizer 'focal-sgd' (FocalSgdOptimizer)" in one_line(
        added.output
    )
    init = (tmp_path / "pkg" / "src" / "deltaw_focal_loss" / "__init__.py").read_text()
    assert "from deltaw_focal_loss.optimizer import FocalSgdOptimizer, register_optimizers" in init
    again = deltaw("new-plugin", "--add-kind", "cost", tmp_path / "pkg")
    assert again.exit_code == 1 and "already has register_costs" in one_line(again.output)
    mixed = deltaw("new-plugin", "--add-kind", "cost", "--kind", "metric", tmp_path / "pkg")
    assert mixed.exit_code == 1 and "takes no --kind" in one_line(mixed.output)


def test_new_plugin_warns_of_each_name_that_shadows_a_builtin(tmp_path):
    result = deltaw(
        "new-plugin", "sgd", "-k", "optimizer", "-k", "cost", "-k", "metric",
        "-n", "metric=accuracy", "--dir", tmp_path / "sgd",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = one_line(result.output)
    assert "Warning: optimizer 'sgd' is also a built-in of deltaw" in text
    assert "Warning: metric 'accuracy' is also a built-in of deltaw" in text
    assert "Warning: cost 'sgd'" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["new-plugin", "My Cost!"], "is not a usable plugin name"),
        (["new-plugin", "my-thing", "--kind", "executor"], "no template for the kind 'executor'"),
        (["new-plugin", "my-thing", "-k", "cost", "-k", "cost"], "the kind 'cost' is given twice"),
        (["new-plugin", "my-thing", "--name", "cost=x"], "names the kind 'cost', which is not"),
        (["new-plugin", "my-thing", "--name", "Focal!"], "is not a usable registered name"),
        (
            ["new-plugin", "x", "-k", "optimizer", "-k", "transform", "-n", "x"],
            "the optimizer and the transform would both register 'x'",
        ),
    ],
)
def test_new_plugin_rejects_bad_names_and_kinds_clearly(tmp_path, args, message):
    result = deltaw(*args, "--dir", tmp_path / "x")
    assert result.exit_code == 1 and message in one_line(result.output)
    assert not (tmp_path / "x").exists()


def test_schema_goes_to_stdout_or_to_a_file(tmp_path):
    printed = deltaw("schema")
    assert printed.exit_code == 0
    schema = json.loads(printed.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    written = deltaw("schema", "-o", tmp_path / "deltaw.schema.json")
    assert written.exit_code == 0 and "yaml-language-server: $schema=" in written.output
    assert json.loads((tmp_path / "deltaw.schema.json").read_text()) == schema
    failed = deltaw("schema", "-o", tmp_path / "missing" / "s.json")
    # a file system fault is exit code 7, naming the path and the cause (docs/reliability.md)
    assert failed.exit_code == 7 and "Cannot write" in one_line(failed.output)
    assert "no such file or folder" in one_line(failed.output)


# -- the pytest plugin -----------------------------------------------------------------------------


def test_the_pytest_fixtures_register_a_plugin_for_one_test_only(tmp_path):
    """Run in a separate pytest, so deltaw's pytest11 entry point is what provides the fixtures."""
    (tmp_path / "test_fixture_use.py").write_text(
        textwrap.dedent("""
        import types
        import deltaw
        from deltaw.plugins.costs import Quadratic
        from deltaw.registry import get_registry

        @deltaw.hookimpl
        def register_costs(register):
            register("fixture-cost", Quadratic)

        PLUGIN = types.SimpleNamespace(register_costs=register_costs)

        def test_1_registered_for_this_test(deltaw_plugin, deltaw_cli):
            info = deltaw_plugin(PLUGIN, name="fixture-plugin")
            assert info.registers == [("cost", "fixture-cost")]
            assert get_registry().entry("cost", "fixture-cost").plugin.name == "fixture-plugin"
            shown = deltaw_cli("show", "cost", "fixture-cost")
            assert shown.exit_code == 0 and "fixture-plugin" in shown.output

        def test_2_gone_in_the_next_test(deltaw_registry):
            assert "fixture-cost" not in deltaw_registry.names("cost")
            assert get_registry() is deltaw_registry
            assert set(deltaw_registry.plugins) == {"deltaw"}  # built-ins only, nothing installed

        def test_3_a_broken_plugin_fails_the_test_with_the_reason(deltaw_plugin):
            import pytest
            from deltaw.errors import PluginError
            with pytest.raises(PluginError, match="must be a subclass of deltaw.Cost"):
                hook = deltaw.hookimpl(lambda register: register("x", int))
                deltaw_plugin(types.SimpleNamespace(register_costs=hook), name="bad")
    """)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


def test_importing_the_pytest_plugin_imports_nothing_heavy():
    """Every pytest run in an environment with deltaw imports it: its fixtures import lazily."""
    code = (
        "import sys, pytest; before = set(sys.modules); import deltaw.pytest_plugin; "
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    added = set(ast.literal_eval(out.stdout.strip()))
    assert not added & {"numpy", "pydantic", "pluggy", "typer", "deltaw.registry", "deltaw.cli"}, (
        added
    )
    assert added <= {"deltaw", "deltaw.pytest_plugin"} | {
        m for m in added if m.startswith("typing")
    }, added


# -- docs ------------------------------------------------------------------------------------------


def test_every_hook_is_documented_in_docs_plugins_md_with_its_signature():
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    import inspect

    hooks = [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "deltaw_spec")
    ]
    assert len(hooks) >= 14
    missing = []
    for name in hooks:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        if f"{name}({params})" not in doc:
            missing.append(f"{name}({params})")
    assert not missing, (
        "docs/plugins.md does not document these hooks (write their signatures as shown): "
        f"{missing}"
    )
