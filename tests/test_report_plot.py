"""Reports of run folders, learning-curve and decision-region plots, and predictions from a
trained run."""

import builtins
import json

import numpy as np
import pytest
import yaml

import deltaw
import deltaw.plots
from deltaw.errors import DeltawError
from deltaw.registry import get_registry
from deltaw.runs.predict import evaluate, input_data, load_trained, save_predictions
from deltaw.runs.report import (
    RunRecord,
    collect_runs,
    differing_keys,
    flatten,
    higher_is_better,
    labels,
    report_csv,
    short_keys,
    summarize,
)
from deltaw.runs.train import run_spec

SPEC = {
    "name": "moons",
    "seed": 2,
    "data": {"name": "moons", "samples": 300},
    "network": {
        "layers": [2, 8, 2],
        "activation": "tanh",
        "output_activation": "sigmoid",
        "init": "glorot-uniform",
    },
    "cost": "cross-entropy",
    "optimizer": {"name": "sgd", "lr": 0.5},
    "regularizers": [{"name": "l2", "lmbda": 0.5}],
    "training": {"epochs": 3, "batch_size": 16, "evaluate": ["training", "validation", "test"]},
}


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def record(name, resolved, costs):
    history = [
        {"epoch": i + 1, "validation_cost": c, "validation_accuracy": 1 - c}
        for i, c in enumerate(costs)
    ]
    return RunRecord(
        __import__("pathlib").Path(name),
        {"status": "completed", "epochs": len(costs)},
        resolved,
        history,
    )


def test_flatten_and_differing_keys():
    a = {
        "name": "x",
        "optimizer": {"name": "sgd", "lr": 0.1},
        "network": {"layers": [2, 3, 2]},
        "regularizers": [{"name": "l2", "lmbda": 1}],
    }
    b = {
        "name": "x",
        "optimizer": {"name": "sgd", "lr": 0.5},
        "network": {"layers": [2, 3, 2]},
        "regularizers": [{"name": "l2", "lmbda": 2}],
        "sweep": {"grid": {"optimizer.lr": [0.1, 0.5]}},
    }
    assert flatten(a)["regularizers[0].lmbda"] == 1 and flatten(a)["network.layers"] == [2, 3, 2]
    runs = [record("a", a, [1.0]), record("b", b, [1.0])]
    assert differing_keys(runs) == [
        "optimizer.lr",
        "regularizers[0].lmbda",
    ]  # the sweep section is left out
    assert labels(runs) == [
        "optimizer.lr=0.1, regularizers[0].lmbda=1",
        "optimizer.lr=0.5, regularizers[0].lmbda=2",
    ]
    assert short_keys(["optimizer.lr", "schedule.lr", "seed"]) == {
        "optimizer.lr": "optimizer.lr",
        "schedule.lr": "schedule.lr",
        "seed": "seed",
    }
    # never a bare parameter name; two parts unless they are ambiguous
    assert short_keys(["optimizer.lr", "training.clip.norm", "a.x.y", "b.x.y"]) == {
        "optimizer.lr": "optimizer.lr",
        "training.clip.norm": "clip.norm",
        "a.x.y": "a.x.y",
        "b.x.y": "b.x.y",
    }


def test_summary_ranks_by_final_or_best_and_knows_costs_go_down():
    runs = [
        record("a", {"seed": 1}, [0.5, 0.2, 0.4]),
        record("b", {"seed": 2}, [0.6, 0.3]),
        record("c", {"seed": 3}, []),
    ]
    by_final = summarize(runs, "validation_cost")
    assert [r["run"] for r in by_final.rows] == ["b", "a", "c"] and not by_final.higher
    by_best = summarize(runs, "validation_cost", by="best")
    assert [r["run"] for r in by_best.rows] == ["a", "b", "c"]
    assert by_best.rows[0]["best"] == 0.2 and by_best.rows[0]["best_epoch"] == 2
    acc = summarize(runs)  # default: validation accuracy, higher is better
    assert (
        acc.metric == "validation_accuracy"
        and acc.higher
        and [r["run"] for r in acc.rows] == ["b", "a", "c"]
    )
    with pytest.raises(DeltawError, match="these runs record validation_cost, validation_accuracy"):
        summarize(runs, "test_accuracy")
    text = report_csv(by_best)
    assert text.splitlines()[0].startswith(
        "run,status,seed,best_validation_cost,best_epoch,final_validation_cost"
    )


def test_the_report_direction_is_the_monitors_the_metric_plugin_first():
    class Errors(deltaw.Metric):
        """Misclassified rows: a name that does not say which way is better."""

        higher_is_better = False

        def compute(self, a, y, context):
            return 0.0

    class Hits(deltaw.Metric):
        """Correct rows."""

        def compute(self, a, y, context):
            return 1.0

    class Plugin:
        @deltaw.hookimpl
        def register_metrics(self, register):
            register("errors", Errors)
            register("hits", Hits)

    reg = get_registry()
    reg.register_plugin(Plugin(), "direction")
    assert not higher_is_better("validation_hits")  # unknown metric: a guess from the name
    assert higher_is_better("validation_hits", registry=reg)  # the plugin's higher_is_better
    assert not higher_is_better("validation_errors", registry=reg)
    assert higher_is_better("validation_errors", "max", registry=reg)  # the mode wins
    assert deltaw.Monitor("validation_hits").higher == higher_is_better("validation_hits")


def test_collect_runs_reads_run_folders_and_folders_of_runs_and_rejects_others(tmp_path):
    out = tmp_path / "runs"
    first = run_spec(spec_file(tmp_path), out=out, plots=False)
    second = run_spec(spec_file(tmp_path), ["optimizer.lr=0.1"], out=out, plots=False)
    assert [r.folder for r in collect_runs([out])] == sorted([first.folder, second.folder])
    (run,) = collect_runs([first.folder])
    assert (
        run.status == "completed"
        and run.epochs == 3
        and len(run.history) == 3
        and run.wall_time > 0
    )
    with pytest.raises(DeltawError, match="is not a run folder"):
        collect_runs([tmp_path / "spec.yaml"])
    with pytest.raises(DeltawError, match="no such folder"):
        collect_runs([tmp_path / "nope"])


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_a_run_writes_its_curves_and_decision_regions_when_matplotlib_is_there(tmp_path):
    result = run_spec(spec_file(tmp_path), out=tmp_path / "runs")
    w, h = png_size(result.folder / "curves.png")
    assert w > 1.5 * h  # two panels side by side: cost and accuracy
    png_size(result.folder / "regions.png")


def test_learning_curves_have_one_panel_per_metric(tmp_path):
    from deltaw.plots.curves import learning_curves

    history = [{"epoch": 1, "training_cost": 1.0}, {"epoch": 2, "training_cost": 0.5}]
    one = png_size(learning_curves([history], ["a"], tmp_path / "one.png"))
    two = png_size(
        learning_curves(
            [history, [{**r, "validation_accuracy": 0.5} for r in history]],
            ["a", "b"],
            tmp_path / "two.png",
        )
    )
    assert two[0] > 1.7 * one[0]


def test_without_matplotlib_runs_still_finish_and_plot_says_how_to_install_it(
    tmp_path, monkeypatch
):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    monkeypatch.setattr(deltaw.plots, "have_matplotlib", lambda: False)
    result = run_spec(spec_file(tmp_path), out=tmp_path / "runs")
    assert result.status == "completed" and not (result.folder / "curves.png").exists()
    with pytest.raises(DeltawError, match="pip install 'deltaw\\[plot\\]'"):
        deltaw.plots.pyplot()


def test_predict_on_the_runs_own_data_reproduces_its_last_epoch(tmp_path):
    result = run_spec(spec_file(tmp_path), out=tmp_path / "runs", plots=False)
    trained = load_trained(result.folder)
    data, where = input_data(trained, None)
    scores = evaluate(trained, data)
    last = result.history[-1]
    for split in ("training", "validation", "test"):
        assert scores[split]["accuracy"] == last[f"{split}_accuracy"]
        assert scores[split]["cost"] == pytest.approx(
            last[f"{split}_cost"], rel=1e-12
        )  # the L2 penalty included
    assert where == "the run's data set" and scores["test"]["samples"] == 60


def test_predict_on_an_array_file_and_a_data_set_spec(tmp_path):
    result = run_spec(spec_file(tmp_path), out=tmp_path / "runs", plots=False)
    trained = load_trained(result.folder)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 2, (50, 2))
    y = (x[:, 1] < 0.25).astype(int)
    np.savez(tmp_path / "points.npz", x=x, y=y)
    data, where = input_data(trained, tmp_path / "points.npz")
    scores = evaluate(trained, data)
    assert (
        where.endswith("points.npz")
        and scores["training"]["samples"] == 50
        and 0 <= scores["training"]["accuracy"] <= 1
    )
    other = tmp_path / "other.yaml"
    other.write_text(
        yaml.safe_dump({"data": {"name": "moons", "samples": 100, "validation": 0, "test": 0.5}})
    )
    data, _ = input_data(trained, other)
    assert set(evaluate(trained, data)) == {"training", "test"}
    saved = save_predictions(trained, data, tmp_path / "out.npz")
    with np.load(saved) as z:
        assert z["test_outputs"].shape == (50, 2) and z["test_predicted"].shape == (50,)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"name": "moons", "samples": 100, "nois": 1}}))
    with pytest.raises(DeltawError, match="data.nois: unknown key"):
        input_data(trained, bad)
    wide = tmp_path / "wide.npz"
    np.savez(wide, x=np.zeros((4, 3)), y=np.array([0, 1, 0, 1]))
    with pytest.raises(DeltawError, match="has 3 inputs"):
        input_data(trained, wide)


def test_predict_with_other_weights_and_clear_errors(tmp_path):
    result = run_spec(spec_file(tmp_path), out=tmp_path / "runs", plots=False)
    trained = load_trained(result.folder, weights=result.folder / "checkpoint.npz")
    assert np.array_equal(trained.network.weights[0], np.load(result.folder / "weights.npz")["w0"])
    with pytest.raises(DeltawError, match="no such weights file"):
        load_trained(result.folder, weights=tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DeltawError, match="cannot be read as weights"):
        load_trained(result.folder, weights=tmp_path / "junk.npz")
    info = json.loads((result.folder / "run.json").read_text())
    assert info["train_size"] == 210


# -- damaged files, mixed runs, legends, file modes (issue 9 §8) ---------------------------
def test_a_damaged_metrics_file_is_skipped_with_a_warning_naming_it(tmp_path):
    from typer.testing import CliRunner

    from deltaw.cli import app

    out = tmp_path / "runs"
    good = run_spec(spec_file(tmp_path), out=out, plots=False)
    bad = run_spec(spec_file(tmp_path), ["optimizer.lr=0.1"], out=out, plots=False)
    metrics = bad.folder / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    metrics.write_text("\n".join([lines[0], '{"epoch": 2, "validation_cost": 0.5', "[1, 2]"]))
    (bad.folder / "run.json").write_bytes(b"\xff\xfe garbage")
    problems: list[str] = []
    runs = collect_runs([out], problems)
    (damaged,) = [r for r in runs if r.folder == bad.folder]
    assert len(damaged.history) == 1 and damaged.status == "unknown"
    assert any(f"{metrics} is damaged: lines 2, 3" in p for p in damaged.problems)
    assert any(str(bad.folder / "run.json") in p for p in damaged.problems)
    assert not [r for r in runs if r.folder == good.folder][0].problems
    result = CliRunner().invoke(app, ["report", str(out)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert f"Warning: {metrics} is damaged" in " ".join(result.output.split())
    assert good.folder.name in result.output and bad.folder.name in result.output
    as_json = CliRunner().invoke(app, ["report", str(out), "--json"])
    data = json.loads(as_json.stdout)
    assert len(data["runs"]) == 2 and any(str(metrics) in w for w in data["warnings"])
    plotted = CliRunner().invoke(app, ["plot", str(out), "-o", str(tmp_path / "c.png")])
    assert plotted.exit_code == 0 and f"{metrics} is damaged" in " ".join(plotted.output.split())


def test_a_damaged_sweep_json_is_named_and_the_rest_reported(tmp_path):
    out = tmp_path / "runs"
    run_spec(spec_file(tmp_path), out=out, plots=False)
    sweep = out / "some-sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text('{"trials": [{"folder": 3}, "x"]}')
    problems: list[str] = []
    runs = collect_runs([out], problems)
    assert len(runs) == 1 and problems == [
        f"{sweep / 'sweep.json'} is damaged; the trials it does not name are left out."
    ]


def test_mixed_runs_differ_only_in_resolved_values():
    base = {
        "name": "a",
        "seed": 1,
        "data": {"name": "npz", "path": "x.npz"},
        "optimizer": {"name": "sgd", "lr": 0.5},
        "regularizers": [],
        "training": {"epochs": 3, "clip": {"norm": None}},
        "sweep": None,
    }
    other = {
        "name": "b",
        "seed": 1.0,  # 1 == 1.0
        "data": {"name": "npz", "path": "x.npz", "extra": None},  # unset == null
        "optimizer": {"name": "sgd", "lr": 0.25},
        "training": {"epochs": 3},  # clip.norm unset == null; regularizers unset == []
        "sweep": {"grid": {"optimizer.lr": [0.25, 0.5]}},
    }
    runs = [record("a", base, [1.0]), record("b", other, [1.0])]
    assert differing_keys(runs) == ["name", "optimizer.lr"]
    assert summarize(runs).keys == ["optimizer.lr"]  # the name is the run's, not a key


def test_report_of_mixed_real_runs_lists_only_what_differs(tmp_path):
    out = tmp_path / "runs"
    run_spec(spec_file(tmp_path), out=out, plots=False)
    run_spec(
        spec_file(
            tmp_path,
            name="blobs",
            data={"name": "blobs", "samples": 200, "classes": 2},
            optimizer={"name": "adam", "lr": 0.01},
            regularizers=[],
        ),
        out=out,
        plots=False,
    )
    keys = summarize(collect_runs([out])).keys
    assert "sweep" not in keys and all(not k.startswith("sweep.") for k in keys)
    assert "optimizer.lr" in keys and "optimizer.name" in keys
    assert set(short_keys(keys).values()) >= {"optimizer.lr", "optimizer.name", "data.name"}
    assert all("." in short or short == k for k, short in short_keys(keys).items())


def test_legend_entries_show_the_keys_once_and_shorten_long_values():
    from deltaw.plots.curves import legend_entries

    heading, entries = legend_entries(
        [
            "optimizer.lr=0.1, data.path=/a/very/long/folder/name/with/data.npz",
            "optimizer.lr=0.5, data.path=b",
        ]
    )
    assert heading == "optimizer.lr, data.path" and entries == ["0.1, …/data.npz", "0.5, b"]
    assert legend_entries(["moons", "x=1"]) == (None, ["moons", "x=1"])


@pytest.mark.parametrize("n", [3, 12, 40])
def test_curves_of_many_runs_keep_their_legend_inside_a_bounded_picture(tmp_path, n):
    from deltaw.plots.curves import learning_curves

    histories = [
        [
            {"epoch": e, "training_cost": 1 / (e + i), "validation_accuracy": 0.5 + e / 100}
            for e in range(1, 6)
        ]
        for i in range(n)
    ]
    names = [
        f"optimizer.lr={0.01 * (i + 1):g}, training.batch_size={10 + i}, data.path=/d/set-{i}.npz"
        for i in range(n)
    ]
    w, h = png_size(learning_curves(histories, names, tmp_path / "c.png"))
    assert w <= 11.2 * 110 * 1.1  # the legend never widens the picture beyond the two panels
    assert h <= (4.3 + 0.3 + n / 3 * 0.2) * 110 * 1.2  # and grows only by the rows it needs


def test_every_file_of_a_run_gets_the_same_mode_pictures_too(tmp_path):
    import os
    import stat

    for mask in (0o022, 0o077):
        old = os.umask(mask)
        try:
            result = run_spec(spec_file(tmp_path), out=tmp_path / f"runs{mask}")
        finally:
            os.umask(old)
        modes = {
            p.name: stat.S_IMODE(p.stat().st_mode) for p in result.folder.iterdir() if p.is_file()
        }
        assert "curves.png" in modes and "regions.png" in modes and "metrics.jsonl" in modes
        assert set(modes.values()) == {0o666 & ~mask}, modes
