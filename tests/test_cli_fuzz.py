"""No input and no file-system state makes the command line print a traceback (issue 9 §2).

A property, not a list: Hypothesis drives ``deltaw validate`` and ``deltaw run``
in-process with random bytes as spec files, random nested YAML/JSON/TOML
documents built from a real spec's keys, random ``--set`` strings, mutated
specs and random file-system states (a read-only or full disk, ``--out`` a
file or below one, missing folders). Every outcome must be an exit code from
the documented set (docs/reliability.md) with no traceback; an uncaught
exception is a bug, shown with its traceback when the property fails.

The examples are the same on every run (about 20 s); ``DELTAW_FUZZ_SCALE=25``
draws 25 times as many, at random, for a longer search.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
import traceback
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import deltaw.files
from deltaw.cli import app

runner = CliRunner()
EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 130}
SCALE = float(os.environ.get("DELTAW_FUZZ_SCALE", "1"))  # e.g. 50 for a long search
FUZZ = settings(
    max_examples=int(30 * SCALE),
    deadline=None,
    derandomize=SCALE == 1,  # the same examples on every machine: a failure is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SPEC = {
    "name": "fuzz",
    "seed": 0,
    "data": {"name": "blobs", "samples": 60, "classes": 3},
    "network": {"layers": [2, 4, 3], "activation": "tanh", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 1, "batch_size": 16},
}
KEYS = [
    *SPEC,
    *("dtype regularizers metrics schedule callbacks sweep grid zip random".split()),
    *("layers activation output_activation init epochs batch_size evaluate clip".split()),
    *("norm value weight_decay threads stall_check lr momentum samples classes".split()),
    *("features validation test monitor mode every best path limit range choice".split()),
]
NAMES = "sgd adam blobs xor mnist csv npz tanh softmax sigmoid early-stopping csv-log".split()
PATHS = [
    "optimizer.lr", "optimizer.name", "optimizer.momentum", "data.name", "data.samples",
    "data.validation", "data.classes", "network.layers", "network.activation",
    "network.output_activation", "network.init", "cost", "metrics", "regularizers",
    "callbacks", "schedule", "training.batch_size", "training.evaluate", "training.clip.norm",
    "training.weight_decay", "training.threads", "dtype", "seed", "name", "sweep",
]  # fmt: skip

# ints mostly small (a run must stay quick) plus sizes far beyond any memory
ints = st.one_of(st.integers(-3, 300), st.sampled_from([10**12, 2**63, -(2**63), 10**40, 10**400]))
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e-300, 1e300, math.inf]),
)
text = st.one_of(
    st.sampled_from(KEYS + NAMES),
    st.text(max_size=12),
    st.text(alphabet="[]/{}:=.,*&!#'\"\\ \t\n-x", max_size=12),
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, text)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=5)),
    max_leaves=25,
)
specs = st.dictionaries(st.sampled_from(KEYS), documents, max_size=8)
# what a user might plausibly write at a spec path: numbers, names, short lists, or anything
values = st.one_of(ints, floats, st.sampled_from(NAMES), st.lists(ints, max_size=4), documents)
set_strings = st.one_of(
    st.text(max_size=30),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(PATHS + KEYS), text),
    st.builds(lambda k, v: f"{k}={json.dumps(v, default=str)}", st.sampled_from(PATHS), documents),
)


# fragments of YAML, TOML and JSON syntax, so the parsers' corners are reached: dates, anchors,
# tags, merges, block scalars, tables, escapes, numbers of many digits
FRAGMENTS = [
    *("a: ", "data: ", "name = ", "[network]", "[[x]]", '{"a": ', "}", "{", "[", "]", ", "),
    *("\n", "\n  ", "- ", "? ", ": ", "|\n  ", ">-\n", "#", "'", '"', "\\u00", "\t"),
    *("&a ", "*a", "<<: *a", "!!python/object:os.system", "!!binary ", "!!set ", "!!int "),
    *("2024-13-45", "2001-12-14t21:59:43.10-05:00", "0x1F", "0o17", "1_000", ".inf", ".nan"),
    *("nan", "inf", "-0", "1e999", "9" * 4400, "true", "null", "~", "=", ".", "..", "é", "\x00"),
]
syntax = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)


def toml_dump(data: dict) -> str:
    """A TOML document for ``data``: every value inline (None, which TOML lacks, becomes "")."""

    def value(v: object) -> str:
        if v is None:
            return '""'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return (
                "nan"
                if math.isnan(v)
                else ("inf" if v > 0 else "-inf")
                if math.isinf(v)
                else repr(v)
            )
        if isinstance(v, int):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(i) for i in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{key(k)} = {value(i)}" for k, i in v.items()) + "}"
        return json.dumps(str(v))

    def key(k: object) -> str:
        return json.dumps(str(k))

    return "".join(f"{key(k)} = {value(v)}\n" for k, v in data.items())


def dump(data: object, suffix: str) -> bytes:
    if suffix == ".json":
        return json.dumps(data, default=str).encode()
    if suffix == ".toml":
        return toml_dump(data if isinstance(data, dict) else {"x": data}).encode()
    return yaml.safe_dump(data, allow_unicode=True).encode()


def invoke(args: list[str]):
    """Run the CLI; the property: a documented exit code, no traceback, no uncaught exception."""
    result = runner.invoke(app, args)
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    shown = "".join(traceback.format_exception(crash)) if crash else result.output
    assert crash is None, f"deltaw {' '.join(args)!r} raised:\n{shown}"
    assert result.exit_code in EXIT_CODES, f"exit code {result.exit_code}:\n{shown}"
    assert "Traceback" not in result.output, shown
    return result


@contextlib.contextmanager
def workdir():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


# -- validate --------------------------------------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=400), suffix=st.sampled_from([".yaml", ".yml", ".toml", ".json"]))
def test_validate_random_bytes(raw, suffix):
    with workdir() as tmp:
        (path := tmp / f"spec{suffix}").write_bytes(raw)
        assert invoke(["validate", str(path), "--no-data"]).exit_code in {2}


@FUZZ
@given(
    doc=st.one_of(specs, documents),
    suffix=st.sampled_from([".yaml", ".toml", ".json"]),
    sets=st.lists(set_strings, max_size=3),
)
def test_validate_random_documents_and_set_strings(doc, suffix, sets):
    with workdir() as tmp:
        (path := tmp / f"spec{suffix}").write_bytes(dump(doc, suffix))
        invoke(["validate", str(path), "--no-data", *[a for s in sets for a in ("--set", s)]])


@FUZZ
@given(
    source=syntax,
    suffix=st.sampled_from([".yaml", ".toml", ".json"]),
    sets=st.lists(syntax, max_size=1),
)
def test_validate_random_syntax(source, suffix, sets):
    with workdir() as tmp:
        (path := tmp / f"spec{suffix}").write_text(source, encoding="utf-8", errors="surrogatepass")
        invoke(["validate", str(path), "--no-data", *[a for s in sets for a in ("--set", s)]])


@FUZZ
@given(
    changes=st.dictionaries(st.sampled_from(PATHS), values, max_size=3),
    sets=st.lists(set_strings, max_size=2),
)
def test_validate_mutated_specs_with_their_data(changes, sets):
    with workdir() as tmp:
        (path := tmp / "spec.yaml").write_bytes(dump(mutate(SPEC, changes), ".yaml"))
        invoke(["validate", str(path), *[a for s in sets for a in ("--set", s)]])


# -- run ---------------------------------------------------------------------------------------


def mutate(spec: dict, changes: dict) -> dict:
    """``spec`` with each dotted path set, then kept quick: 1–2 epochs, small sizes."""
    out = json.loads(json.dumps(spec))
    for path, value in changes.items():
        node = out
        *parents, last = path.split(".")
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node.get(p, {}), dict) else {}
        node[last] = value
    training = out.setdefault("training", {})
    if isinstance(training, dict):
        training["epochs"] = 1
    return out


FS_STATES = ["fine", "out-is-a-file", "below-a-file", "missing-folders", "read-only", "full-disk"]


@contextlib.contextmanager
def file_system(state: str, out: Path, writes: int):
    """Put ``out`` in ``state``: as a file, below one, read-only or on a disk that fills up."""
    if state == "out-is-a-file":
        out.write_text("a file")
    elif state == "below-a-file":
        out.parent.joinpath("file").write_text("a file")
        out = out.parent / "file" / "runs"
    elif state == "missing-folders":
        out = out / "a" / "b"
    if state not in ("read-only", "full-disk"):
        yield out
        return
    code = errno.EROFS if state == "read-only" else errno.ENOSPC
    count = {"n": 0}
    real_open, real_mkdir, real_replace = open, os.mkdir, os.replace

    def refuse(path: object, write: bool = True) -> None:
        inside = str(path).startswith(str(out))
        if inside and write and (state == "read-only" or count["n"] >= writes):
            raise OSError(code, os.strerror(code), str(path))
        count["n"] += inside and write

    def guarded_open(path, mode="r", *args, **kwargs):
        refuse(path, any(c in mode for c in "wax+"))
        return real_open(path, mode, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        refuse(path, state == "read-only")
        return real_mkdir(path, *args, **kwargs)

    def guarded_replace(src, dst):
        refuse(dst)
        return real_replace(src, dst)

    with (
        mock.patch("builtins.open", guarded_open),
        mock.patch("os.mkdir", guarded_mkdir),
        mock.patch.object(deltaw.files.os, "replace", guarded_replace),
    ):
        yield out


@settings(FUZZ, max_examples=int(25 * SCALE))
@given(
    changes=st.dictionaries(st.sampled_from(PATHS), values, max_size=2),
    sets=st.lists(set_strings, max_size=2),
    state=st.sampled_from(FS_STATES),
    writes=st.integers(0, 12),
)
def test_run_mutated_specs_on_any_file_system(changes, sets, state, writes):
    with workdir() as tmp:
        (path := tmp / "spec.yaml").write_bytes(dump(mutate(SPEC, changes), ".yaml"))
        with file_system(state, tmp / "runs", writes) as out:
            args = ["run", str(path), "--out", str(out), "-q", "--no-plots"]
            result = invoke(args + [a for s in sets for a in ("--set", s)])
        if state in ("out-is-a-file", "below-a-file", "read-only") and result.exit_code != 2:
            assert result.exit_code in {4, 7}, result.output  # refused before or at the folder


@FUZZ
@given(state=st.sampled_from(FS_STATES), writes=st.integers(0, 30))
def test_a_valid_run_fails_only_through_its_file_system(state, writes):
    with workdir() as tmp:
        (path := tmp / "spec.yaml").write_bytes(dump(mutate(SPEC, {}), ".yaml"))
        with file_system(state, tmp / "runs", writes) as out:
            result = invoke(["run", str(path), "--out", str(out), "-q", "--no-plots"])
        expected = (
            {0} if state in ("fine", "missing-folders") else {7} if state != "full-disk" else {0, 7}
        )
        assert result.exit_code in expected, result.output


# -- resume from a damaged run folder ----------------------------------------------------------

RUN_FILES = [
    "run.json", "overrides.json", "resolved.yaml", "spec.yaml", "checkpoint.npz",
    "metrics.jsonl", "metrics.csv", "environment.json", "weights.npz",
]  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("finished")
    (path := tmp / "spec.yaml").write_bytes(dump(mutate(SPEC, {}), ".yaml"))
    invoke(["run", str(path), "--out", str(tmp / "runs"), "-q", "--no-plots"])
    (folder,) = (tmp / "runs").iterdir()
    return folder


@FUZZ
@given(
    damage=st.dictionaries(
        st.sampled_from(RUN_FILES),
        st.one_of(st.none(), st.binary(max_size=300), syntax.map(str.encode)),
        min_size=1,
        max_size=3,
    ),
    sets=st.lists(
        st.sampled_from(["training.epochs=2", "optimizer.lr=1"]) | set_strings, max_size=1
    ),
)
def test_resume_from_a_damaged_run_folder(finished_run, damage, sets):
    with workdir() as tmp:
        folder = tmp / finished_run.name
        shutil.copytree(finished_run, folder)
        for name, content in damage.items():  # None: the file is gone
            if content is None:
                (folder / name).unlink()
            else:
                (folder / name).write_bytes(content)
        invoke(
            [
                "run",
                "--resume",
                str(folder),
                "-q",
                "--no-plots",
                *[a for s in sets for a in ("--set", s)],
            ]
        )
