"""End to end, as a user meets it: a fresh virtual environment with deltaw and both example plugin
packages installed from their folders; list, show, validate, train; uninstall one and see a spec
naming it fail with a message that names the missing package. Also measures `deltaw --help` and
`deltaw plugins` with the plugins installed.

Offline: the venv sees the environment's packages (numpy, pydantic, setuptools, pip, pytest)
through --system-site-packages, and every pip call uses --no-index without build isolation.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "plugins"

SPEC = {
    "name": "e2e",
    "seed": 3,
    "data": {"name": "checkerboard", "samples": 400, "cells": 2},
    "network": {
        "layers": [2, 12, 2],
        "activation": "mish",
        "output_activation": "softsign",
        "init": "he-normal",
    },
    "cost": "log-cosh",
    "optimizer": {"name": "lion", "lr": 0.003},
    "training": {"epochs": 3, "batch_size": 16},
}


CAN_BUILD_OFFLINE = """
import importlib.util, sys
from importlib.metadata import version
major_minor = tuple(int(x) for x in version("setuptools").split(".")[:2])
# setuptools 70.1 builds wheels by itself
wheels = importlib.util.find_spec("wheel") or major_minor >= (70, 1)
sys.exit(0 if major_minor >= (77, 0) and wheels else 1)  # deltaw's build-system.requires
"""


class Venv:
    def __init__(self, root: Path) -> None:
        self.root = root
        subprocess.run(
            [
                sys.executable,
                "-m",
                "venv",
                "--system-site-packages",
                "--without-pip",
                str(root / "venv"),
            ],
            check=True,
        )
        bin_dir = root / "venv" / ("Scripts" if os.name == "nt" else "bin")
        self.python, self.deltaw = bin_dir / "python", bin_dir / "deltaw"
        # --system-site-packages only reaches the base interpreter; when the tests themselves run in
        # a
        # virtual environment, make its packages (numpy, pip, setuptools, pytest, …) visible too
        inner = subprocess.run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        outer = [
            p
            for p in sys.path
            if p and Path(p).is_dir() and Path(p).name in ("site-packages", "dist-packages")
        ]
        # an "import" line in a .pth runs at start-up; addsitedir also processes the outer .pth
        # files
        Path(inner, "_outer_environment.pth").write_text(
            "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in outer) + "\n"
        )
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DELTAW_", "PIP_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")
        }
        self.env.update(
            {
                "DELTAW_CACHE_DIR": str(root / "cache"),
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "COLUMNS": "200",
                "NO_COLOR": "1",
            }
        )
        if self.run(self.python, "-c", CAN_BUILD_OFFLINE, check=False).returncode == 0:
            # offline: no index, build with the setuptools the environment already has
            self.env.update({"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"})
        # else pip builds in isolation, fetching setuptools from PyPI

    def run(self, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, env=self.env, cwd=self.root
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, args))} exited "
                f"{proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def cli(self, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(self.deltaw, *args, check=check)

    def timed(self, *args: object, repeat: int = 3) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            self.cli(*args)
            times.append(time.perf_counter() - started)
        return statistics.median(times)


def copy_tree(src: Path, dst: Path, *only: str) -> Path:
    """A clean copy to build from, so pip's build/ and *.egg-info never land in the checkout.

    Run folders (``runs/``) are left out at the top only: ``deltaw/runs`` is a package.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".pytest_cache")
    dst.mkdir(parents=True)
    for name in only or [p.name for p in src.iterdir() if p.name != "runs"]:
        path = src / name
        if path.is_dir():
            shutil.copytree(path, dst / name, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, dst / name)
    return dst


def test_installed_example_plugins_work_end_to_end_and_an_uninstalled_one_is_named(tmp_path):
    venv = Venv(tmp_path)
    deltaw_src = copy_tree(
        ROOT, tmp_path / "src" / "deltaw", "pyproject.toml", "README.md", "LICENSE", "deltaw"
    )
    venv.run(venv.python, "-m", "pip", "install", "-q", "--no-deps", deltaw_src)
    assert venv.deltaw.exists()

    lion = copy_tree(EXAMPLES / "deltaw-lion", tmp_path / "src" / "deltaw-lion")
    extras = copy_tree(EXAMPLES / "deltaw-extras", tmp_path / "src" / "deltaw-extras")
    installed = venv.cli(
        "install", lion, extras
    )  # deltaw's own install: pip of the venv's interpreter
    assert "Plugin 'lion' (deltaw-lion 0.1.0) loaded: optimizer lion" in installed.stderr
    assert "Plugin 'extras' (deltaw-extras 0.1.0) loaded:" in installed.stderr
    where = venv.run(
        venv.python,
        "-c",
        "import deltaw, deltaw_lion; print(deltaw.__file__); print(deltaw_lion.__file__)",
    )
    assert all(
        str(tmp_path / "venv") in line for line in where.stdout.splitlines()
    )  # really inside the venv

    # deltaw plugins: every plugin with its distribution and version
    report = json.loads(venv.cli("plugins", "--json").stdout)
    plugins = {p["name"]: p for p in report["plugins"]}
    assert (
        plugins["lion"]["distribution"],
        plugins["lion"]["version"],
        plugins["lion"]["status"],
    ) == ("deltaw-lion", "0.1.0", "loaded")
    assert (
        plugins["extras"]["distribution"],
        plugins["extras"]["version"],
        plugins["extras"]["status"],
    ) == ("deltaw-extras", "0.1.0", "loaded")
    assert {(r["kind"], r["name"]) for r in plugins["extras"]["registers"]} == {
        ("cost", "log-cosh"),
        ("activation", "mish"),
        ("activation", "softsign"),
        ("dataset", "checkerboard"),
    }
    table = venv.cli("plugins").stdout
    assert "deltaw-lion" in table and "deltaw-extras" in table and "0.1.0" in table

    # deltaw show documents them
    assert "Chen et al." in venv.cli("show", "optimizer", "lion").stdout
    assert "ln cosh" in venv.cli("show", "cost", "log-cosh").stdout
    assert "cells" in venv.cli("show", "dataset", "checkerboard").stdout

    # a spec using them validates and trains
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    resolved = yaml.safe_load(venv.cli("validate", spec).stdout)
    assert resolved["optimizer"] == {"name": "lion", "lr": 0.003, "beta1": 0.9, "beta2": 0.99}
    venv.cli("run", spec, "--out", tmp_path / "runs", "--quiet")
    (metrics,) = (tmp_path / "runs").glob("*/metrics.jsonl")
    assert len(metrics.read_text().splitlines()) == 3

    # the example packages pass their own tests, against the installed copies
    tests = venv.run(
        venv.python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "error::RuntimeWarning",
        lion / "tests",
        extras / "tests",
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]

    # the schema knows them
    schema = json.loads(venv.cli("schema").stdout)
    assert "lion" in schema["$defs"]["OptimizerRef"]["anyOf"][0]["enum"]

    help_time, plugins_time = venv.timed("--help"), venv.timed("plugins")
    print(
        f"\nwith deltaw-lion and deltaw-extras installed: `deltaw --help` {help_time * 1000:.0f} "
        "ms, "
        f"`deltaw plugins` {plugins_time * 1000:.0f} ms (median of 3, wall time incl. interpreter "
        "start)"
    )

    # uninstall one: a spec naming it fails with the missing package, the closest names and `deltaw
    # plugins`
    removed = venv.cli("uninstall", "deltaw-lion", "-y")
    assert "Removed plugin 'lion' (deltaw-lion 0.1.0)" in removed.stderr
    failed = venv.cli("validate", spec, check=False)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    message = " ".join(failed.stderr.split())
    assert "Unknown optimizer 'lion' at optimizer." in message
    assert (
        "It was provided by plugin 'lion' of the package deltaw-lion 0.1.0, which is not installed"
        in message
    )
    assert "`deltaw install deltaw-lion`" in message
    assert "Closest registered optimizers:" in message and "Run `deltaw plugins`" in message
    assert "Traceback" not in failed.stderr
    still = json.loads(venv.cli("plugins", "--json").stdout)
    assert {p["name"] for p in still["plugins"]} >= {"deltaw", "extras"} and "lion" not in {
        p["name"] for p in still["plugins"]
    }
