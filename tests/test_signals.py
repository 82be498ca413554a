"""Signals in a real process: SIGINT and SIGTERM keep the checkpoint and say how to resume;
after SIGKILL the folder reads as crashed with its checkpointed epochs; every resume ends bit
for bit where an uninterrupted run does.

``deltaw run`` runs in a subprocess through a launcher that registers a plugin slowing every
mini-batch down (so there is time to send the signal while it trains); the signal is sent
once the checkpoint of epoch 2 exists. Each test takes 2–4 s.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from test_resume import assert_same_run, spec_file
from typer.testing import CliRunner

from deltaw.cli import app
from deltaw.runs.checkpoint import checkpoint_epoch
from deltaw.runs.folder import run_state
from deltaw.runs.signals import Terminated, sigterm_as_interrupt
from deltaw.runs.train import run_spec

runner = CliRunner()

LAUNCHER = textwrap.dedent(
    """
    import sys, time
    import deltaw
    from deltaw.registry import get_registry

    class Slow:
        @deltaw.hookimpl
        def deltaw_batch_end(self, trainer, epoch, batch):
            time.sleep(0.01)

    get_registry().register_plugin(Slow(), "slow")
    from deltaw.cli import main
    sys.exit(main())
    """
)


def start(tmp_path):
    """``deltaw run`` of test_resume's spec in a subprocess; its process and run folder, once the
    checkpoint of epoch 2 exists (30 s at most)."""
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    out = tmp_path / "b"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "DELTAW_LOAD_PLUGINS": ""}
    cmd = [sys.executable, str(launcher), "run", str(spec_file(tmp_path)), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--quiet", "--no-plots"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        folders = list(out.glob("*")) if out.exists() else []
        if folders and (checkpoint_epoch(folders[0] / "checkpoint.npz") or 0) >= 2:
            return proc, folders[0]
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no checkpoint of epoch 2 within 30 s: {proc.communicate()}")


def resume_matches_straight(tmp_path, folder):
    resumed = runner.invoke(app, ["run", "--resume", str(folder), "--quiet", "--no-plots"])
    assert resumed.exit_code == 0, resumed.output
    straight = run_spec(spec_file(tmp_path), out=tmp_path / "a", plots=False)
    assert_same_run(straight.folder, folder)


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated (SIGTERM)")],
    ids=["SIGINT", "SIGTERM"],
)
def test_sigint_and_sigterm_keep_the_checkpoint_and_resume_bit_for_bit(tmp_path, sig, code, said):
    proc, folder = start(tmp_path)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    text = " ".join(stderr.split())
    assert proc.returncode == code, stderr
    assert said in text and f"Resume with: deltaw run --resume {folder}" in text
    assert "Traceback" not in stderr
    info = json.loads((folder / "run.json").read_text())
    kept = checkpoint_epoch(folder / "checkpoint.npz")
    rows = (folder / "metrics.jsonl").read_text().splitlines()
    assert info["status"] == "interrupted" and info["epochs"] == kept == len(rows) >= 2
    assert run_state(folder).status == "interrupted"
    resume_matches_straight(tmp_path, folder)


def test_after_sigkill_the_run_is_crashed_with_its_epochs_and_resumes_bit_for_bit(tmp_path):
    proc, folder = start(tmp_path)
    proc.kill()
    proc.wait(timeout=30)
    state = run_state(folder)
    assert state.status == "crashed" and state.epochs == state.checkpoint >= 2
    assert state.wall_time > 0.1  # from the run's start to its last checkpoint, not 0.0 s
    assert str(proc.pid) in state.note
    shown = runner.invoke(app, ["predict", str(folder)])
    assert shown.exit_code == 0, shown.output
    assert f"epoch {state.checkpoint}" in shown.output and "not finished" not in shown.output
    report = runner.invoke(app, ["report", str(folder)])
    assert report.exit_code == 0 and "crashed" in report.output
    resume_matches_straight(tmp_path, folder)


def test_sigterm_raises_terminated_once_and_the_previous_handler_comes_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs between bytecodes: this never ends
    assert signal.getsignal(signal.SIGTERM) is before
    with sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
        except Terminated:
            os.kill(os.getpid(), signal.SIGTERM)  # while stopping: ignored
            time.sleep(0.1)
    assert issubclass(Terminated, KeyboardInterrupt)  # the trainer rolls back as on Ctrl-C


def test_outside_the_main_thread_nothing_is_installed():
    seen = []

    def worker():
        with sigterm_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [before]


def _handler_in_a_worker(_):
    with sigterm_as_interrupt():
        return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_multiprocessing_worker_keeps_the_handler_its_executor_chose():
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    with multiprocessing.get_context("fork" if "fork" in methods else "spawn").Pool(1) as pool:
        assert pool.map(_handler_in_a_worker, [0]) == [True]
