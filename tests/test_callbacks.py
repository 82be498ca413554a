"""Built-in callbacks (early stopping, checkpoints, non-finite stop, loggers) and the pluggy run
hooks."""

import json
import types

import numpy as np
import pytest
import yaml

import deltaw
from deltaw.errors import DeltawError, SpecError
from deltaw.plugins.callbacks import Checkpoint, CsvLog, EarlyStopping, JsonlLog, StopOnNonFinite
from deltaw.registry import get_registry
from deltaw.registry.runhooks import hook_callbacks
from deltaw.runs.checkpoint import load_run_checkpoint, save_run_checkpoint
from deltaw.runs.train import resume_run, run_spec
from deltaw.runs.writer import callback_states

SPEC = {
    "name": "tiny",
    "seed": 4,
    "data": {"name": "blobs", "samples": 300, "classes": 3},
    "network": {
        "layers": [2, 8, 3],
        "activation": "tanh",
        "output_activation": "softmax",
        "init": "glorot-uniform",
    },
    "cost": "log-likelihood",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 6, "batch_size": 16},
}


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def fake_trainer(values=(1.0,)):
    net = types.SimpleNamespace(params=lambda: net.arrays, arrays=[np.array(values, dtype=float)])
    return types.SimpleNamespace(network=net, stop=False, stop_reason=None, lr=0.5)


def feed(callback, trainer, key, values):
    for epoch, v in enumerate(values, 1):
        trainer.network.arrays[0][...] = epoch  # the "weights" are the epoch number
        callback.on_epoch_end(trainer, epoch, {"epoch": epoch, key: v})
        if trainer.stop:
            return epoch
    return None


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    t = fake_trainer()
    stopped = feed(
        EarlyStopping(patience=3), t, "validation_accuracy", [0.5, 0.7, 0.7, 0.69, 0.7, 0.9]
    )
    assert stopped == 5
    assert (
        "validation_accuracy has not improved for 3 epochs (best 0.7 at epoch 2)" in t.stop_reason
    )


def test_early_stopping_min_delta_and_costs_going_down():
    t = fake_trainer()
    # improvements smaller than min_delta do not count; a cost improves by going down
    stopped = feed(
        EarlyStopping(monitor="validation_cost", patience=2, min_delta=0.05),
        t,
        "validation_cost",
        [1.0, 0.9, 0.88, 0.87],
    )
    assert stopped == 4


def test_early_stopping_restore_best_puts_back_the_best_epochs_weights():
    t = fake_trainer()
    feed(
        EarlyStopping(patience=2, restore_best=True), t, "validation_accuracy", [0.5, 0.8, 0.6, 0.7]
    )
    assert t.network.arrays[0][0] == 2.0 and "restored the weights of epoch 2" in t.stop_reason


def test_early_stopping_state_round_trips():
    a = EarlyStopping(patience=3, restore_best=True)
    feed(a, fake_trainer(), "validation_accuracy", [0.5, 0.8, 0.6])
    b = EarlyStopping(patience=3, restore_best=True)
    b.load_state_dict(a.state_dict())
    assert (b.best, b.best_epoch, b.wait) == (0.8, 2, 1) and b.best_params[0][0] == 2.0


def test_stop_on_non_finite_names_the_metric_and_the_likely_fix():
    t = fake_trainer()
    StopOnNonFinite().on_epoch_end(
        t, 3, {"epoch": 3, "training_cost": float("inf"), "training_accuracy": 0.1}
    )
    assert (
        t.stop
        and "training_cost became inf at epoch 3" in t.stop_reason
        and "optimizer.lr" in t.stop_reason
    )
    t = fake_trainer()
    StopOnNonFinite(monitor=["validation_cost"]).on_epoch_end(
        t, 1, {"training_cost": float("nan"), "validation_cost": 1.0}
    )
    assert not t.stop


def test_checkpoint_callback_needs_a_run_folder():
    with pytest.raises(DeltawError, match="trainer.run"):
        Checkpoint(every=1).on_run_start(types.SimpleNamespace(run=None))


def test_checkpoint_needs_every_or_best(tmp_path):
    with pytest.raises(SpecError, match="callbacks\\[0\\].*set every"):
        run_spec(spec_file(tmp_path, callbacks=["checkpoint"]), out=tmp_path / "runs", plots=False)


def test_checkpoint_keeps_periodic_and_best_checkpoints(tmp_path):
    callbacks = [{"name": "checkpoint", "every": 2, "best": True, "monitor": "validation_cost"}]
    result = run_spec(spec_file(tmp_path, callbacks=callbacks), out=tmp_path / "runs", plots=False)
    folder = result.folder
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == [
        "epoch-0002.npz",
        "epoch-0004.npz",
        "epoch-0006.npz",
    ]
    assert load_run_checkpoint(folder / "checkpoints" / "epoch-0004.npz")[0]["epoch"] == 4
    best = json.loads((folder / "best.json").read_text())
    costs = [h["validation_cost"] for h in result.history]
    assert best["epoch"] == int(np.argmin(costs)) + 1 and best["value"] == min(costs)
    assert load_run_checkpoint(folder / "best.npz")[0]["epoch"] == best["epoch"]


def test_early_stopping_from_a_spec_stops_the_run_and_says_why(tmp_path):
    callbacks = [
        {"name": "early-stopping", "monitor": "training_cost", "patience": 1, "min_delta": 10.0}
    ]
    result = run_spec(spec_file(tmp_path, callbacks=callbacks), out=tmp_path / "runs", plots=False)
    assert result.status == "stopped" and len(result.history) == 2
    assert "early stopping: training_cost has not improved" in result.message
    assert json.loads((result.folder / "run.json").read_text())["status"] == "stopped"


def test_a_monitor_the_run_does_not_record_fails_before_training(tmp_path):
    spec = spec_file(
        tmp_path, callbacks=[{"name": "early-stopping", "monitor": "validation_acuracy"}]
    )
    with pytest.raises(
        SpecError, match="callbacks\\[0\\].monitor is 'validation_acuracy'.*validation_accuracy"
    ):
        run_spec(spec, out=tmp_path / "runs", plots=False)
    assert not (tmp_path / "runs").exists()


def test_loggers_write_one_row_per_epoch(tmp_path):
    callbacks = [
        {"name": "csv-log", "separator": ";"},
        {"name": "jsonl-log", "path": str(tmp_path / "elsewhere.jsonl")},
    ]
    result = run_spec(spec_file(tmp_path, callbacks=callbacks), out=tmp_path / "runs", plots=False)
    lines = (result.folder / "log.csv").read_text().splitlines()
    assert lines[0].split(";")[:2] == ["epoch", "lr"] and len(lines) == 7
    rows = [json.loads(line) for line in (tmp_path / "elsewhere.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5, 6]


def test_csv_log_append_keeps_earlier_runs(tmp_path):
    target = tmp_path / "all.csv"
    for _ in range(2):
        run_spec(
            spec_file(
                tmp_path, callbacks=[{"name": "csv-log", "path": str(target), "append": True}]
            ),
            ["training.epochs=2"],
            out=tmp_path / "runs",
            plots=False,
        )
    lines = target.read_text().splitlines()
    assert len(lines) == 6 and lines[0] == lines[3]  # two runs, each a header and two rows


def test_loggers_outside_a_run_need_an_absolute_path(tmp_path):
    with pytest.raises(DeltawError, match="run folder"):
        CsvLog().on_run_start(types.SimpleNamespace(run=None))
    log = JsonlLog(path=str(tmp_path / "x.jsonl"))
    log.on_run_start(types.SimpleNamespace(run=None))
    log.on_epoch_end(None, 1, {"epoch": 1})
    assert (tmp_path / "x.jsonl").read_text() == '{"epoch": 1}\n'


class Tracker:
    """A third-party experiment tracker, written the way the docs show: one pluggy hook."""

    def __init__(self):
        self.seen = []

    @deltaw.hookimpl
    def deltaw_epoch_end(self, trainer, epoch, metrics):
        self.seen.append((epoch, metrics["validation_accuracy"]))


def test_a_third_party_callback_sees_every_epoch_through_the_pluggy_hook(tmp_path):
    tracker = Tracker()
    get_registry().register_plugin(tracker, "tracker")
    result = run_spec(spec_file(tmp_path), out=tmp_path / "runs", plots=False)
    assert tracker.seen == [(h["epoch"], h["validation_accuracy"]) for h in result.history]


def test_per_batch_hooks_cost_nothing_unless_a_plugin_implements_one():
    reg = get_registry()
    assert hook_callbacks(reg) == []
    reg.register_plugin(Tracker(), "tracker")
    (adapter,) = hook_callbacks(reg)
    assert (
        not hasattr(type(adapter), "on_batch_end")
        or type(adapter).on_batch_end is deltaw.Callback.on_batch_end
    )

    class PerBatch:
        @deltaw.hookimpl
        def deltaw_batch_end(self, trainer, epoch, batch):
            pass

    reg.register_plugin(PerBatch(), "per-batch")
    (adapter,) = hook_callbacks(reg)
    assert type(adapter).on_batch_end is not deltaw.Callback.on_batch_end


# -- the declared contracts: callback state, and watching a metric with deltaw.Monitor ----------


class CtrlC(deltaw.Callback):
    """Raises KeyboardInterrupt at the end of epoch ``epoch`` (after its checkpoint is written)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, metrics):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_every_callback_has_a_state_and_a_stateless_one_saves_an_empty_dict():
    class Quiet(deltaw.Callback):
        """Does nothing, so has no state."""

    quiet = Quiet()
    assert quiet.state_dict() == {} and quiet.load_state_dict({}) is None
    es = EarlyStopping(patience=3)
    feed(es, fake_trainer(), "validation_accuracy", [0.5, 0.8])
    assert callback_states([quiet, StopOnNonFinite(), es]) == [
        {},
        {},
        {"best": 0.8, "best_epoch": 2, "wait": 0},
    ]


def test_a_checkpoint_storing_none_for_a_stateless_callback_still_resumes(tmp_path):
    callbacks = ["stop-on-non-finite", {"name": "early-stopping", "patience": 50}]
    spec = spec_file(tmp_path, callbacks=callbacks)
    straight = run_spec(spec, out=tmp_path / "a", plots=False)
    cut = run_spec(spec, out=tmp_path / "b", callbacks=[CtrlC(2)], plots=False)
    path = cut.folder / "checkpoint.npz"
    state, states = load_run_checkpoint(path)
    assert states[0] == {} and states[1]["best_epoch"] >= 1
    save_run_checkpoint(
        path, state, [None, states[1]]
    )  # the layout written before Callback had state_dict
    resumed = resume_run(cut.folder, plots=False)
    drop = ("train_time", "eval_time")
    assert [{k: v for k, v in h.items() if k not in drop} for h in resumed.history] == [
        {k: v for k, v in h.items() if k not in drop} for h in straight.history
    ]
    assert (
        load_run_checkpoint(path)[1] == load_run_checkpoint(straight.folder / "checkpoint.npz")[1]
    )


class Hits(deltaw.Metric):
    """Fraction of rows whose largest output is the target class (higher is better)."""

    def compute(self, a, y, context):
        return float((a.argmax(axis=1) == y.argmax(axis=1)).mean())


class BestOf(deltaw.Callback):
    """Remembers the best value of one metric: a third-party rule watching a metric."""

    class Params(deltaw.MonitorParams):
        pass

    def __init__(self, params=None, **kwargs):
        super().__init__(params, **kwargs)
        self.monitor = deltaw.Monitor(self.params.monitor, self.params.mode)
        self.best = None

    def on_epoch_end(self, trainer, epoch, metrics):
        value = self.monitor.value(metrics, "best-of callback")
        if self.monitor.improved(value, self.best):
            self.best = value

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = state["best"]


class HitsPlugin:
    @deltaw.hookimpl
    def register_metrics(self, register):
        register("hits", Hits)

    @deltaw.hookimpl
    def register_callbacks(self, register):
        register("best-of", BestOf)


def test_the_monitor_types_are_public_and_the_builtins_use_them():
    from deltaw.core.monitor import Monitor
    from deltaw.params import MonitorParams

    assert deltaw.Monitor is Monitor and deltaw.MonitorParams is MonitorParams
    assert issubclass(EarlyStopping.Params, MonitorParams)
    assert issubclass(Checkpoint.Params, MonitorParams)
    assert isinstance(EarlyStopping().monitor, Monitor) and deltaw.Callback.monitor is None


def test_a_third_party_monitor_is_checked_before_training_and_bound_to_its_metric(tmp_path):
    get_registry().register_plugin(HitsPlugin(), "hits-plugin")
    assert not deltaw.Monitor("validation_hits").higher  # the name alone would say "lower"
    spec = spec_file(
        tmp_path,
        metrics=["cost", "hits"],
        callbacks=[{"name": "best-of", "monitor": "validation_hit"}],
    )
    with pytest.raises(SpecError, match="callbacks\\[0\\].monitor is 'validation_hit'"):
        run_spec(spec, out=tmp_path / "runs", plots=False)
    spec = spec_file(
        tmp_path,
        data={"name": "moons", "samples": 300, "noise": 0.3},
        network={"layers": [2, 4, 2], "activation": "tanh", "output_activation": "softmax"},
        optimizer={"name": "sgd", "lr": 0.05},
        metrics=["cost", "hits"],
        callbacks=[{"name": "best-of", "monitor": "validation_hits"}],
    )
    result = run_spec(spec, out=tmp_path / "runs", plots=False)
    hits = [h["validation_hits"] for h in result.history]
    assert min(hits) < max(hits)  # so choosing the wrong direction would show
    (state,) = load_run_checkpoint(result.folder / "checkpoint.npz")[1]
    assert state == {"best": max(hits)}  # bound to Hits.higher_is_better, not guessed
