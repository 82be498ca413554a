"""Sweeps: expanding grid/zip/random, validating every trial, running them through executor
plugins."""

import json

import numpy as np
import pytest
import yaml

import deltaw
from deltaw.errors import SpecError
from deltaw.registry import get_registry
from deltaw.runs.report import load_run
from deltaw.runs.sweep import expand, format_override, plan, run_sweep
from deltaw.spec.loading import validate_spec
from deltaw.spec.models import SweepSpec
from deltaw.spec.overrides import parse_override

BASE = {
    "name": "tiny-sweep",
    "seed": 5,
    "data": {"name": "blobs", "samples": 200, "classes": 2},
    "network": {
        "layers": [2, 4, 2],
        "activation": "tanh",
        "output_activation": "sigmoid",
        "init": "glorot-uniform",
    },
    "cost": "cross-entropy",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "training": {"epochs": 2, "batch_size": 20},
}


def spec_file(tmp_path, sweep, **changes):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes, "sweep": sweep}))
    return path


def test_grid_times_zip_times_random_in_order():
    sweep = SweepSpec.model_validate(
        {
            "grid": {"optimizer.lr": [0.1, 1.0], "training.batch_size": [8, 16]},
            "zip": {"seed": [1, 2], "name": ["a", "b"]},
        }
    )
    trials = expand(sweep, seed=0)
    assert len(trials) == 8
    assert trials[0] == {"optimizer.lr": 0.1, "training.batch_size": 8, "seed": 1, "name": "a"}
    assert trials[1] == {"optimizer.lr": 0.1, "training.batch_size": 8, "seed": 2, "name": "b"}
    assert trials[-1] == {"optimizer.lr": 1.0, "training.batch_size": 16, "seed": 2, "name": "b"}


def test_random_draws_are_reproducible_and_respect_their_ranges():
    sweep = SweepSpec.model_validate(
        {
            "random": {
                "samples": 200,
                "seed": 3,
                "params": {
                    "optimizer.lr": {"log_range": [0.001, 10]},
                    "regularizers.0.lmbda": {"range": [0, 5]},
                    "network.layers.1": {"int_range": [4, 6]},
                    "cost": {"choice": ["quadratic", "cross-entropy"]},
                },
            }
        }
    )
    a, b = expand(sweep, 0), expand(sweep, 0)
    assert a == b and len(a) == 200
    lrs = np.array([t["optimizer.lr"] for t in a])
    assert (
        lrs.min() >= 0.001 and lrs.max() <= 10 and (lrs < 0.01).any() and (lrs > 1).any()
    )  # log-uniform covers decades
    assert {t["network.layers.1"] for t in a} == {4, 5, 6}
    assert all(0 <= t["regularizers.0.lmbda"] <= 5 for t in a)
    assert {t["cost"] for t in a} == {"quadratic", "cross-entropy"}
    assert (
        expand(
            sweep.model_copy(update={"random": sweep.random.model_copy(update={"seed": None})}), 1
        )
        != a
    )


@pytest.mark.parametrize(
    "value", [0.025, 2.5e-07, 3, True, None, "cross-entropy", [784, 30, 10], "null", "1e3"]
)
def test_overrides_written_for_a_trial_parse_back_to_the_same_value(value):
    assert parse_override(format_override("a.b", value)) == ("a.b", value)


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({}, "a sweep needs grid, zip, random, seeds or repeat"),
        ({"grid": {"optimizer.lr": []}}, "grid.optimizer.lr has no values"),
        ({"zip": {"a": [1], "b": [1, 2]}}, "zip lists must have one length"),
        ({"grid": {"seed": [1]}, "zip": {"seed": [2]}}, "'seed' appears in both grid and zip"),
        ({"grid": {"sweep.workers": [1]}}, "a sweep cannot change the sweep section"),
        (
            {"random": {"samples": 2, "params": {"optimizer.lr": {"log_range": [0, 1]}}}},
            "log_range needs two positive numbers",
        ),
        (
            {"random": {"samples": 2, "params": {"x": {"range": [0, 1], "choice": [1]}}}},
            "exactly one of range",
        ),
        (
            {"gird": {"seed": [1]}},
            "sweep.gird: unknown key; accepted keys here: grid, zip, random, metric, mode, "
            "executor, workers, seeds, repeat",
        ),
        ({"grid": {"seed": [1]}, "executor": "ray"}, "Unknown executor 'ray' at sweep.executor"),
    ],
)
def test_a_bad_sweep_section_is_a_clear_error(sweep, message):
    with pytest.raises(SpecError) as info:
        validate_spec({**BASE, "sweep": sweep}, source="s.yaml")
    assert message in " ".join(str(info.value).split())


def test_every_trial_is_validated_before_anything_runs(tmp_path):
    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [-1, 0.1, -2], "training.epochs": [1]}})
    with pytest.raises(SpecError) as info:
        plan(path)
    text = str(info.value)
    assert "2 of 3 sweep trials do not validate" in text
    assert (
        "trial 1 (optimizer.lr=-1, training.epochs=1)" in text
        and "optimizer.lr: Input should be greater than 0" in text
    )
    assert not (tmp_path / "runs").exists()


def test_a_spec_without_a_sweep_section_says_what_to_add(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(BASE))
    with pytest.raises(SpecError, match="(?s)no sweep section.*grid: \\{optimizer.lr"):
        plan(path)


def test_trials_are_normal_run_folders_ranked_in_the_summary(tmp_path):
    path = spec_file(
        tmp_path,
        {"grid": {"optimizer.lr": [0.05, 2.0]}, "zip": {"seed": [1, 2]}, "executor": "serial"},
    )
    seen = []
    result = run_sweep(
        path, out=tmp_path / "runs", plots=False, on_trial=lambda t, n: seen.append((n, t.status))
    )
    assert seen == [(1, "completed"), (2, "completed"), (3, "completed"), (4, "completed")]
    names = sorted(p.name for p in result.folder.iterdir())
    assert names == [
        "overrides.json",
        "spec.yaml",
        "sweep.csv",
        "sweep.json",
        "trial-1-lr=0.05,seed=1",
        "trial-2-lr=0.05,seed=2",
        "trial-3-lr=2,seed=1",
        "trial-4-lr=2,seed=2",
    ]
    run = load_run(result.folder / "trial-3-lr=2,seed=1")
    assert (
        run.overrides == ["optimizer.lr=2.0", "seed=1"]
        and run.resolved["optimizer"]["lr"] == 2.0
        and run.status == "completed"
    )
    finals = [row["final"]["validation_accuracy"] for row in result.report.rows]
    assert finals == sorted(finals, reverse=True) and result.report.metric == "validation_accuracy"
    info = json.loads((result.folder / "sweep.json").read_text())
    assert (
        info["status"] == "finished" and [t["status"] for t in info["trials"]] == ["completed"] * 4
    )
    header = (result.folder / "sweep.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["run", "status", "seed", "optimizer.lr", "best_validation_accuracy"]


def test_a_failing_trial_is_recorded_and_the_others_go_on(tmp_path):
    # 190 validation points leave none for training (a DataError at load time); lr = 50 on a
    # linear net diverges to NaN
    path = spec_file(
        tmp_path,
        {
            "zip": {"data.validation": [0.1, 190, 0.1], "optimizer.lr": [0.1, 0.1, 50]},
            "executor": "serial",
        },
        network={"layers": [2, 4, 2], "activation": "identity"},
        cost="mse",
    )
    result = run_sweep(path, out=tmp_path / "runs", plots=False)
    statuses = {t.index: t.status for t in result.trials}
    assert statuses == {1: "completed", 2: "failed", 3: "diverged"}
    failed = result.trials[1]
    assert "fewer than the 2 classes" in failed.error
    assert "became NaN or infinite" in result.trials[2].error
    assert (
        json.loads((result.folder / failed.folder / "run.json").read_text())["status"] == "failed"
    )
    assert [r["status"] for r in result.report.rows][
        0
    ] == "completed"  # runs without the metric go last
    csv_text = (result.folder / "sweep.csv").read_text()
    assert "fewer than the 2 classes" in csv_text


class Backwards(deltaw.Executor):
    """A third-party executor: runs the jobs last first, in this process."""

    def run(self, fn, jobs, workers):
        for job in reversed(jobs):
            yield job, fn(job)


class ExecutorPlugin:
    @deltaw.hookimpl
    def register_executors(self, register):
        register("backwards", Backwards)


def test_an_executor_plugin_runs_the_trials_without_touching_the_sweep_logic(tmp_path):
    get_registry().register_plugin(ExecutorPlugin(), "backwards-executor")
    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.1, 0.2, 0.3]}, "executor": "backwards"})
    order = []
    result = run_sweep(
        path, out=tmp_path / "runs", plots=False, on_trial=lambda t, n: order.append(t.index)
    )
    assert order == [3, 2, 1] and all(t.status == "completed" for t in result.trials)


@pytest.mark.slow
def test_local_processes_give_the_same_numbers_as_serial(tmp_path):
    path = spec_file(tmp_path, {"grid": {"optimizer.lr": [0.1, 1.0]}})
    local = run_sweep(path, out=tmp_path / "local", workers=2, plots=False)
    serial = run_sweep(path, out=tmp_path / "serial", executor="serial", plots=False)
    assert [t.status for t in local.trials] == ["completed", "completed"]
    for a, b in zip(local.trials, serial.trials):
        assert a.result["final"]["validation_cost"] == b.result["final"]["validation_cost"]
        with (
            np.load(local.folder / a.folder / "weights.npz") as wa,
            np.load(serial.folder / b.folder / "weights.npz") as wb,
        ):
            assert all(np.array_equal(wa[k], wb[k]) for k in wa.files)


# -- repeats: seeds, mean ± std, bands -----------------------------------------------------------
def test_seeds_and_repeat_repeat_every_configuration():
    sweep = SweepSpec.model_validate({"grid": {"optimizer.lr": [0.1, 1.0]}, "seeds": [4, 2]})
    assert expand(sweep, seed=0) == [
        {"optimizer.lr": 0.1, "seed": 4},
        {"optimizer.lr": 0.1, "seed": 2},
        {"optimizer.lr": 1.0, "seed": 4},
        {"optimizer.lr": 1.0, "seed": 2},
    ]
    assert expand(SweepSpec.model_validate({"repeat": 3}), seed=7) == [
        {"seed": 7},
        {"seed": 8},
        {"seed": 9},
    ]
    for bad, message in [
        ({"seeds": [1], "repeat": 2}, "give seeds or repeat, not both"),
        ({"seeds": [1, 1]}, "has a seed twice"),
        ({"grid": {"seed": [1, 2]}, "repeat": 2}, "give seeds in one place"),
    ]:
        with pytest.raises(SpecError, match=message):
            validate_spec({**BASE, "sweep": bad}, source="s.yaml")


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    """Two learning rates × three seeds, run serially."""
    tmp = tmp_path_factory.mktemp("repeats")
    path = spec_file(
        tmp, {"grid": {"optimizer.lr": [0.1, 2.0]}, "seeds": [0, 1, 2], "executor": "serial"}
    )
    return run_sweep(path, out=tmp / "runs", plots=False)


def test_repeats_are_grouped_as_mean_and_sample_std_of_their_runs(repeated):
    from deltaw.plots.bands import band
    from deltaw.runs.repeats import group_report, group_runs
    from deltaw.runs.report import collect_runs, summarize

    assert [t.values for t in repeated.trials][:2] == [
        {"optimizer.lr": 0.1, "seed": 0},
        {"optimizer.lr": 0.1, "seed": 1},
    ]
    report = summarize(collect_runs([repeated.folder]))
    groups = group_report(report)
    assert sorted((g.label, len(g.rows), sorted(g.seeds)) for g in groups) == [
        ("optimizer.lr=0.1", 3, [0, 1, 2]),
        ("optimizer.lr=2", 3, [0, 1, 2]),
    ]
    means = [g.value["mean"] for g in groups]
    assert means == sorted(means, reverse=True)  # ranked by the mean final validation accuracy
    for g in groups:
        values = [row["final"]["validation_accuracy"] for row in g.rows]
        assert g.value["mean"] == pytest.approx(np.mean(values))
        assert g.value["std"] == pytest.approx(np.std(values, ddof=1)) and g.value["n"] == 3
        assert g.final["validation_cost"]["n"] == 3
    runs = collect_runs([repeated.folder])
    (label, first), _ = group_runs(runs)
    epochs, means, stds = band([r.history for r in first], "validation_cost")
    per_run = [[row["validation_cost"] for row in r.history] for r in first]
    assert epochs == [1, 2] and label == "optimizer.lr=0.1"
    assert means == pytest.approx(np.mean(per_run, axis=0))
    assert stds == pytest.approx(np.std(per_run, axis=0, ddof=1))


def test_report_shows_repeats_as_mean_and_std_and_plot_draws_bands(repeated, tmp_path):
    from typer.testing import CliRunner

    from deltaw.cli import app

    runner = CliRunner()
    table = runner.invoke(app, ["report", str(repeated.folder)])
    text = " ".join(table.output.split())
    assert table.exit_code == 0 and "2 configurations × seeds (6 runs)" in text and " ± " in text
    assert "0,1,2" in text
    data = json.loads(runner.invoke(app, ["report", str(repeated.folder), "--json"]).stdout)
    assert [g["n"] for g in data["groups"]] == [3, 3] and len(data["runs"]) == 6
    flat = runner.invoke(app, ["report", str(repeated.folder), "--no-group"])
    assert "6 runs, ranked" in " ".join(flat.output.split())
    pytest.importorskip("matplotlib")
    drawn = runner.invoke(app, ["plot", str(repeated.folder), "-o", str(tmp_path / "bands.png")])
    assert drawn.exit_code == 0 and (tmp_path / "bands.png").read_bytes()[:4] == b"\x89PNG"


def test_a_sweep_on_the_command_line_needs_no_sweep_section(tmp_path):
    from typer.testing import CliRunner

    from deltaw.cli import app

    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(BASE))
    result = CliRunner().invoke(
        app,
        ["sweep", str(path), "--grid", "optimizer.lr=0.05,5", "--seeds", "0,1", "--dry-run"],
    )
    assert result.exit_code == 0, result.output
    assert "trial 4: --set optimizer.lr=5 --set seed=1" in result.output
    also = CliRunner().invoke(
        app, ["sweep", str(path), "--set", "sweep.grid.optimizer.lr=[0.1, 1]", "--dry-run"]
    )
    assert also.exit_code == 0 and "trial 2: --set optimizer.lr=1" in also.output
