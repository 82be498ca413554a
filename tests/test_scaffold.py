"""deltaw new-plugin: the package it writes — one kind or many, with registered names of their
own — registers, keeps the contract, validates its examples, passes deltaw's lint rules, and its
own tests catch a broken derivative naming the method; kinds can be added to a package later;
installed into a fresh environment, a package with every kind passes its tests unchanged."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

from deltaw import testing
from deltaw.errors import DeltawError
from deltaw.registry import Registry
from deltaw.scaffold import (
    TEMPLATE_KINDS,
    add_kinds,
    class_name_for,
    names_for,
    new_plugin,
    parse_names,
    shadowed_builtins,
)
from deltaw.spec.links import link_refs
from deltaw.spec.loading import load_spec

ROOT = Path(__file__).resolve().parent.parent

# the deltaw.testing check each kind's generated test calls (the lead merges h-kit's new ones)
KIT_CHECKS = {
    "metric": "check_metric",
    "dataset": "check_dataset",
    "schedule": "check_schedule",
    "callback": "check_callback",
    "transform": "check_transform",
}
CHECKS = {
    "cost": testing.check_cost,
    "activation": testing.check_activation,
    "optimizer": testing.check_optimizer,
    "regularizer": testing.check_regularizer,
    "initializer": lambda cls: testing.check_initializer(
        cls, expected_mean=0.0, expected_var=lambda fan_in, fan_out: 1.0 / fan_in
    ),
}
A_BEFORE_VOWEL = re.compile(r"\b[Aa] (activation|initializer|optimizer|update|example)\b")


@pytest.fixture
def imported(monkeypatch):
    """Import a generated package from its src/ folder; forget it afterwards."""
    loaded: list[str] = []

    def load(folder: Path, package: str):
        monkeypatch.syspath_prepend(str(folder / "src"))
        loaded.append(package)
        return importlib.import_module(package)

    yield load
    for name in [m for m in sys.modules if any(m.partition(".")[0] == p for p in loaded)]:
        sys.modules.pop(name, None)


def registry_with(module, plugin: str) -> Registry:
    reg = Registry()
    reg.load_builtins()
    reg.register_plugin(module, plugin)
    return reg


def ruff(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """ruff, as deltaw's `test` extra installs it, run in ``folder`` (its pyproject's rules)."""
    exe = shutil.which("ruff")
    cmd = [exe] if exe else [sys.executable, "-m", "ruff"]
    return subprocess.run(
        [*cmd, *args, "--no-cache", "."], cwd=folder, capture_output=True, text=True
    )


def assert_lint_clean(folder: Path) -> None:
    checked = ruff(folder, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff(folder, "format", "--check")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


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
    assert class_name_for("focal", "cost") == "FocalCost"
    assert class_name_for("my-cost", "cost") == "MyCost"
    assert class_name_for("ema", "transform") == "EmaTransform"
    kinds = ["cost", "metric", "optimizer"]
    assert parse_names(["cost=focal", "kit"], kinds) == {
        "cost": "focal",
        "metric": "kit",
        "optimizer": "kit",
    }
    assert parse_names([], kinds) == {}
    with pytest.raises(DeltawError, match="names the kind 'schedule', which is not one"):
        parse_names(["schedule=x"], kinds)


@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_a_new_plugin_of_every_kind_registers_keeps_the_contract_and_its_example_validates(
    kind, tmp_path, imported
):
    made = new_plugin(f"my-{kind}", kind, tmp_path / "pkg", description="Testing the template.")
    folder, module = made.folder, f"deltaw_my_{kind}"
    assert sorted(p.as_posix() for p in made.files) == sorted(
        [
            "pyproject.toml",
            "README.md",
            ".gitignore",
            f"src/{module}/__init__.py",
            f"src/{module}/{kind}.py",
            f"tests/test_{kind}.py",
            f"examples/{kind}.yaml",
        ]
    )
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    assert project["project"]["name"] == f"deltaw-my-{kind}"
    assert project["project"]["entry-points"]["deltaw"] == {f"my-{kind}": module}
    assert any(dep.startswith("deltaw>=") for dep in project["project"]["dependencies"])
    for path in folder.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(), f"unfilled template marker in {path}"
    test_source = (folder / "tests" / f"test_{kind}.py").read_text()
    compile(test_source, "test", "exec")
    if kind in KIT_CHECKS:  # the generated test uses deltaw.testing's check of its kind
        assert f"{KIT_CHECKS[kind]}({made.parts[0].class_name})" in test_source

    package = imported(folder, made.package)
    reg = registry_with(package, made.plugin)
    assert reg.plugins[made.plugin].registers == [(kind, f"my-{kind}")]
    entry = reg.entry(kind, f"my-{kind}")
    assert entry.cls is getattr(package, made.parts[0].class_name)
    assert entry.summary and entry.cls.__doc__.count("\n") > 2  # for `plugins` and `show`
    if kind in CHECKS:
        CHECKS[kind](entry.cls)
    resolved, _ = load_spec(folder / "examples" / f"{kind}.yaml", registry=reg)
    used = [r.entry.cls for r in resolved.plugins.values()]
    used += [type(link.build()) for _, _, link in link_refs(resolved.plugins)]  # a chain's links
    assert entry.cls in used
    assert f"my-{kind}" in (folder / "README.md").read_text()


def test_a_package_with_every_kind_passes_lint_registers_each_and_speaks_english(
    tmp_path, imported
):
    made = new_plugin("kit", TEMPLATE_KINDS, tmp_path / "kit", names={"cost": "kit-loss"})
    assert_lint_clean(made.folder)
    package = imported(made.folder, made.package)
    reg = registry_with(package, "kit")
    expected = {(k, "kit") for k in TEMPLATE_KINDS} - {("cost", "kit"), ("transform", "kit")}
    expected |= {("cost", "kit-loss"), ("transform", "kit-transform")}  # chain links: not "kit"
    assert set(reg.plugins["kit"].registers) == expected
    assert {p.class_name for p in made.parts} >= {"KitLossCost", "KitOptimizer", "KitTransform"}
    for part in made.parts:
        example = made.folder / "examples" / f"{part.kind}.yaml"
        assert load_spec(example, registry=reg)[0] is not None
    for path in made.folder.rglob("*"):
        if path.is_file():
            bad = A_BEFORE_VOWEL.search(path.read_text())
            assert bad is None, f"{path}: {bad.group(0)!r}"
    one = new_plugin("my-act", "activation", tmp_path / "act")
    description = tomllib.loads((one.folder / "pyproject.toml").read_text())["project"]
    assert description["description"] == "An activation for deltaw: my-act."


def test_registered_names_need_not_be_the_package_name(tmp_path, imported):
    made = new_plugin(
        "deltaw-focal-loss", ["cost", "metric"], tmp_path / "p", names={"cost": "focal"}
    )
    assert (made.plugin, made.distribution) == ("focal-loss", "deltaw-focal-loss")
    assert made.registers == [("cost", "focal"), ("metric", "focal-loss")]
    reg = registry_with(imported(made.folder, made.package), made.plugin)
    assert reg.entry("cost", "focal").cls.__name__ == "FocalCost"
    assert reg.entry("cost", "focal-loss:focal").plugin.name == "focal-loss"
    assert "cost: focal" in (made.folder / "README.md").read_text()
    assert (
        'deltaw_plugin(deltaw_focal_loss, name="focal-loss")'
        in (made.folder / "tests" / "test_cost.py").read_text()
    )


def test_kinds_are_added_to_a_package_and_it_still_passes_lint_and_registers_all(
    tmp_path, imported
):
    made = new_plugin("focal-loss", "cost", tmp_path / "p", names={"cost": "focal"})
    added = add_kinds(made.folder, ["transform", "metric"], names={"metric": "focal-score"})
    assert added.registers == [("transform", "focal-loss"), ("metric", "focal-score")]
    assert sorted(p.as_posix() for p in added.files) == sorted(
        [
            "src/deltaw_focal_loss/transform.py",
            "tests/test_transform.py",
            "examples/transform.yaml",
            "src/deltaw_focal_loss/metric.py",
            "tests/test_metric.py",
            "examples/metric.yaml",
            "src/deltaw_focal_loss/__init__.py",
            "README.md",
        ]
    )
    assert_lint_clean(made.folder)
    readme = (made.folder / "README.md").read_text()
    assert readme.index("### The metric `focal-score`") < readme.index("If another installed")
    reg = registry_with(imported(made.folder, made.package), made.plugin)
    assert set(reg.plugins["focal-loss"].registers) == {
        ("cost", "focal"),
        ("metric", "focal-score"),
        ("transform", "focal-loss"),
    }
    optimizer = add_kinds(made.folder, ["optimizer"])  # a transform registers the plugin name
    assert optimizer.registers == [("optimizer", "focal-loss-optimizer")]


def test_a_kind_is_added_to_a_package_written_by_hand_with_its_code_in_init(tmp_path, imported):
    folder = tmp_path / "deltaw-lion"
    shutil.copytree(ROOT / "examples" / "plugins" / "deltaw-lion", folder)
    added = add_kinds(folder, ["metric"], names={"metric": "sign-agreement"})
    init = (folder / "src" / "deltaw_lion" / "__init__.py").read_text()
    # no __all__ there: imported as themselves, an explicit re-export
    assert "from deltaw_lion.metric import SignAgreementMetric as SignAgreementMetric\n" in init
    reg = registry_with(imported(folder, "deltaw_lion"), "lion")
    assert set(reg.plugins["lion"].registers) == {
        ("optimizer", "lion"),
        ("metric", "sign-agreement"),
    }
    assert added.module_path().is_file()


def test_adding_a_kind_refuses_what_it_cannot_do_and_changes_nothing(tmp_path):
    made = new_plugin("kit", ["cost", "metric"], tmp_path / "kit")
    snapshot = {p: p.read_bytes() for p in made.folder.rglob("*") if p.is_file()}
    with pytest.raises(DeltawError, match="already has register_costs, so the package deltaw-kit"):
        add_kinds(made.folder, ["cost"])
    (made.folder / "examples" / "optimizer.yaml").write_text("mine\n")
    snapshot[made.folder / "examples" / "optimizer.yaml"] = b"mine\n"
    with pytest.raises(DeltawError, match="optimizer.yaml already exists"):
        add_kinds(made.folder, ["schedule", "optimizer"])
    with pytest.raises(DeltawError, match="no template for the kind 'executor'"):
        add_kinds(made.folder, ["executor"])
    with pytest.raises(DeltawError, match="has no pyproject.toml"):
        add_kinds(tmp_path, ["cost"])
    assert {p: p.read_bytes() for p in made.folder.rglob("*") if p.is_file()} == snapshot


def test_an_optimizer_and_a_transform_never_share_a_name(tmp_path):
    made = new_plugin("kit", ["optimizer", "transform"], tmp_path / "a")
    assert made.registers == [("optimizer", "kit"), ("transform", "kit-transform")]
    with pytest.raises(DeltawError, match="a chain's links look names up among both kinds"):
        new_plugin("kit", ["optimizer", "transform"], tmp_path / "b", names={"transform": "kit"})
    assert not (tmp_path / "b").exists()


def test_shadowed_builtins_warns_once_per_name_a_builtin_has():
    warnings = shadowed_builtins([("optimizer", "sgd"), ("cost", "sgd"), ("metric", "accuracy")])
    assert len(warnings) == 2
    assert warnings[0].startswith("Warning: optimizer 'sgd' is also a built-in of deltaw")
    assert "'deltaw:accuracy' is the built-in" in warnings[1]
    assert shadowed_builtins([("cost", "focal")]) == []


def test_a_broken_derivative_fails_the_contract_check_and_the_generated_test_saying_where(
    tmp_path, imported
):
    made = new_plugin("my-cost", "cost", tmp_path / "my-cost")
    source = made.module_path().read_text()
    right = "return self.params.scale * (a - y)"
    assert right in source
    made.module_path().write_text(source.replace(right, "return 2 * self.params.scale * (a - y)"))

    module = imported(made.folder, made.package)
    with pytest.raises(AssertionError) as exc:
        testing.check_cost(module.MyCost)
    message = str(exc.value)
    assert message.startswith("check_cost(MyCost(scale=1.0), setting 1 of 4): gradient at a[")
    assert "finite differences of m·value" in message and "relative error" in message

    proc = run_tests(made.folder, "-k", "finite_differences")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "check_cost(MyCost(scale=1.0)" in proc.stdout and "gradient at a[" in proc.stdout
    assert "1 failed" in proc.stdout


def run_tests(folder: Path, *args: str, python: str | Path = sys.executable, env=None):
    """The package's own pytest, seeing its src/ (its pyproject says pythonpath = src)."""
    env = env or {k: v for k, v in os.environ.items() if not k.startswith("DELTAW_")}
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_new_plugin_never_overwrites_and_leaves_nothing_behind_when_it_fails(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(DeltawError, match="already exists and is not empty"):
        new_plugin("taken", "cost", tmp_path / "taken")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert new_plugin("empty", "metric", tmp_path / "empty").folder == tmp_path / "empty"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "taken"]  # no staging left
    with pytest.raises(
        DeltawError, match="no template for the kind 'optimiser'. Kinds: optimizer, cost"
    ):
        new_plugin("x", "optimiser", tmp_path / "x")
    with pytest.raises(DeltawError, match="the kind 'cost' is given twice"):
        new_plugin("x", ["cost", "metric", "cost"], tmp_path / "x")
    assert not (tmp_path / "x").exists()


# A slip in each derivative of the package, and the method the failure must name.
SLIPS = {
    "cost": (
        "return self.params.scale * (a - y)",
        "return 2 * self.params.scale * (a - y)",
        ("check_cost(KitCost(", "gradient at a["),
    ),
    "activation": (  # invisible at the default β = 1: the second setting catches it
        "return self.params.beta * (1.0 - a * a)",
        "return 1.0 - a * a",
        ("check_activation(KitActivation(", "derivative at z["),
    ),
    "regularizer": (
        "(p.l1_ratio * np.sign(w) + (1 - p.l1_ratio) * w)",
        "(p.l1_ratio * np.sign(w) + (1 - p.l1_ratio) * 2 * w)",
        ("check_regularizer(KitRegularizer(", "gradient of weights["),
    ),
}


@pytest.mark.slow
def test_a_package_with_every_kind_installs_passes_its_own_tests_and_names_a_broken_derivative(
    tmp_path,
):
    missing = [name for name in KIT_CHECKS.values() if not hasattr(testing, name)]
    assert not missing, f"the generated tests call deltaw.testing.{missing} (h-kit adds them)"
    started = time.perf_counter()
    from test_plugins_e2e import Venv, copy_tree  # a venv that sees this environment's packages

    venv = Venv(tmp_path)
    files = ("pyproject.toml", "README.md", "LICENSE", "deltaw")
    deltaw_src = copy_tree(ROOT, tmp_path / "src" / "deltaw", *files)
    venv.run(venv.python, "-m", "pip", "install", "-q", "--no-deps", deltaw_src)  # this deltaw
    made = new_plugin("kit", TEMPLATE_KINDS, tmp_path / "kit")
    folder = made.folder
    venv.run(venv.python, "-m", "pip", "install", "--no-deps", "-q", folder)
    listed = venv.run(venv.python, "-m", "deltaw", "plugins", "--json")
    (kit,) = [p for p in json.loads(listed.stdout)["plugins"] if p["name"] == "kit"]
    assert (kit["status"], kit["distribution"], kit["version"]) == ("loaded", "deltaw-kit", "0.1.0")
    assert sorted(r["kind"] for r in kit["registers"]) == sorted(TEMPLATE_KINDS)

    # --force-reinstall reinstalls the plugin, never deltaw (or numpy) under it
    again = venv.cli("install", "--force-reinstall", folder)
    assert "Successfully installed deltaw-kit-0.1.0" in again.stdout, again.stdout + again.stderr
    assert not re.search(r"installed .*\bdeltaw-\d", again.stdout), again.stdout

    (folder / "src").rename(folder / "src-not-used")  # the installed package, tests unchanged
    tests = run_tests(folder, "-W", "error::RuntimeWarning", python=venv.python, env=venv.env)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    passed = tests.stdout.strip().splitlines()[-1]
    (folder / "src-not-used").rename(folder / "src")

    for kind, (right, wrong, _) in SLIPS.items():
        module = made.module_path(next(p for p in made.parts if p.kind == kind))
        source = module.read_text()
        assert right in source, (kind, right)
        module.write_text(source.replace(right, wrong))
    # pythonpath = src: the tests see the slips; the checks of the three derivatives
    broken = run_tests(folder, "-k", "finite_differences", python=venv.python, env=venv.env)
    assert broken.returncode == 1, broken.stdout[-4000:]
    assert f"{len(SLIPS)} failed" in broken.stdout, broken.stdout[-4000:]
    for kind, (_, _, (check, named)) in SLIPS.items():  # the check, and the method it names
        assert check in broken.stdout and named in broken.stdout, (kind, broken.stdout[-4000:])
    print(
        f"\nThe package with {len(TEMPLATE_KINDS)} kinds installed and tested in "
        f"{time.perf_counter() - started:.1f}s: {passed}"
    )
