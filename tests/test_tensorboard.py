"""The tensorboard callback and ``deltaw export tensorboard`` (issue 11 §2).

The event files are read back with TensorBoard's own reader and checked against
``metrics.jsonl``; a resumed run appends without a duplicate step, even after an
interruption that left an epoch in the event file past the checkpoint.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import deltaw
from deltaw.cli import app
from deltaw.errors import DeltawError
from deltaw.plugins.costs import LogLikelihood
from deltaw.plugins.tensorboard import TensorBoard, tag
from deltaw.registry import get_registry
from deltaw.runs.export import export_tensorboard
from deltaw.runs.sweep import run_sweep
from deltaw.runs.train import resume_run, run_spec

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

runner = CliRunner()

SPEC = {
    "name": "tb",
    "seed": 3,
    "data": {"name": "blobs", "samples": 240, "classes": 3},
    "network": {"layers": [2, 6, 5, 3], "activation": "sigmoid", "output_activation": "softmax"},
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 4, "batch_size": 16},
}
TB = {"name": "tensorboard", "gradient_norms": True, "histograms": True, "samples": 50}


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def read(logdir):
    acc = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0}
    )
    acc.Reload()
    return acc


def scalars(acc, name):
    return [(e.step, e.value) for e in acc.Scalars(name)]


def history(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def assert_matches_metrics(acc, folder, splits=("training", "validation")):
    rows = history(folder)
    for split in splits:
        for metric in ("accuracy", "cost"):
            got = scalars(acc, f"{split}/{metric}")
            want = [(r["epoch"], r[f"{split}_{metric}"]) for r in rows]
            assert [s for s, _ in got] == [s for s, _ in want]
            assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)
    assert [v for _, v in scalars(acc, "optimizer/lr")] == pytest.approx([r["lr"] for r in rows])


def test_the_callback_writes_every_metric_per_split_the_layer_speeds_and_the_hparams(tmp_path):
    result = run_spec(spec_file(tmp_path, callbacks=[TB]), out=tmp_path / "runs", plots=False)
    acc = read(result.folder / "tb")
    assert_matches_metrics(acc, result.folder)
    assert {"time/train", "time/eval"} <= set(acc.Tags()["scalars"])

    # the learning speed of each layer, from step 0 (before training) to the last epoch, on the
    # first `samples` training rows: recomputed here from the final weights
    run = deltaw.load_run(result.folder)
    train = run.load_data().train
    nabla_w, nabla_b = run.network.backprop(train.x[:50], train.y[:50], LogLikelihood())
    for l in (1, 2, 3):
        b_norms = scalars(acc, f"gradient_norm/layer{l}/b")
        assert [s for s, _ in b_norms] == [0, 1, 2, 3, 4]
        assert b_norms[-1][1] == pytest.approx(np.linalg.norm(nabla_b[l - 1]), rel=1e-5)
        w_norm = scalars(acc, f"gradient_norm/layer{l}/W")[-1][1]
        assert w_norm == pytest.approx(np.linalg.norm(nabla_w[l - 1]), rel=1e-5)
        for kind in ("weights", "gradients"):
            assert [e.step for e in acc.Histograms(f"{kind}/layer{l}/W")] == [0, 1, 2, 3, 4]
    final_b2 = acc.Histograms("weights/layer2/b")[-1].histogram_value
    assert final_b2.num == 5 and final_b2.sum == pytest.approx(run.network.biases[1].sum())

    # the HParams view: the flattened resolved spec, the metrics by their scalar tags
    content = acc.PluginTagToContent("hparams")
    from tensorboard.plugins.hparams import plugin_data_pb2

    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["optimizer.lr"].number_value == 0.5
    assert start.hparams["network.layers"].string_value == "[2, 6, 5, 3]"
    assert start.hparams["cost.name"].string_value == "log-likelihood"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/experiment"]
    ).experiment
    assert {m.name.tag for m in experiment.metric_infos} == {
        "training/cost",
        "training/accuracy",
        "validation/cost",
        "validation/accuracy",
    }


class CtrlCOnce(deltaw.Callback):
    """Ctrl-C at the end of epoch 3, once: after the tensorboard callback, before the checkpoint."""

    pressed = False

    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch == 3 and not CtrlCOnce.pressed:
            CtrlCOnce.pressed = True
            raise KeyboardInterrupt


class CtrlCPlugin:
    @deltaw.hookimpl
    def register_callbacks(self, register):
        register("ctrl-c-once", CtrlCOnce)


def test_a_resumed_run_appends_without_a_duplicate_step(tmp_path):
    get_registry().register_plugin(CtrlCPlugin(), "ctrl-c")
    CtrlCOnce.pressed = False
    # the spec's callbacks run before the run writes the epoch: epoch 3 reaches the event file,
    # then Ctrl-C, so the checkpoint is epoch 2's
    spec = spec_file(tmp_path, callbacks=[TB, {"name": "ctrl-c-once"}])
    first = run_spec(spec, out=tmp_path / "runs", plots=False)
    assert first.status == "interrupted" and len(history(first.folder)) == 2
    again = resume_run(first.folder, plots=False)
    assert again.status == "completed"
    acc = read(first.folder / "tb")
    assert_matches_metrics(acc, first.folder)  # steps 1..4, each once
    assert [s for s, _ in scalars(acc, "gradient_norm/layer1/b")] == [0, 1, 2, 3, 4]
    assert len(list((first.folder / "tb").glob("events.out.tfevents.*"))) == 2


def test_switched_on_for_every_run_by_the_environment_and_by_the_command_line(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("DELTAW_TENSORBOARD", "1")
    # with the callback in the spec as well, the run still writes one set of files
    both = run_spec(spec_file(tmp_path, callbacks=[TB]), out=tmp_path / "env", plots=False)
    assert len(list((both.folder / "tb").glob("events.out.tfevents.*"))) == 1
    plain = run_spec(spec_file(tmp_path), out=tmp_path / "env", plots=False)
    assert_matches_metrics(read(plain.folder / "tb"), plain.folder)

    monkeypatch.delenv("DELTAW_TENSORBOARD")
    off = run_spec(spec_file(tmp_path), out=tmp_path / "off", plots=False)
    assert not (off.folder / "tb").exists()
    out = runner.invoke(
        app,
        ["run", str(spec_file(tmp_path)), "--out", str(tmp_path / "cli"), "--tensorboard", "-q"],
    )
    assert out.exit_code == 0, out.output
    (folder,) = (tmp_path / "cli").iterdir()
    assert_matches_metrics(read(folder / "tb"), folder)


def test_a_missing_extra_is_named_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import tensorboardX fails
    with pytest.raises(DeltawError, match=r"pip install 'deltaw\[tensorboard\]'"):
        run_spec(spec_file(tmp_path, callbacks=[TB]), out=tmp_path / "runs", plots=False)
    with pytest.raises(DeltawError, match=r"pip install 'deltaw\[tensorboard\]'"):
        TensorBoard().on_run_start(fake_trainer(tmp_path))


def fake_trainer(tmp_path):
    from deltaw.core.run_context import RunContext

    class T:
        run = RunContext(tmp_path)

    return T()


def test_tags_split_the_record_keys_at_the_split_name():
    splits = ["training", "my_split"]
    assert tag("training_accuracy", splits) == "training/accuracy"
    assert tag("my_split_cost", splits) == "my_split/cost"
    assert tag("my_split_top_5", splits) == "my_split/top_5"
    assert tag("lr", splits) == "optimizer/lr"
    assert tag("train_time", splits) == "time/train"


def test_export_writes_the_same_files_for_runs_and_sweeps_made_earlier(tmp_path):
    run = run_spec(spec_file(tmp_path), out=tmp_path / "runs", plots=False)
    sweep_spec = tmp_path / "sweep.yaml"
    sweep = {"grid": {"optimizer.lr": [0.1, 1.0]}, "executor": "serial"}
    sweep_spec.write_text(yaml.safe_dump({**SPEC, "sweep": sweep}))
    swept = run_sweep(sweep_spec, out=tmp_path / "runs", plots=False)

    out = runner.invoke(app, ["export", "tensorboard", str(tmp_path / "runs")])
    assert out.exit_code == 0, out.output
    assert out.output.count("Wrote ") == 3
    folders = [run.folder] + [swept.folder / t.folder for t in swept.trials]
    for folder in folders:
        acc = read(folder / "tb")
        assert_matches_metrics(acc, folder)
        assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")
    from tensorboard.plugins.hparams import plugin_data_pb2

    lrs = []
    for folder in folders[1:]:
        content = read(folder / "tb").PluginTagToContent("hparams")
        info = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        lrs.append(info.session_start_info.hparams["optimizer.lr"].number_value)
    assert lrs == [0.1, 1.0]  # the HParams view compares the trials

    # a second export leaves them alone, unless --force (which replaces, never duplicates)
    again = export_tensorboard([run.folder])
    assert not again[0].written and "--force" in again[0].skipped
    out = runner.invoke(app, ["export", "tensorboard", str(run.folder)])
    assert out.exit_code == 1 and "Skipped" in out.output
    forced = export_tensorboard([run.folder], force=True)
    assert forced[0].written and forced[0].epochs == 4
    assert len(list((run.folder / "tb").glob("events.out.tfevents.*"))) == 1
    assert_matches_metrics(read(run.folder / "tb"), run.folder)
