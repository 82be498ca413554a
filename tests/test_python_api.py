"""deltaw from Python (deltaw.api): run, load_run, predict, evaluate, sweep, resume, quiet."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import deltaw
from deltaw.api.display import displays
from deltaw.cli import app
from deltaw.core.base import Callback
from deltaw.errors import DeltawError, SpecError

runner = CliRunner()
TIMES = ("train_time", "eval_time")
SPEC = {
    "name": "api",
    "seed": 4,
    "data": {"name": "moons", "samples": 240, "noise": 0.2},
    "network": {
        "layers": [2, 6, 2],
        "activation": "tanh",
        "output_activation": "sigmoid",
        "init": "glorot-uniform",
    },
    "cost": "cross-entropy",
    "optimizer": {"name": "adam", "lr": 0.05},
    "training": {"epochs": 4, "batch_size": 16, "evaluate": ["training", "validation", "test"]},
}


def numbers(history):
    """A history without its timings (the only part that differs between equal runs)."""
    return [{k: v for k, v in row.items() if k not in TIMES} for row in history]


def weights(folder):
    with np.load(folder / "weights.npz") as z:
        return {k: z[k] for k in z.files}


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


@pytest.fixture
def made(tmp_path):
    """One quiet run made from the dict SPEC."""
    return deltaw.run(SPEC, out=tmp_path / "runs", quiet=True, plots=False)


def test_a_spec_from_a_path_a_dict_or_a_spec_model_gives_the_same_run(tmp_path, made):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    from_path = deltaw.run(path, out=tmp_path / "runs", quiet=True, plots=False)
    model = deltaw.validate(SPEC)
    from_model = deltaw.run(model, out=tmp_path / "runs", quiet=True, plots=False)
    assert made.status == from_path.status == from_model.status == "completed"
    assert len({made.folder, from_path.folder, from_model.folder}) == 3
    assert numbers(made.history) == numbers(from_path.history) == numbers(from_model.history)
    assert same_weights(made.folder, from_path.folder)
    assert same_weights(made.folder, from_model.folder)
    # the folder's spec.yaml is the dict as given; defaults live in resolved.yaml only
    written = yaml.safe_load((made.folder / "spec.yaml").read_text())
    assert written == SPEC and "deltaw.run() (a dict)" in (made.folder / "spec.yaml").read_text()
    assert made.resolved == from_path.resolved and made.resolved["metrics"]
    assert made.spec.optimizer.name == "adam" and made.name == "api"


def test_set_takes_a_mapping_or_strings_and_is_kept_apart_from_the_spec(tmp_path):
    a = deltaw.run(
        SPEC, set={"optimizer.lr": np.float64(0.01)}, out=tmp_path, quiet=True, plots=False
    )
    b = deltaw.run(SPEC, set=["optimizer.lr=0.01"], out=tmp_path, quiet=True, plots=False)
    assert a.overrides == b.overrides == ["optimizer.lr=0.01"]
    assert a.resolved["optimizer"]["lr"] == 0.01 and numbers(a.history) == numbers(b.history)
    assert yaml.safe_load((a.folder / "spec.yaml").read_text()) == SPEC


def test_load_run_gives_the_same_object_for_a_finished_run(made):
    again = deltaw.load_run(made.folder)
    assert isinstance(again, deltaw.Run)
    assert again.history == made.history and again.status == made.status == "completed"
    assert again.info["epochs"] == 4 and again.message == ""
    assert set(again.final) == {
        f"{s}_{m}" for s in ("training", "validation", "test") for m in ("cost", "accuracy")
    }
    assert [w.shape for w in again.network.weights] == [(2, 6), (6, 2)]
    assert "completed, 4 epochs" in repr(again)


def test_load_run_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(DeltawError, match="no such run folder"):
        deltaw.load_run(tmp_path / "nope")
    with pytest.raises(DeltawError, match="not a deltaw run folder"):
        deltaw.load_run(tmp_path)
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "sweep.json").write_text("{}")
    with pytest.raises(DeltawError, match="load_sweep"):
        deltaw.load_run(tmp_path / "s")
    with pytest.raises(DeltawError, match="not a sweep folder"):
        deltaw.load_sweep(tmp_path)


def test_evaluate_and_predict_give_the_numbers_of_deltaw_predict(made, tmp_path):
    cli = runner.invoke(
        app, ["predict", str(made.folder), "--json", "-o", str(tmp_path / "pred.npz")]
    )
    assert cli.exit_code == 0, cli.output
    assert made.evaluate() == json.loads(cli.stdout)["splits"]
    # the run's own last epoch, recomputed from the weights
    assert made.evaluate()["validation"]["accuracy"] == made.final["validation_accuracy"]
    data = made.load_data()
    with np.load(tmp_path / "pred.npz") as z:
        for name, split in data.items():
            outputs, classes = made.predict(split.x)
            assert np.array_equal(outputs, z[f"{name}_outputs"])
            assert np.array_equal(classes, z[f"{name}_predicted"])
    one = made.predict(data.test.x[3])
    assert one.outputs.shape == (2,) and one.classes == int(np.argmax(one.outputs))
    np.testing.assert_allclose(one.outputs, made.predict(data.test.x)[0][3], rtol=1e-12)  # BLAS


def test_evaluate_takes_files_references_splits_and_arrays(made, tmp_path):
    ref = {"name": "moons", "samples": 300, "noise": 0.1}
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"data": ref}))
    cli = runner.invoke(app, ["predict", str(made.folder), str(tmp_path / "data.yaml"), "--json"])
    assert cli.exit_code == 0, cli.output
    assert made.evaluate(ref) == made.evaluate({"data": ref}) == json.loads(cli.stdout)["splits"]
    assert made.evaluate(tmp_path / "data.yaml") == made.evaluate(ref)
    data = made.load_data()
    assert made.evaluate(data) == made.evaluate()
    test = data.test
    labels = test.y.argmax(axis=1)
    assert made.evaluate((test.x, labels))["data"] == made.evaluate()["test"]
    assert made.evaluate((test.x, test.y))["data"] == made.evaluate()["test"]
    with pytest.raises(DeltawError, match=r"y has shape \(3, 1\)"):
        made.evaluate((test.x, test.y[:3, :1]))
    with pytest.raises(DeltawError, match="the network takes 2 inputs"):
        made.predict(np.zeros((4, 3)))
    with pytest.raises(DeltawError, match="labels must lie in 0…1"):
        made.evaluate((test.x, labels + 1))


def test_history_frame_is_a_dataframe_indexed_by_epoch(made):
    pd = pytest.importorskip("pandas")
    frame = made.history_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == [1, 2, 3, 4]
    assert frame["validation_accuracy"].tolist() == [r["validation_accuracy"] for r in made.history]
    assert made.df.equals(frame)


def test_without_pandas_the_frame_says_how_to_get_it(made, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    with pytest.raises(DeltawError, match=r"pip install pandas"):
        made.history_frame()
    assert made.history  # the same numbers, without pandas


def test_a_dict_made_run_resumes_bit_for_bit(tmp_path):
    class CtrlC(Callback):
        def on_epoch_end(self, trainer, epoch, metrics):
            if epoch == 2:
                raise KeyboardInterrupt

    whole = deltaw.run(SPEC, out=tmp_path / "a", quiet=True, plots=False)
    cut = deltaw.run(SPEC, out=tmp_path / "b", callbacks=[CtrlC()], quiet=True, plots=False)
    assert cut.status == "interrupted" and "Resume with" in cut.message
    assert len(cut.history) == 2
    resumed = deltaw.load_run(cut.folder).resume(quiet=True, plots=False)
    assert resumed.folder == cut.folder and resumed.status == "completed"
    assert numbers(resumed.history) == numbers(whole.history)
    assert same_weights(resumed.folder, whole.folder)
    longer = resumed.resume(set={"training.epochs": 6}, quiet=True, plots=False)
    assert len(longer.history) == 6 and longer.info["epochs"] == 6
    assert [w.shape for w in cut.network.weights] == [(2, 6), (6, 2)]  # reloaded after resume


def test_a_bad_dict_is_reported_and_leaves_no_folder(tmp_path):
    bad = {**SPEC, "optimizer": {"name": "adam", "lr": -1}}
    with pytest.raises(SpecError, match=r"the spec given to deltaw\.run\(\) \(a dict\)"):
        deltaw.run(bad, out=tmp_path / "runs", quiet=True)
    with pytest.raises(SpecError, match="not plain data"):
        deltaw.run({**SPEC, "seed": object()}, out=tmp_path / "runs", quiet=True)
    missing = {**SPEC, "data": {"name": "npz", "path": str(tmp_path / "none.npz")}}
    with pytest.raises(DeltawError, match="none.npz"):
        deltaw.run(missing, out=tmp_path / "runs", quiet=True)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    with pytest.raises(SpecError, match="spec of type int"):
        deltaw.run(3, quiet=True)


def test_sweep_returns_its_trials_and_report(tmp_path):
    spec = {**SPEC, "sweep": {"grid": {"optimizer.lr": [0.005, 0.05]}, "executor": "serial"}}
    swept = deltaw.sweep(spec, out=tmp_path / "runs", quiet=True, plots=False)
    assert isinstance(swept, deltaw.Sweep) and swept.status == "finished"
    trials = swept.trials
    assert len(trials) == 2 and all(isinstance(t, deltaw.Run) for t in trials)
    assert [t.resolved["optimizer"]["lr"] for t in trials] == [0.005, 0.05]
    assert all(t.status == "completed" for t in trials) and not swept.failed
    finals = {t.folder: t.final["validation_accuracy"] for t in trials}
    assert swept.report.metric == "validation_accuracy"
    assert swept.best.folder == max(finals, key=finals.get)
    info = swept.info
    assert (
        info["spec"] == str(swept.folder / "spec.yaml")
        and yaml.safe_load((swept.folder / "spec.yaml").read_text()) == spec
    )
    again = deltaw.load_sweep(swept.folder)
    assert [r["run"] for r in again.report.rows] == [r["run"] for r in swept.report.rows]
    # a trial is an ordinary run: it resumes from its own folder's spec
    longer = trials[0].resume(set={"training.epochs": 5}, quiet=True, plots=False)
    assert len(longer.history) == 5
    if pytest.importorskip("pandas"):
        frame = swept.frame()
        assert list(frame["run"]) == [r["run"] for r in again.report.rows]
        assert "best_validation_accuracy" in frame.columns


def test_quiet_prints_nothing_and_otherwise_progress_goes_to_stderr(tmp_path, capfd):
    deltaw.run(SPEC, out=tmp_path, quiet=True, plots=False)
    spec = {**SPEC, "sweep": {"grid": {"seed": [1, 2]}, "executor": "serial"}}
    deltaw.sweep(spec, out=tmp_path, quiet=True, plots=False)
    assert capfd.readouterr() == ("", "")
    made = deltaw.run(SPEC, out=tmp_path, plots=False)
    out, err = capfd.readouterr()
    assert out == "" and "Epoch 4:" in err and "Done in" in err and str(made.folder) in err
    deltaw.sweep(spec, out=tmp_path, plots=False)
    out, err = capfd.readouterr()
    assert out == "" and "[2/2] completed" in err and "Sweep folder:" in err


def test_a_notebook_without_ipywidgets_gets_epoch_lines_without_a_bar(monkeypatch):
    from rich.console import Console

    import deltaw.api.display

    monkeypatch.setattr(deltaw.api.display, "make_console", lambda: Console(force_jupyter=True))
    real = deltaw.api.display.importlib.util.find_spec
    monkeypatch.setattr(
        deltaw.api.display.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real(name, *a),
    )
    (shown,) = displays(False)
    assert shown.console.is_jupyter and shown.bar is False
    monkeypatch.setattr(deltaw.api.display, "make_console", lambda: Console(force_terminal=True))
    (shown,) = displays(False)
    assert shown.bar is True and displays(True) == []


def test_the_python_api_loads_lazily():
    code = (
        "import sys, deltaw\n"
        "assert not {'numpy', 'pydantic', 'deltaw.api'} & set(sys.modules)\n"
        "assert callable(deltaw.run) and deltaw.Run.__module__ == 'deltaw.api.handles'\n"
        "assert {'run', 'load_run', 'sweep', 'load_sweep', 'Run', 'Sweep'} <= set(dir(deltaw))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- docs/python-api.md: every python block runs, in order, in one session ---------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


@pytest.mark.slow
def test_the_python_api_guide_runs_as_written(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 8
    shutil.copytree(DOC.parents[1] / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)  # the guide runs from the repository's root
    monkeypatch.setattr("deltaw.plots.have_matplotlib", lambda: False)  # no curves.png: faster
    namespace: dict = {"__name__": "guide"}
    for i, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/python-api.md, python block {i}", "exec"), namespace)
    assert namespace["run"].folder.parent == Path("runs")


def test_writing_curves_leaves_a_backend_the_program_chose_alone():
    """A notebook keeps its inline figures after deltaw.run wrote curves.png (issue 11 §4)."""
    pytest.importorskip("matplotlib")
    chosen = (
        "import matplotlib\nmatplotlib.use('pdf')\nimport matplotlib.pyplot as plt\n"
        "fig = plt.figure()\n"
        "from deltaw.plots import pyplot\npyplot()\n"
        "assert matplotlib.get_backend() == 'pdf' and plt.fignum_exists(fig.number)\n"
    )
    fresh = "import matplotlib\nfrom deltaw.plots import pyplot\npyplot()\n"
    fresh += "assert matplotlib.get_backend().lower() == 'agg'\n"
    for code in (chosen, fresh):
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "MPLBACKEND": ""},
        )
        assert done.returncode == 0, done.stderr
