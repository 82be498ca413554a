"""Checkpoints and resume: an interrupted run, resumed, ends bit for bit where an uninterrupted
one does.

Ctrl-C is simulated by a callback (or a pluggy hook) raising KeyboardInterrupt.
"""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import deltaw
from deltaw.cli import app
from deltaw.errors import SpecError, TrainingError
from deltaw.registry import get_registry
from deltaw.runs.checkpoint import load_run_checkpoint
from deltaw.runs.train import resume_run, run_spec

runner = CliRunner()

# Adam (optimizer state), a plateau schedule that really changes η (schedule state), early stopping
# with restore_best (callback state holding arrays), a CSV logger (a file to keep consistent).
SPEC = {
    "name": "resumable",
    "seed": 11,
    "data": {"name": "moons", "samples": 240, "noise": 0.2},
    "network": {
        "layers": [2, 6, 2],
        "activation": "tanh",
        "output_activation": "sigmoid",
        "init": "glorot-uniform",
    },
    "cost": "cross-entropy",
    "optimizer": {"name": "adam", "lr": 0.05},
    "regularizers": [{"name": "l2", "lmbda": 0.1}],
    "schedule": {
        "name": "reduce-on-plateau",
        "monitor": "training_cost",
        "patience": 0,
        "factor": 0.7,
        "threshold": 0.05,
    },
    "callbacks": [
        {"name": "early-stopping", "patience": 50, "restore_best": True},
        {"name": "csv-log"},
    ],
    "training": {"epochs": 6, "batch_size": 16, "clip": {"norm": 5.0}, "weight_decay": 0.001},
}
TIMES = ("train_time", "eval_time")


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def history(folder):
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMES} for r in rows]


def weights(folder):
    with np.load(folder / "weights.npz") as z:
        return {k: z[k] for k in z.files}


def assert_same_run(a, b):
    assert history(a) == history(b)
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)
    sa, ca = load_run_checkpoint(a / "checkpoint.npz")
    sb, cb = load_run_checkpoint(b / "checkpoint.npz")
    for x, y in zip(sa["optimizer"], sb["optimizer"]):
        assert all(np.array_equal(x[k], y[k]) for k in x)
    assert (sa["step"], sa["lr"], sa["schedule"], sa["rng"]) == (
        sb["step"],
        sb["lr"],
        sb["schedule"],
        sb["rng"],
    )
    assert ca[0]["best"] == cb[0]["best"] and all(
        np.array_equal(p, q) for p, q in zip(ca[0]["best_params"], cb[0]["best_params"])
    )
    csv_a, csv_b = (
        (a / "log.csv").read_text().splitlines(),
        (b / "log.csv").read_text().splitlines(),
    )
    assert len(csv_a) == len(csv_b) == 7


class CtrlC(deltaw.Callback):
    """Raises KeyboardInterrupt at the end of epoch ``epoch`` (after its checkpoint is written)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class CtrlCMidEpoch(deltaw.Callback):
    """Raises KeyboardInterrupt in the middle of epoch ``epoch``."""

    def __init__(self, epoch, batch=3):
        super().__init__()
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    "interrupt", [CtrlC(1), CtrlC(4), CtrlCMidEpoch(3)], ids=["after-1", "after-4", "during-3"]
)
def test_stopping_and_resuming_gives_the_uninterrupted_run_bit_for_bit(tmp_path, interrupt):
    spec = spec_file(tmp_path)
    straight = run_spec(spec, out=tmp_path / "a", plots=False)
    assert straight.status == "completed"
    cut = run_spec(spec, out=tmp_path / "b", callbacks=[interrupt], plots=False)
    assert cut.status == "interrupted"
    assert f"Resume with: deltaw run --resume {cut.folder}" in cut.message
    info = json.loads((cut.folder / "run.json").read_text())
    assert info["status"] == "interrupted" and info["resume"] == f"deltaw run --resume {cut.folder}"
    kept = load_run_checkpoint(cut.folder / "checkpoint.npz")[0]["epoch"]
    assert kept == (2 if isinstance(interrupt, CtrlCMidEpoch) else interrupt.epoch)
    assert len(history(cut.folder)) == kept
    resumed = resume_run(cut.folder, plots=False)
    assert resumed.status == "completed" and resumed.folder == cut.folder
    assert_same_run(straight.folder, cut.folder)


def test_a_crash_between_the_metrics_and_the_checkpoint_leaves_no_duplicate_rows(tmp_path):
    spec = spec_file(tmp_path)
    straight = run_spec(spec, out=tmp_path / "a", plots=False)
    cut = run_spec(spec, out=tmp_path / "b", callbacks=[CtrlC(3)], plots=False)
    with open(
        cut.folder / "metrics.jsonl", "a"
    ) as f:  # as if epoch 4's row was written but not its checkpoint
        f.write(json.dumps({"epoch": 4, "lr": 0.0}) + "\n")
    resume_run(cut.folder, plots=False)
    assert_same_run(straight.folder, cut.folder)


def test_resuming_a_finished_run_says_how_to_train_longer_and_extending_equals_a_longer_run(
    tmp_path,
):
    simple = {"schedule": None, "callbacks": []}
    short = run_spec(
        spec_file(tmp_path, **simple), ["training.epochs=3"], out=tmp_path / "a", plots=False
    )
    with pytest.raises(
        TrainingError, match="already completed its 3 epochs.*--set training.epochs=13"
    ):
        resume_run(short.folder, plots=False)
    with pytest.raises(SpecError, match="only training.epochs and optimizer.lr may change"):
        resume_run(short.folder, ["training.batch_size=8"], plots=False)
    resume_run(short.folder, ["training.epochs=5"], plots=False)
    long = run_spec(
        spec_file(tmp_path, **simple), ["training.epochs=5"], out=tmp_path / "b", plots=False
    )
    assert history(short.folder) == history(long.folder)
    assert all(
        np.array_equal(weights(short.folder)[k], weights(long.folder)[k])
        for k in weights(long.folder)
    )
    assert json.loads((short.folder / "overrides.json").read_text()) == [
        "training.epochs=3",
        "training.epochs=5",
    ]


class Interrupter:
    """A plugin that presses Ctrl-C in epoch 2, batch 2 (the CLI's registry picks it up)."""

    @deltaw.hookimpl
    def deltaw_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == (2, 2):
            raise KeyboardInterrupt


def test_cli_ctrl_c_keeps_a_checkpoint_says_how_to_resume_and_resume_finishes_the_same(tmp_path):
    spec = str(spec_file(tmp_path))
    ok = runner.invoke(app, ["run", spec, "--out", str(tmp_path / "a"), "--quiet", "--no-plots"])
    assert ok.exit_code == 0, ok.output
    get_registry().register_plugin(Interrupter(), "interrupter")
    cut = runner.invoke(app, ["run", spec, "--out", str(tmp_path / "b"), "--quiet", "--no-plots"])
    assert cut.exit_code == 130, cut.output
    (folder,) = (tmp_path / "b").iterdir()
    text = " ".join(cut.output.split())
    assert "Interrupted during epoch 2; kept the checkpoint of epoch 1." in text
    assert f"Resume with: deltaw run --resume {folder}" in text
    get_registry().unregister_plugin("interrupter")
    resumed = runner.invoke(app, ["run", "--resume", str(folder), "--quiet", "--no-plots"])
    assert resumed.exit_code == 0, resumed.output
    (straight,) = (tmp_path / "a").iterdir()
    assert_same_run(straight, folder)


def test_cli_run_needs_a_spec_or_resume_but_not_both(tmp_path):
    assert runner.invoke(app, ["run"]).exit_code == 2
    both = runner.invoke(app, ["run", str(spec_file(tmp_path)), "--resume", str(tmp_path)])
    assert both.exit_code == 2 and "not both" in both.output
    nowhere = runner.invoke(app, ["run", "--resume", str(tmp_path / "nope")])
    assert nowhere.exit_code == 1 and "no such folder" in nowhere.output
    not_a_run = runner.invoke(app, ["run", "--resume", str(tmp_path)])
    assert not_a_run.exit_code == 1 and "is not a deltaw run folder" in " ".join(
        not_a_run.output.split()
    )


ETA_1000 = {
    "name": "eta-1000",
    "seed": 1,
    "data": {"name": "blobs", "samples": 300, "classes": 3},
    "network": {"layers": [2, 8, 3], "activation": "sigmoid", "init": "nielsen"},
    "cost": "quadratic",
    "optimizer": {"name": "sgd", "lr": 1000},
    "training": {"epochs": 10, "batch_size": 10},
}


def test_eta_1000_stops_with_a_clear_message_instead_of_running_on_at_chance(tmp_path):
    path = tmp_path / "eta.yaml"
    path.write_text(yaml.safe_dump(ETA_1000))
    result = runner.invoke(
        app, ["run", str(path), "--out", str(tmp_path / "runs"), "--quiet", "--no-plots"]
    )
    assert result.exit_code == 5
    text = " ".join(result.output.split())
    assert (
        "Training diverged: training stalled in epoch" in text and "at learning rate 1000" in text
    )
    assert "try --set optimizer.lr=10" in text and "Traceback" not in text
    (folder,) = (tmp_path / "runs").iterdir()
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "diverged" and len(history(folder)) == info["epochs"]
    with pytest.raises(TrainingError, match="resuming would diverge again"):
        resume_run(folder)
    off = runner.invoke(
        app,
        [
            "run",
            str(path),
            "--out",
            str(tmp_path / "off"),
            "--quiet",
            "--no-plots",
            "--set",
            "training.stall_check=false",
        ],
    )
    assert off.exit_code == 0  # the book's behaviour: it runs on, at chance level


def test_nan_weights_stop_naming_epoch_and_batch_and_keep_the_last_good_checkpoint(tmp_path):
    path = tmp_path / "nan.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                **ETA_1000,
                "network": {"layers": [2, 8, 3], "activation": "identity"},
                "cost": "mse",
                "optimizer": {"name": "sgd", "lr": 10},
            }
        )
    )
    result = runner.invoke(
        app, ["run", str(path), "--out", str(tmp_path / "runs"), "--quiet", "--no-plots"]
    )
    assert result.exit_code == 5
    text = " ".join(result.output.split())
    assert (
        "the weights became NaN or infinite in epoch 1, mini-batch" in text
        and "optimizer.lr=1" in text
    )
    (folder,) = (tmp_path / "runs").iterdir()
    assert all(
        np.isfinite(w).all() for w in weights(folder).values()
    )  # the last good weights, not NaNs
