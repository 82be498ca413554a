"""deltaw new-plugin: the package it writes registers, keeps the contract, trains, and its own
tests catch a broken derivative; installed into a fresh environment it passes its tests unchanged."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

from deltaw import testing
from deltaw.errors import DeltawError
from deltaw.registry import Registry
from deltaw.scaffold import TEMPLATE_KINDS, names_for, new_plugin
from deltaw.spec.loading import load_spec

CHECKS = {
    "cost": testing.check_cost,
    "activation": testing.check_activation,
    "optimizer": testing.check_optimizer,
    "regularizer": testing.check_regularizer,
    "initializer": lambda cls: testing.check_initializer(
        cls, expected_mean=0.0, expected_var=lambda fan_in, fan_out: 1.0 / fan_in
    ),
}


@pytest.fixture
def imported(monkeypatch):
    """Import a generated package from its src/ folder; forget it afterwards."""
    loaded: list[str] = []

    def load(folder: Path, package: str):
        monkeypatch.syspath_prepend(str(folder / "src"))
        loaded.append(package)
        return importlib.import_module(package)

    yield load
    for package in loaded:
        sys.modules.pop(package, None)


def test_names_follow_the_convention():
    assert names_for("my-cost") == ("my-cost", "deltaw-my-cost", "deltaw_my_cost", "MyCost")
    assert names_for("deltaw-lion") == ("lion", "deltaw-lion", "deltaw_lion", "Lion")
    assert names_for("Focal_Loss2") == (
        "focal-loss2",
        "deltaw-focal-loss2",
        "deltaw_focal_loss2",
        "FocalLoss2",
    )
    for bad in ("", "2fast", "my cost", "my--cost", "-x", "deltaw-"):
        with pytest.raises(DeltawError, match="not a usable plugin name"):
            names_for(bad)


@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_a_new_plugin_of_every_kind_registers_keeps_the_contract_and_its_example_validates(
    kind, tmp_path, imported
):
    made = new_plugin(
        f"my-{kind}", kind, tmp_path / f"my-{kind}", description="Testing the template."
    )
    folder = made.folder
    assert sorted(p.as_posix() for p in made.files) == sorted(
        [
            "pyproject.toml",
            "README.md",
            ".gitignore",
            "example.yaml",
            f"src/deltaw_my_{kind}/__init__.py",
            f"tests/test_my_{kind}.py",
        ]
    )
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    assert project["project"]["name"] == f"deltaw-my-{kind}"
    assert project["project"]["entry-points"]["deltaw"] == {f"my-{kind}": f"deltaw_my_{kind}"}
    assert any(dep.startswith("deltaw>=") for dep in project["project"]["dependencies"])
    for path in folder.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(), f"unfilled template marker in {path}"
    compile((folder / "tests" / f"test_my_{kind}.py").read_text(), "test", "exec")

    module = imported(folder, made.package)
    reg = Registry()
    reg.load_builtins()
    info = reg.register_plugin(module, made.name)
    assert info.registers == [(kind, f"my-{kind}")]
    entry = reg.entry(kind, f"my-{kind}")
    assert (
        entry.summary and entry.cls.__doc__.count("\n") > 2
    )  # documented for `deltaw plugins` / `deltaw show`
    if kind in CHECKS:
        CHECKS[kind](entry.cls)
    resolved, _ = load_spec(folder / "example.yaml", registry=reg)
    assert any(r.entry.cls is entry.cls for r in resolved.plugins.values())
    assert f"my-{kind}" in (folder / "README.md").read_text()


def test_a_broken_derivative_fails_the_contract_check_and_the_generated_test_saying_where(
    tmp_path, imported
):
    made = new_plugin("my-cost", "cost", tmp_path / "my-cost")
    source = made.module_path.read_text()
    right = "return self.params.scale * (a - y)"
    assert right in source
    made.module_path.write_text(
        source.replace(right, "return 2 * self.params.scale * (a - y)")
    )  # the slip

    module = imported(made.folder, made.package)
    with pytest.raises(AssertionError) as exc:
        testing.check_cost(module.MyCost)
    message = str(exc.value)
    assert message.startswith("check_cost(MyCost(scale=1.0), setting 1 of 4): gradient at a[")
    assert "finite differences of m·value" in message and "relative error" in message

    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTAW_")} | {
        "PYTHONPATH": str(made.folder / "src")
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "finite_differences",
        ],
        cwd=made.folder,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "check_cost(MyCost(scale=1.0)): gradient at a[" in proc.stdout and "1 failed" in proc.stdout
    )


def test_new_plugin_never_overwrites_and_leaves_nothing_behind_when_it_fails(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(DeltawError, match="already exists and is not empty"):
        new_plugin("taken", "cost", tmp_path / "taken")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert new_plugin("empty", "metric", tmp_path / "empty").folder == tmp_path / "empty"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "empty",
        "taken",
    ]  # no staging folder left over
    with pytest.raises(
        DeltawError, match="no template for the kind 'optimiser'. Kinds: optimizer, cost"
    ):
        new_plugin("x", "optimiser", tmp_path / "x")


@pytest.mark.slow
def test_generated_packages_of_every_kind_install_into_a_fresh_venv_and_pass_their_own_tests(
    tmp_path,
):
    started = time.perf_counter()
    from test_plugins_e2e import (
        Venv,  # a fresh venv that sees this environment's packages, offline pip
    )

    venv = Venv(tmp_path)
    python, env = venv.python, venv.env
    folders = [
        new_plugin(f"my-{kind}", kind, tmp_path / f"my-{kind}").folder for kind in TEMPLATE_KINDS
    ]
    venv.run(python, "-m", "pip", "install", "--no-deps", "-q", *folders)

    listed = venv.run(python, "-m", "deltaw", "plugins", "--json")
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    for kind in TEMPLATE_KINDS:  # found through their entry points, from the installed copies
        p = plugins[f"my-{kind}"]
        assert (p["status"], p["distribution"], p["version"]) == (
            "loaded",
            f"deltaw-my-{kind}",
            "0.1.0",
        ), p
        assert p["registers"] == [{"kind": kind, "name": f"my-{kind}"}]

    for folder in folders:  # unchanged tests, the installed package (src/ is not on the path)
        (folder / "src").rename(folder / "src-not-used")
    tests = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::RuntimeWarning",
            *(str(f / "tests") for f in folders),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    print(
        f"\n{len(folders)} generated packages installed and tested in {time.perf_counter() - started:.1f}s: "
        f"{tests.stdout.strip().splitlines()[-1]}"
    )
