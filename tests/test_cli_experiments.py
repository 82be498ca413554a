"""The experiment commands end to end: sweep, report, plot, predict (Typer's CliRunner)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from deltaw.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def flat(text):
    return " ".join(text.split())


@pytest.fixture
def swept(tmp_path):
    """The quick example sweep, run serially: (sweep folder, CliRunner result)."""
    result = runner.invoke(
        app,
        [
            "sweep",
            str(EXAMPLES / "sweep-quick.yaml"),
            "--out",
            str(tmp_path / "runs"),
            "--executor",
            "serial",
            "--no-plots",
        ],
    )
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    return folder, result


def test_sweep_prints_each_trial_and_a_ranked_table(swept):
    folder, result = swept
    text = flat(result.output)
    assert "Sweep of 3 trials" in text and "[3/3] completed" in text
    assert "3 runs, ranked by the final validation_accuracy (higher is better)" in text
    assert f"Sweep folder: {folder}" in text
    rows = (folder / "sweep.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("run,status,optimizer.lr,best_validation_accuracy")


def test_report_ranks_a_sweep_folder_and_writes_json_and_csv(swept, tmp_path):
    folder, _ = swept
    result = runner.invoke(app, ["report", str(folder), "--json", "--csv", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["metric"] == "validation_accuracy" and data["differing_keys"] == ["optimizer.lr"]
    finals = [r["final"]["validation_accuracy"] for r in data["runs"]]
    assert finals == sorted(finals, reverse=True) and len(finals) == 3
    assert (tmp_path / "r.csv").read_text().count("\n") == 4
    table = runner.invoke(
        app, ["report", str(folder), "--metric", "validation_cost", "--by", "best"]
    )
    assert table.exit_code == 0 and "ranked by the best validation_cost (lower is better)" in flat(
        table.output
    )


def test_report_errors_are_one_clear_line(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert (
        result.exit_code == 1
        and "is not a run folder" in flat(result.output)
        and "Traceback" not in result.output
    )
    bad_by = runner.invoke(app, ["report", str(tmp_path), "--by", "worst"])
    assert bad_by.exit_code == 2 and "use best or final" in bad_by.output


def test_plot_draws_the_sweeps_curves_into_the_sweep_folder(swept, tmp_path):
    folder, _ = swept
    result = runner.invoke(app, ["plot", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "curves.png").read_bytes()[:4] == b"\x89PNG"
    runs = sorted(p for p in folder.iterdir() if p.is_dir())
    two = runner.invoke(app, ["plot", str(runs[0]), str(runs[1]), "-o", str(tmp_path / "two.png")])
    assert two.exit_code == 0 and (tmp_path / "two.png").exists()
    regions = runner.invoke(app, ["plot", str(runs[1]), "--regions"])
    assert regions.exit_code == 0, regions.output
    assert (runs[1] / "regions.png").exists()


def test_plot_regions_needs_2d_inputs(tmp_path):
    spec = tmp_path / "blobs.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "data": {"name": "blobs", "samples": 100, "features": 3},
                "network": {"layers": [3, 4, 3]},
                "training": {"epochs": 1},
            }
        )
    )
    assert (
        runner.invoke(
            app, ["run", str(spec), "--out", str(tmp_path / "runs"), "--quiet", "--no-plots"]
        ).exit_code
        == 0
    )
    (run,) = (tmp_path / "runs").iterdir()
    result = runner.invoke(app, ["plot", str(run), "--regions"])
    assert (
        result.exit_code == 1
        and "decision regions need 2-D inputs; this network takes 3" in flat(result.output)
    )


def test_predict_reports_metrics_per_split_and_writes_predictions(swept, tmp_path):
    folder, _ = swept
    run = sorted(p for p in folder.iterdir() if p.is_dir())[1]
    table = runner.invoke(app, ["predict", str(run)])
    assert table.exit_code == 0, table.output
    assert "the run's data set" in flat(table.output) and "validation" in table.output
    x = np.random.default_rng(1).uniform(-1, 2, (40, 2))
    np.savez(tmp_path / "pts.npz", x=x, y=(x[:, 1] < 0.25).astype(int))
    result = runner.invoke(
        app,
        [
            "predict",
            str(run),
            str(tmp_path / "pts.npz"),
            "--json",
            "-o",
            str(tmp_path / "pred.npz"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["splits"]["training"]["samples"] == 40 and set(data["splits"]["training"]) == {
        "cost",
        "accuracy",
        "samples",
    }
    with np.load(tmp_path / "pred.npz") as z:
        assert z["training_predicted"].shape == (40,)
    missing = runner.invoke(app, ["predict", str(run), str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in flat(missing.output)


def test_sweep_dry_run_lists_valid_trials_and_runs_nothing(tmp_path):
    result = runner.invoke(
        app,
        [
            "sweep",
            str(EXAMPLES / "sweep-quick.yaml"),
            "--dry-run",
            "--out",
            str(tmp_path / "runs"),
            "--set",
            "training.epochs=1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "trial 1: --set training.epochs=1 --set optimizer.lr=0.05" in result.output
    assert "3 trials, every one valid" in flat(result.output) and not (tmp_path / "runs").exists()


def test_sweep_spec_errors_exit_2_and_a_sweep_whose_trials_all_fail_exits_1(tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"data": "moons", "network": {"layers": [2, 3, 2]}}))
    result = runner.invoke(app, ["sweep", str(plain)])
    assert result.exit_code == 2 and "no sweep section" in result.output
    failing = tmp_path / "failing.yaml"
    failing.write_text(
        yaml.safe_dump(
            {
                "data": {"name": "moons", "samples": 100},
                "network": {"layers": [2, 3, 2]},
                "sweep": {"grid": {"data.validation": [95, 99]}, "executor": "serial"},
            }
        )
    )
    result = runner.invoke(
        app, ["sweep", str(failing), "--out", str(tmp_path / "runs"), "--no-plots"]
    )
    assert result.exit_code == 1
    assert "2 of 2 trials did not finish" in flat(
        result.output
    ) and "fewer than the 2 classes" in flat(result.output)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("DELTAW_MNIST_DIR"), reason="needs DELTAW_MNIST_DIR (real MNIST)"
)
def test_the_books_eta_sweep_runs_on_real_mnist(tmp_path):
    result = runner.invoke(
        app,
        [
            "sweep",
            str(EXAMPLES / "nielsen" / "eta-sweep.yaml"),
            "--out",
            str(tmp_path / "runs"),
            "--set",
            "data.limit=1000",
            "--set",
            "training.epochs=2",
            "--workers",
            "2",
            "--no-plots",
        ],
    )
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    data = json.loads(
        runner.invoke(app, ["report", str(folder), "--json", "--metric", "training_cost"]).stdout
    )
    assert sorted(r["keys"]["optimizer.lr"] for r in data["runs"]) == [0.025, 0.25, 2.5]


def test_report_stacks_many_differing_keys_into_one_column(tmp_path, swept):
    folder, _ = swept
    quick = runner.invoke(
        app,
        [
            "run",
            str(EXAMPLES / "quickstart.yaml"),
            "--out",
            str(tmp_path / "more"),
            "-q",
            "--no-plots",
            "--set",
            "training.epochs=1",
        ],
    )
    assert quick.exit_code == 0, quick.output
    (other,) = (tmp_path / "more").iterdir()
    result = runner.invoke(app, ["report", str(folder), str(other)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert (
        "differing keys (" in text and "data.name=spirals" in text and "optimizer.name=adam" in text
    )
