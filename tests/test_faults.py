"""The file system fails during a run (issue 9 §2, §3): one message, exit code 7, nothing lost.

Faults are injected where deltaw writes (``deltaw.files``: the temporary
file, its contents, the rename) during epoch 3 of 5; the checkpoint of epoch
2 stays intact, loads, and resumes to the same numbers as a run never
disturbed. Damaged checkpoints, an ``--out`` that is a file and run names too
long for the file system are covered too.
"""

import errno
import json
import os

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import deltaw.files
from deltaw.cli import app
from deltaw.errors import FileError
from deltaw.runs.checkpoint import load_run_checkpoint
from deltaw.runs.folder import name_max, slug

runner = CliRunner()

SPEC = {
    "name": "faults",
    "seed": 3,
    "data": {"name": "blobs", "samples": 200, "classes": 3},
    "network": {"layers": [2, 6, 3], "activation": "tanh", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "adam", "lr": 0.05},
    "training": {"epochs": 5, "batch_size": 16},
}


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def run(*args):
    result = runner.invoke(app, ["run", *map(str, args), "-q", "--no-plots"])
    assert "Traceback" not in result.output
    return result


def numbers(history):
    """The history without its timings, which differ from run to run."""
    return [{k: v for k, v in row.items() if not k.endswith("_time")} for row in history]


def one_line(text):
    return " ".join(text.split())


FAULTS = {
    "ENOSPC": "the disk is full",
    "EROFS": "the file system is read-only",
    "EACCES": "permission denied",
    "EDQUOT": "your disk quota is used up",
    "EIO": "an input/output error",
}
STEPS = ["create", "write", "rename"]


def inject(monkeypatch, code, step, target="checkpoint.npz", after=2):
    """From the ``after + 1``-th write of ``target`` on, its ``step`` fails with ``code``."""
    seen = {"n": 0}
    fault = OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    def counted(matches, at):
        if matches and step == at:
            seen["n"] += 1
            if seen["n"] > after:
                raise fault

    real_mkstemp, real_fsync, real_replace = (
        deltaw.files.tempfile.mkstemp,
        deltaw.files.os.fsync,
        deltaw.files.os.replace,
    )
    opened = {}

    def mkstemp(dir, prefix, suffix):  # noqa: A002 - tempfile's own name
        counted(prefix == f".{target}.", "create")
        fd, tmp = real_mkstemp(dir=dir, prefix=prefix, suffix=suffix)
        opened[fd] = tmp
        return fd, tmp

    def fsync(fd):
        counted(os.path.basename(opened.get(fd, "")).startswith(f".{target}."), "write")
        real_fsync(fd)

    def replace(src, dst):
        counted(os.path.basename(str(dst)) == target, "rename")
        real_replace(src, dst)

    monkeypatch.setattr(deltaw.files.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(deltaw.files.os, "fsync", fsync)
    monkeypatch.setattr(deltaw.files.os, "replace", replace)


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """The metrics and final weights of the same run with no fault."""
    tmp = tmp_path_factory.mktemp("undisturbed")
    assert run(spec_file(tmp), "--out", tmp / "runs").exit_code == 0
    (folder,) = (tmp / "runs").iterdir()
    with np.load(folder / "weights.npz") as z:
        weights = {k: z[k] for k in z.files}
    return metrics_rows(folder), weights


def metrics_rows(folder) -> list[dict]:
    """The run's history as recorded: one row of metrics.jsonl per epoch."""
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("code", list(FAULTS))
def test_a_write_fault_in_epoch_3_keeps_epoch_2_and_resumes_exactly(
    tmp_path, monkeypatch, code, step, undisturbed
):
    if code == "EDQUOT" and not hasattr(errno, "EDQUOT"):
        pytest.skip("no EDQUOT here")
    inject(monkeypatch, code, step)
    result = run(spec_file(tmp_path), "--out", tmp_path / "runs")
    (folder,) = (tmp_path / "runs").iterdir()
    message = one_line(result.output)
    assert result.exit_code == 7, message
    assert f"Cannot write {folder / 'checkpoint.npz'}: {FAULTS[code]}" in message
    assert f"({code})" in message and f"deltaw run --resume {folder}" in message
    assert not list(folder.glob(".*.tmp"))  # no temporary file left behind

    # the checkpoint of epoch 2 is intact and loads
    state, _ = load_run_checkpoint(folder / "checkpoint.npz")
    assert state["epoch"] == 2
    expected, final = undisturbed
    assert numbers(metrics_rows(folder)[:2]) == numbers(expected[:2])

    # once the fault is gone, resuming gives what the undisturbed run gave, bit for bit
    monkeypatch.undo()
    assert run("--resume", folder).exit_code == 0
    assert numbers(metrics_rows(folder)) == numbers(expected)
    with np.load(folder / "weights.npz") as z:
        assert all(np.array_equal(z[k], final[k]) for k in final)


def test_a_fault_before_any_checkpoint_says_there_is_none_yet(tmp_path, monkeypatch):
    inject(monkeypatch, "ENOSPC", "rename", after=0)
    result = run(spec_file(tmp_path), "--out", tmp_path / "runs")
    assert result.exit_code == 7
    assert "has no checkpoint yet (no epoch finished)" in one_line(result.output)


def test_a_full_disk_under_the_csv_log_callback_is_a_clear_error(tmp_path, monkeypatch):
    real_open = open

    def full_open(path, mode="r", *args, **kwargs):
        if str(path).endswith("log.csv") and "a" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_open)
    spec = spec_file(tmp_path, callbacks=[{"name": "csv-log", "path": "log.csv"}])
    result = run(spec, "--out", tmp_path / "runs")
    assert result.exit_code == 7
    assert "log.csv: the disk is full" in one_line(result.output)


def test_the_csv_log_callback_pointing_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    spec = spec_file(tmp_path, callbacks=[{"name": "csv-log", "path": str(tmp_path / "file/x")}])
    result = run(spec, "--out", tmp_path / "runs")
    assert result.exit_code == 7 and "a file where a folder is needed" in one_line(result.output)


def test_atomic_write_raises_file_error_naming_the_target_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "x.json"
    deltaw.files.write_json(target, {"v": 1})

    def broken(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(FileError, match=f"Cannot write {target}: the disk is full"):
        deltaw.files.atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


# -- --out and the run folder's name ---------------------------------------------------------


def test_out_pointing_at_a_file_is_one_clear_error(tmp_path):
    (out := tmp_path / "out").write_text("not a folder")
    result = run(spec_file(tmp_path), "--out", out)
    assert result.exit_code == 7
    assert f"{out} is a file, but run folders are created inside a folder" in one_line(
        result.output
    )
    below = run(spec_file(tmp_path), "--out", out / "below")
    assert below.exit_code == 7 and "a part of the path is a file" in one_line(below.output)


def test_a_name_too_long_for_the_file_system_is_shortened_with_a_hash(tmp_path):
    name = "é" * 300  # 600 bytes of UTF-8
    result = run(
        spec_file(tmp_path, name=name), "--out", tmp_path / "runs", "--set", "training.epochs=1"
    )
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    assert len(folder.name.encode()) <= name_max(tmp_path)
    digest = slug(name).rsplit("-", 1)[1]  # the same hash, whatever the length allowed
    assert folder.name.startswith("éé") and f"-{digest}-" in folder.name
    assert (folder / "checkpoint.npz").is_file()


def test_slug_is_deterministic_and_keeps_long_names_apart():
    a, b = "x" * 400 + "a", "x" * 400 + "b"
    assert slug(a) == slug(a) and slug(a) != slug(b)
    assert len(slug(a).encode()) <= 200 and slug("short name") == "short-name"
    assert len(slug("ü" * 300, max_bytes=50).encode()) <= 50  # never cut inside a character


# -- a damaged checkpoint --------------------------------------------------------------------


@pytest.fixture
def finished(tmp_path):
    spec = spec_file(tmp_path, callbacks=[{"name": "checkpoint", "every": 2}])
    assert run(spec, "--out", tmp_path / "runs", "--set", "training.epochs=3").exit_code == 0
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda raw: b"", "is empty (0 bytes)"),
        (lambda raw: raw[: len(raw) // 2], "is truncated or damaged"),
        (lambda raw: bytes(range(256)) * 4, "is not an .npz archive"),
        (lambda raw: b"\x80\x04K\x01." + raw[6:200], "is not an .npz archive"),  # a pickle
    ],
    ids=["emptied", "truncated", "random", "pickle"],
)
def test_a_damaged_checkpoint_is_reported_as_damaged_with_what_remains(finished, damage, says):
    ckpt = finished / "checkpoint.npz"
    ckpt.write_bytes(damage(ckpt.read_bytes()))
    result = run("--resume", finished, "--set", "training.epochs=5")
    message = one_line(result.output)
    assert result.exit_code == 7, message
    assert f"The checkpoint {ckpt} {says}" in message
    assert "pickle" not in message.lower() and "diverged" not in message
    assert "weights.npz" in message and "checkpoints/epoch-0002.npz" in message
    assert f"deltaw run {finished / 'spec.yaml'} --set training.epochs=3" in message


def test_a_damaged_checkpoint_with_nothing_else_left_says_so(finished):
    (finished / "weights.npz").unlink()
    for p in (finished / "checkpoints").iterdir():
        p.unlink()
    (finished / "checkpoint.npz").write_bytes(b"")
    result = run("--resume", finished, "--set", "training.epochs=5")
    assert result.exit_code == 7
    assert "nothing else in" in one_line(result.output)


# -- a damaged run.json or overrides.json ----------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\xff\xfe garbage", b"[1, 2]", b'{"epochs": "x"}'])
def test_a_damaged_run_json_says_it_only_records_the_status(finished, content):
    (finished / "run.json").write_bytes(content)
    result = run("--resume", finished, "--set", "training.epochs=4")
    assert result.exit_code == 7
    assert f"{finished / 'run.json'} is damaged" in one_line(result.output)
    (finished / "run.json").unlink()  # as the message says: the checkpoint carries the run
    assert run("--resume", finished, "--set", "training.epochs=4").exit_code == 0


@pytest.mark.parametrize("content", [b"", b"\xff\xfe garbage", b'{"a": 1}', b"[1]"])
def test_a_damaged_overrides_json_is_named_with_its_expected_form(finished, content):
    (finished / "overrides.json").write_bytes(content)
    result = run("--resume", finished, "--set", "training.epochs=4")
    assert result.exit_code == 7
    message = one_line(result.output)
    assert f"{finished / 'overrides.json'} is damaged" in message
    assert '["optimizer.lr=0.1"]' in message
