"""The CLI's spine: run, validate, plugins, show, --version, and a plugin registered in a test."""

import json
import types

import numpy as np
import yaml
from pydantic import BaseModel, Field
from typer.testing import CliRunner

import deltaw
from deltaw.cli import app

runner = CliRunner()

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
    "training": {"epochs": 3, "batch_size": 16, "evaluate": ["training", "validation", "test"]},
}


def spec_file(tmp_path, **changes):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def only_run(out):
    (folder,) = list(out.iterdir())
    return folder


def test_run_writes_a_complete_run_folder(tmp_path):
    result = runner.invoke(
        app, ["run", str(spec_file(tmp_path)), "--out", str(tmp_path / "runs"), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path / "runs")
    for name in (
        "spec.yaml",
        "resolved.yaml",
        "overrides.json",
        "environment.json",
        "metrics.jsonl",
        "metrics.csv",
        "weights.npz",
        "checkpoint.npz",
        "run.json",
    ):
        assert (folder / name).exists(), name
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert {"training_cost", "validation_accuracy", "test_accuracy"} <= set(rows[-1])
    env = json.loads((folder / "environment.json").read_text())
    assert env["numpy"] == np.__version__ and env["plugins_used"]["optimizer:sgd"] == "built-in"
    with np.load(folder / "weights.npz") as w:
        assert w["w0"].shape == (2, 8) and w["b1"].shape == (3,)
    assert json.loads((folder / "run.json").read_text())["status"] == "completed"
    data = env["data"]  # the data set's description: DataSplits.info
    assert data["name"] == "blobs" and sum(data["splits"].values()) == 300
    assert data["info"]["classes"] == 3 and data["info"]["kind"] == "2d"


def test_a_data_sets_info_is_recorded_as_plain_json():
    from deltaw.runs.environment import data_description

    x, y = np.zeros((4, 2)), np.zeros((4, 1))
    splits = deltaw.DataSplits(
        deltaw.Split(x, y),
        info={
            "classes": np.int64(2),
            "scale": np.float32(0.5),
            "mean": np.ones(2),
            "big": np.ones((4, 40)),
        },
    )
    exp = types.SimpleNamespace(
        spec=types.SimpleNamespace(data=types.SimpleNamespace(name="mine")), data=splits
    )
    described = json.loads(json.dumps(data_description(exp)))
    assert described == {
        "name": "mine",
        "splits": {"training": 4},
        "info": {
            "classes": 2,
            "scale": 0.5,
            "mean": [1.0, 1.0],
            "big": "array of shape [4, 40], float64",
        },
    }


def test_same_seed_twice_gives_identical_metrics(tmp_path):
    spec = spec_file(tmp_path)
    for out in ("a", "b"):
        assert (
            runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / out), "-q"]).exit_code
            == 0
        )

    def metrics(out):
        rows = [
            json.loads(line)
            for line in (only_run(tmp_path / out) / "metrics.jsonl").read_text().splitlines()
        ]
        return [{k: v for k, v in r.items() if not k.endswith("_time")} for r in rows]

    assert metrics("a") == metrics("b")


def test_run_applies_set_overrides_and_records_them(tmp_path):
    result = runner.invoke(
        app,
        [
            "run",
            str(spec_file(tmp_path)),
            "--out",
            str(tmp_path / "runs"),
            "-q",
            "--set",
            "training.epochs=1",
            "--set",
            "optimizer.lr=0.1",
        ],
    )
    assert result.exit_code == 0, result.output
    folder = only_run(tmp_path / "runs")
    assert json.loads((folder / "overrides.json").read_text()) == [
        "training.epochs=1",
        "optimizer.lr=0.1",
    ]
    resolved = yaml.safe_load((folder / "resolved.yaml").read_text())
    assert (
        resolved["optimizer"]["lr"] == 0.1
        and len((folder / "metrics.jsonl").read_text().splitlines()) == 1
    )


def test_run_shows_progress_lines_per_epoch(tmp_path):
    result = runner.invoke(app, ["run", str(spec_file(tmp_path)), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0
    assert "Epoch 3:" in result.output and "Run folder:" in result.output


def test_data_that_does_not_fit_the_network_is_a_clear_error(tmp_path):
    spec = spec_file(tmp_path, network={**SPEC["network"], "layers": [3, 8, 3]})
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 4
    assert (
        "has 2 inputs" in result.output
        and "network.layers" in result.output
        and "Traceback" not in result.output
    )


def test_validate_prints_the_resolved_spec(tmp_path):
    result = runner.invoke(app, ["validate", str(spec_file(tmp_path))])
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load(result.stdout)
    assert resolved["optimizer"] == {"name": "sgd", "lr": 0.5}
    assert (
        resolved["data"]["classes"] == 3 and resolved["data"]["spread"] == 0.2
    )  # a default filled in


def test_validate_reports_errors_with_locations_and_exit_code_2(tmp_path):
    spec = spec_file(tmp_path, optimizer={"name": "adam", "beta1": 2}, cost="quadratc")
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "optimizer.beta1" in result.output and "Unknown cost 'quadratc' at cost" in result.output
    assert "quadratic" in result.output and "Traceback" not in result.output


def test_plugins_lists_every_kind_with_origin(tmp_path):
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    for name in ("sigmoid", "cross-entropy", "nielsen-large", "adam", "l2", "accuracy", "mnist"):
        assert name in result.output
    assert "built-in" in result.output
    only = runner.invoke(app, ["plugins", "optimizer"])
    assert "adam" in only.output and "sigmoid" not in only.output


def test_show_documents_parameters_with_defaults():
    result = runner.invoke(app, ["show", "optimizer", "adam"])
    assert result.exit_code == 0
    assert "beta1" in result.output and "0.9" in result.output and "amsgrad" in result.output


def test_show_writes_constraints_and_defaults_as_the_docs_do():
    """`deltaw show` and docs/plugins-builtin.md format a parameter the same way: `(> 0)`,
    never pydantic's `[Gt(gt=0)]` or a validator's memory address."""
    sgd = runner.invoke(app, ["show", "optimizer", "sgd"], env={"COLUMNS": "200"})
    assert sgd.exit_code == 0 and "(> 0)" in sgd.output and "Gt(" not in sgd.output
    npz = runner.invoke(app, ["show", "dataset", "npz"], env={"COLUMNS": "200"})
    assert npz.exit_code == 0 and "required" in npz.output and "(≥ 2)" in npz.output
    assert " at 0x" not in npz.output and "Validator" not in npz.output
    log = runner.invoke(app, ["show", "callback", "csv-log"], env={"COLUMNS": "200"})
    assert "(exactly 1 character)" in log.output


def test_param_rows_name_lengths_in_characters_for_text_and_items_for_lists():
    from deltaw.spec.describe import param_rows

    class Plugin:
        class Params(BaseModel):
            sep: str = Field(",", min_length=1, max_length=1, description="Separator.")
            steps: list[int] = Field(min_length=1, description="Steps.")
            rate: float = Field(0.5, gt=0, le=1)

    assert param_rows(Plugin) == [
        ("sep", "str", "','", "Separator. (exactly 1 character)"),
        ("steps", "list[int]", "required", "Steps. (at least 1 item)"),
        ("rate", "float", "0.5", "(> 0, ≤ 1)"),
    ]


def test_show_unknown_name_suggests_close_ones():
    result = runner.invoke(app, ["show", "activation", "sigmod"])
    assert result.exit_code == 2 and "sigmoid" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and deltaw.__version__ in result.output


class HalfQuadratic(deltaw.Cost):
    """A test-only cost: ¼‖a − y‖² (half the book's quadratic)."""

    class Params(BaseModel):
        scale: float = Field(0.25, gt=0)

    def value(self, a, y):
        return float(self.params.scale * ((a - y) ** 2).sum(axis=1).mean())

    def gradient(self, a, y):
        return 2 * self.params.scale * (a - y)


@deltaw.hookimpl
def register_costs(register):
    register("half-quadratic", HalfQuadratic)


def test_a_plugin_registered_in_a_test_shows_up_and_trains(tmp_path, deltaw_plugin):
    deltaw_plugin(types.SimpleNamespace(register_costs=register_costs), name="test-costs")
    listed = runner.invoke(app, ["plugins", "cost"])
    assert "half-quadratic" in listed.output and "test-costs" in listed.output
    spec = spec_file(
        tmp_path,
        cost={"name": "half-quadratic", "scale": 0.5},
        network={**SPEC["network"], "output_activation": "sigmoid"},
    )
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load((only_run(tmp_path / "runs") / "resolved.yaml").read_text())
    assert resolved["cost"] == {"name": "half-quadratic", "scale": 0.5}


# -- the run folder for scripts: --quiet and --json (issue 9 §8) ---------------------------
def test_quiet_prints_the_run_folder_alone_and_json_ends_with_it(tmp_path):
    from pathlib import Path

    quiet = runner.invoke(
        app, ["run", str(spec_file(tmp_path)), "--out", str(tmp_path / "q"), "-q"]
    )
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == f"{only_run(tmp_path / 'q')}\n"
    as_json = runner.invoke(
        app, ["run", str(spec_file(tmp_path)), "--out", str(tmp_path / "j"), "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["epoch"] for r in lines[:-1]] == [1, 2, 3]
    assert lines[-1]["run_folder"] == str(only_run(tmp_path / "j"))
    assert lines[-1]["status"] == "completed" and lines[-1]["exit_code"] == 0
    assert lines[-1]["epochs"] == 3 and Path(lines[-1]["run_folder"]).is_dir()


def test_a_run_that_fails_still_tells_scripts_its_folder(tmp_path):
    spec = spec_file(tmp_path, optimizer={"name": "sgd", "lr": 1e300})
    as_json = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "j"), "--json"])
    assert as_json.exit_code == 5, as_json.output
    final = json.loads(as_json.stdout.splitlines()[-1])
    assert final == {
        "run_folder": str(only_run(tmp_path / "j")),
        "status": "diverged",
        "epochs": final["epochs"],
        "wall_time": final["wall_time"],
        "exit_code": 5,
    }
    quiet = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "q"), "-q"])
    assert quiet.exit_code == 5 and quiet.stdout == f"{only_run(tmp_path / 'q')}\n"
    bad = runner.invoke(app, ["run", str(tmp_path / "nope.yaml"), "--json"])
    assert bad.exit_code == 2 and bad.stdout == ""  # no folder was made: nothing on stdout


def test_sweep_quiet_and_json_name_the_sweep_folder(tmp_path):
    from pathlib import Path

    sweep = Path(__file__).resolve().parent.parent / "examples" / "sweep-quick.yaml"
    args = ["sweep", str(sweep), "--executor", "serial", "--no-plots"]
    quiet = runner.invoke(app, [*args, "--out", str(tmp_path / "q"), "-q"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == f"{only_run(tmp_path / 'q')}\n" and "[1/3]" not in quiet.output
    as_json = runner.invoke(app, [*args, "--out", str(tmp_path / "j"), "--json"])
    data = json.loads(as_json.stdout)
    assert data["sweep_folder"] == str(only_run(tmp_path / "j"))
    assert data["status"] == "completed" and data["exit_code"] == 0 and len(data["runs"]) == 3
