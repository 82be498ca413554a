"""The layering of docs/architecture.md holds: the import-linter contracts of pyproject.toml
(cli > runs > spec, plots > registry, plugins > core; no cycles) and the core's own imports."""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]

LINT = (
    "import sys\n"
    "from importlinter.cli import lint_imports\n"
    "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))\n"
)


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package in ``root`` (import-linter puts ``root`` first on the
    path)."""
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, capture_output=True, text=True)


def test_the_import_contracts_hold():
    done = lint_imports(ROOT)
    assert "Contracts: " in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_import_against_the_layers_breaks_the_contracts_and_is_named(tmp_path):
    shutil.copytree(ROOT / "deltaw", tmp_path / "deltaw", ignore=shutil.ignore_patterns("__py*"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for module, line in [
        ("core/history.py", "import yaml"),
        ("plugins/metrics.py", "from deltaw.runs import folder"),
        ("spec/build.py", "import deltaw.runs.train"),
    ]:
        with open(tmp_path / "deltaw" / module, "a", encoding="utf-8") as f:
            f.write(f"\n{line}\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    for broken in [
        "deltaw.core is not allowed to import yaml",
        "deltaw.plugins is not allowed to import deltaw.runs",
        "deltaw.spec is not allowed to import deltaw.runs",
        "- deltaw.spec.build -> deltaw.runs.train",
        "No cycles are allowed in deltaw.",
    ]:
        assert broken in done.stdout, done.stdout


def test_the_core_imports_only_numpy_the_standard_library_and_deltaw_errors():
    graph = grimp.build_graph("deltaw", include_external_packages=True, cache_dir=None)
    core = {"deltaw.core", *graph.find_descendants("deltaw.core")}
    imported = {i for m in core for i in graph.find_modules_directly_imported_by(m)} - core
    outside = {m.split(".")[0] for m in imported - {"deltaw.errors"}}
    outside -= {*sys.stdlib_module_names, "numpy"}
    assert not outside, f"deltaw.core imports {sorted(outside)}; the core knows only numpy"
    assert "numpy" in imported  # the graph is real: the core does import numpy


def test_the_tree_passes_ruff_within_100_columns():
    """The configured limit holds (E501 is selected) and the tree is formatted: CI runs this."""
    ruff = [sys.executable, "-m", "ruff"]
    if subprocess.run([*ruff, "--version"], capture_output=True).returncode != 0:
        ruff = [shutil.which("ruff") or "ruff"]
    checked = subprocess.run(
        [*ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = subprocess.run(
        [*ruff, "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
