"""A resume trains what the run recorded; a run folder's state is true; bookkeeping is O(1).

Edits to a run folder's spec are refused by name, a deliberate change goes through --set
and is recorded with its epoch, a missing checkpoint is refused instead of training again
from epoch 0, a run whose process was killed reads as crashed, and neither the checkpoint
nor the per-epoch writes grow with the number of epochs.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import yaml
from test_resume import CtrlC, assert_same_run, history, spec_file
from typer.testing import CliRunner

from deltaw.cli import app
from deltaw.errors import DeltawError, SpecError
from deltaw.files import write_json
from deltaw.runs.checkpoint import load_run_checkpoint, save_run_checkpoint
from deltaw.runs.folder import read_metrics, run_state
from deltaw.runs.owner import owner_alive, this_process
from deltaw.runs.predict import load_trained
from deltaw.runs.report import collect_runs
from deltaw.runs.train import resume_run, run_spec

runner = CliRunner()
SIMPLE = {"schedule": None, "callbacks": [], "optimizer": {"name": "sgd", "lr": 0.5}}


def cut_run(tmp_path, epoch=2, out="b", **changes):
    """A run of SPEC interrupted (Ctrl-C) at the end of ``epoch``."""
    result = run_spec(
        spec_file(tmp_path, **changes), out=tmp_path / out, callbacks=[CtrlC(epoch)], plots=False
    )
    assert result.status == "interrupted"
    return result.folder


def info(folder):
    return json.loads((folder / "run.json").read_text())


# -- a resume trains what the run recorded ---------------------------------------------------
def test_an_edited_spec_in_the_run_folder_is_refused_naming_the_file_and_the_keys(tmp_path):
    folder = cut_run(tmp_path)
    spec = folder / "spec.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("lr: 0.05", "lr: 0.1").replace("patience: 50", "patience: 7"))
    with pytest.raises(SpecError) as caught:
        resume_run(folder, plots=False)
    text = str(caught.value)
    assert "spec.yaml changed since the run started" in text
    assert "optimizer.lr is 0.05 in resolved.yaml but 0.1 in spec.yaml" in text
    assert "callbacks[0].patience is 50 in resolved.yaml but 7 in" in text
    assert "--set KEY=VALUE" in text and f"deltaw run {spec}" in text
    cli = runner.invoke(app, ["run", "--resume", str(folder), "--quiet", "--no-plots"])
    assert (
        cli.exit_code == 2
        and "optimizer.lr is 0.05 in resolved.yaml but 0.1 in spec.yaml"
        in " ".join(cli.output.split())
    )
    assert info(folder)["status"] == "interrupted"  # nothing was trained
    spec.write_text(original)  # undone: the resume goes on, bit for bit
    resume_run(folder, plots=False)
    straight = run_spec(spec_file(tmp_path), out=tmp_path / "a", plots=False)
    assert_same_run(straight.folder, folder)


def test_an_edit_that_changes_nothing_is_accepted_and_resolved_yaml_is_what_trains(tmp_path):
    folder = cut_run(tmp_path)
    spec = folder / "spec.yaml"
    spec.write_text("# a comment added after the run started\n" + spec.read_text())
    resume_run(folder, plots=False)
    straight = run_spec(spec_file(tmp_path), out=tmp_path / "a", plots=False)
    assert_same_run(straight.folder, folder)


def test_an_edited_resolved_yaml_is_refused_too(tmp_path):
    folder = cut_run(tmp_path)
    resolved = folder / "resolved.yaml"
    resolved.write_text(resolved.read_text().replace("batch_size: 16", "batch_size: 8"))
    with pytest.raises(
        SpecError, match=r"resolved.yaml changed.*training.batch_size is 8 in resolved.yaml but 16"
    ):
        resume_run(folder, plots=False)


def test_a_run_recorded_without_fingerprints_still_has_its_spec_checked(tmp_path):
    folder = cut_run(tmp_path)
    recorded = info(folder)
    del recorded["files"]  # as run.json was written before fingerprints
    write_json(folder / "run.json", recorded)
    (folder / "spec.yaml").write_text((folder / "spec.yaml").read_text().replace("0.05", "0.2"))
    with pytest.raises(
        SpecError, match=r"spec.yaml or resolved.yaml changed.*optimizer.lr is 0.05 in resolved"
    ):
        resume_run(folder, plots=False)


def test_a_spec_edited_until_it_no_longer_loads_is_refused_saying_so(tmp_path):
    folder = cut_run(tmp_path)
    (folder / "spec.yaml").write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="spec.yaml changed.*no longer loads"):
        resume_run(folder, plots=False)


def test_a_deliberate_change_on_resume_is_recorded_with_the_epoch_it_took_effect(tmp_path):
    folder = cut_run(tmp_path, 2, **SIMPLE)
    resume_run(folder, ["optimizer.lr=0.05"], plots=False)
    recorded = info(folder)
    assert [(c["epoch"], c["set"]) for c in recorded["changes"]] == [(3, ["optimizer.lr=0.05"])]
    assert [r["lr"] for r in history(folder)] == [0.5, 0.5, 0.05, 0.05, 0.05, 0.05]
    resolved = yaml.safe_load((folder / "resolved.yaml").read_text())
    assert resolved["optimizer"]["lr"] == 0.05
    assert json.loads((folder / "overrides.json").read_text()) == ["optimizer.lr=0.05"]
    resume_run(folder, ["training.epochs=8"], plots=False)  # the recorded change passes the check
    changes = info(folder)["changes"]
    assert [(c["epoch"], c["set"]) for c in changes] == [
        (3, ["optimizer.lr=0.05"]),
        (7, ["training.epochs=8"]),
    ]
    assert len(history(folder)) == 8 and info(folder)["epochs"] == 8


def test_only_the_safe_keys_may_change_on_resume(tmp_path):
    folder = cut_run(tmp_path)
    with pytest.raises(SpecError, match="only training.epochs and optimizer.lr may change"):
        resume_run(folder, ["network.layers=[2, 4, 2]"], plots=False)


# -- a missing checkpoint --------------------------------------------------------------------
def test_a_missing_checkpoint_is_refused_instead_of_training_again_from_epoch_0(tmp_path):
    folder = cut_run(tmp_path, 3)
    (folder / "checkpoint.npz").unlink()
    with pytest.raises(DeltawError) as caught:
        resume_run(folder, plots=False)
    text = str(caught.value)
    assert "checkpoint.npz is missing, but run.json records 3 completed epoch(s)" in text
    assert "weights.npz still holds the weights" in text and "deltaw run " in text
    assert len(history(folder)) == 3  # the metrics were not overwritten
    cli = runner.invoke(app, ["run", "--resume", str(folder), "--quiet", "--no-plots"])
    assert cli.exit_code == 1 and "Traceback" not in cli.output


def test_a_missing_checkpoint_after_a_crash_is_found_from_the_metrics(tmp_path):
    folder = cut_run(tmp_path, 2)
    write_json(
        folder / "run.json",
        {**info(folder), "status": "running", "epochs": 0, "owner": dead_owner()},
    )
    (folder / "checkpoint.npz").unlink()
    with pytest.raises(DeltawError, match="metrics.jsonl has 2 completed epoch"):
        resume_run(folder, plots=False)


def test_interrupted_in_the_first_epoch_resumes_from_the_start(tmp_path):
    from test_resume import CtrlCMidEpoch

    spec = spec_file(tmp_path)
    cut = run_spec(spec, out=tmp_path / "b", callbacks=[CtrlCMidEpoch(1)], plots=False)
    assert not (cut.folder / "checkpoint.npz").exists()
    resume_run(cut.folder, plots=False)
    assert_same_run(run_spec(spec, out=tmp_path / "a", plots=False).folder, cut.folder)


def test_a_checkpoint_without_its_metrics_rows_is_refused(tmp_path):
    folder = cut_run(tmp_path, 3)
    lines = (folder / "metrics.jsonl").read_text().splitlines(keepends=True)
    (folder / "metrics.jsonl").write_text("".join(lines[:1]))
    with pytest.raises(DeltawError, match="checkpoint holds epoch 3, but metrics.jsonl has 1 rows"):
        resume_run(folder, plots=False)


# -- O(1) bookkeeping --------------------------------------------------------------------------
def test_the_checkpoint_does_not_grow_with_the_epochs(tmp_path):
    sizes = {}
    for epochs in (5, 50):
        result = run_spec(
            spec_file(tmp_path, **SIMPLE),
            [f"training.epochs={epochs}"],
            out=tmp_path / str(epochs),
            plots=False,
        )
        sizes[epochs] = (result.folder / "checkpoint.npz").stat().st_size
        state, _ = load_run_checkpoint(result.folder / "checkpoint.npz")
        assert "history" not in state and state["epoch"] == epochs
        assert len(read_metrics(result.folder)) == epochs
    assert abs(sizes[50] - sizes[5]) <= 64, sizes  # the epoch counter's digits, not 45 records


def test_metrics_csv_is_appended_and_rewritten_when_a_column_appears(tmp_path):
    result = run_spec(spec_file(tmp_path, **SIMPLE), out=tmp_path / "a", plots=False)
    rows = (result.folder / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 7 and header[:2] == ["epoch", "lr"] and "validation_accuracy" in header
    assert [int(r.split(",")[0]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6]
    from deltaw.runs.writer import RunWriter

    class Stub:
        history = [{"epoch": 1, "a": 1.0}, {"epoch": 2, "a": 2.0, "b": 3.0}]

        def state_dict(self):
            return {"weights": [], "biases": [], "optimizer": [], "epoch": 2}

    folder = tmp_path / "stub"
    folder.mkdir()
    writer = RunWriter(folder)
    writer.rewrite(Stub.history[:1])
    writer.on_epoch_end(Stub(), 2, Stub.history[1])
    assert (folder / "metrics.csv").read_text() == "epoch,a,b\n1,1.0,\n2,2.0,3.0\n"


def test_a_checkpoint_that_holds_its_history_still_resumes_bit_for_bit(tmp_path):
    folder = cut_run(tmp_path, 3)
    state, callbacks = load_run_checkpoint(folder / "checkpoint.npz")
    state["history"] = read_metrics(folder)  # the layout written before this change
    save_run_checkpoint(folder / "checkpoint.npz", state, callbacks)
    (folder / "metrics.jsonl").write_text("")  # an old checkpoint does not need it
    assert len(load_run_checkpoint(folder / "checkpoint.npz")[0]["history"]) == 3
    resume_run(folder, plots=False)
    straight = run_spec(spec_file(tmp_path), out=tmp_path / "a", plots=False)
    assert_same_run(straight.folder, folder)


def test_metrics_rows_past_the_checkpoint_and_a_torn_last_line_are_left_out(tmp_path):
    folder = cut_run(tmp_path, 3)
    with open(folder / "metrics.jsonl", "a") as f:  # killed after epoch 4's row, then mid-row 5
        f.write(json.dumps({"epoch": 4, "lr": 0.0}) + "\n" + '{"epoch": 5, "l')
    assert [r["epoch"] for r in read_metrics(folder)] == [1, 2, 3, 4]
    resume_run(folder, plots=False)
    straight = run_spec(spec_file(tmp_path), out=tmp_path / "a", plots=False)
    assert_same_run(straight.folder, folder)


# -- a truthful state after a crash -------------------------------------------------------------
def dead_owner():
    """The owner record of a process that has ended (and been reaped)."""
    code = (
        "import json, sys; from deltaw.runs.owner import this_process as t; print(json.dumps(t()))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def crash(folder):
    """Make ``folder`` look as a kill -9 after its last checkpoint leaves it."""
    recorded = info(folder)
    recorded.update(status="running", epochs=0, wall_time=0.0, owner=dead_owner())
    recorded.pop("resume", None)
    write_json(folder / "run.json", recorded)
    (folder / "weights.npz").unlink()


def test_a_run_whose_process_is_gone_is_crashed_with_its_checkpointed_epochs(tmp_path):
    folder = cut_run(tmp_path, 4)
    crash(folder)
    state = run_state(folder)
    assert (state.status, state.epochs, state.checkpoint) == ("crashed", 4, 4)
    assert state.resumable and "is gone" in state.note and "deltaw run --resume" in state.note
    trained = load_trained(folder)  # no weights.npz: the checkpoint's weights
    assert "crashed" in trained.note and "epoch 4" in trained.note
    ckpt = load_run_checkpoint(folder / "checkpoint.npz")[0]["weights"]
    assert all(np.array_equal(w, c) for w, c in zip(trained.network.weights, ckpt))
    (record,) = collect_runs([folder])
    assert (record.status, record.epochs) == ("crashed", 4)
    shown = runner.invoke(app, ["predict", str(folder)])
    assert shown.exit_code == 0 and "crashed" in shown.output
    assert "has not finished an epoch" not in shown.output
    resume_run(folder, plots=False)
    straight = run_spec(spec_file(tmp_path), out=tmp_path / "a", plots=False)
    assert_same_run(straight.folder, folder)


def test_a_run_whose_process_lives_is_running_and_is_not_resumed_twice(tmp_path):
    folder = cut_run(tmp_path, 2)
    recorded = info(folder)
    write_json(folder / "run.json", {**recorded, "status": "running", "owner": this_process()})
    assert run_state(folder).status == "running"
    with pytest.raises(DeltawError, match=f"still training, in process {os.getpid()}"):
        resume_run(folder, plots=False)
    elsewhere = {**this_process(), "host": "another-" + socket.gethostname()}
    write_json(folder / "run.json", {**recorded, "status": "running", "owner": elsewhere})
    assert run_state(folder).status == "running"  # cannot be checked from here


def test_owner_alive_tells_a_reused_pid_and_another_boot(tmp_path):
    me = this_process()
    assert owner_alive(me) is True
    assert owner_alive(dead_owner()) is False
    if me["started"] is not None:
        assert owner_alive({**me, "started": me["started"] - 1}) is False  # the pid was reused
    if me["boot"] is not None:
        assert owner_alive({**me, "boot": "another-boot"}) is False
    assert owner_alive(None) is None and owner_alive({**me, "host": "elsewhere"}) is None


def test_run_json_of_a_running_run_names_its_owner(tmp_path):
    seen = []

    class Look(CtrlC):
        def on_epoch_end(self, trainer, epoch, metrics):
            seen.append(info(trainer.run.folder))

    run_spec(spec_file(tmp_path, **SIMPLE), out=tmp_path / "a", callbacks=[Look(0)], plots=False)
    assert seen[0]["status"] == "running" and seen[0]["owner"]["pid"] == os.getpid()
    assert set(seen[0]["files"]) == {"spec.yaml", "overrides.json", "resolved.yaml"}
