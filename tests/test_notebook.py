"""examples/notebooks/chapter1.ipynb: it runs headless, and it is stored with a real MNIST run.

The headless run uses the kernel ``python3`` (ipykernel provides it for this interpreter even
when no kernelspec is installed), 2 epochs and the notebook's synthetic digits.
"""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "notebooks" / "chapter1.ipynb"
ANSI = "\x1b["


def cell(nb, text):
    """The one code cell whose source contains ``text``."""
    (found,) = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    return found


def outputs(c, kind):
    return [o for o in c.outputs if kind in o.get("data", {})]


def epoch_lines(c):
    return [
        o["data"]["text/plain"]
        for o in c.outputs
        if o.output_type == "display_data" and "Epoch " in o.get("data", {}).get("text/plain", "")
    ]


@pytest.mark.slow
def test_the_notebook_runs_headless(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="needs the notebook extra: nbformat")
    nbclient = pytest.importorskip("nbclient", reason="needs the notebook extra: nbclient")
    pytest.importorskip("ipykernel", reason="needs the notebook extra: ipykernel")
    pytest.importorskip("pandas", reason="needs the notebook extra: pandas")
    pytest.importorskip("matplotlib", reason="needs the plot extra: matplotlib")
    monkeypatch.setenv("DELTAW_NOTEBOOK_EPOCHS", "2")
    monkeypatch.delenv("DELTAW_MNIST_DIR", raising=False)  # the synthetic digits: fast
    monkeypatch.delenv("MPLBACKEND", raising=False)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    monkeypatch.setenv("PYTHONPATH", path)  # the kernel imports this deltaw
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    (folder,) = (tmp_path / "runs").iterdir()
    assert (folder / "spec.yaml").exists() and (folder / "curves.png").exists()
    assert '"epochs": 2' in (folder / "run.json").read_text()
    assert "'npz'" in cell(nb, "seven_segment_digits").outputs[0]["data"]["text/plain"]
    # progress: rich's notebook display (HTML), one line per epoch, no escape codes in streams
    train = cell(nb, "deltaw.run(spec)")
    assert len(epoch_lines(train)) == 2 and outputs(train, "text/html")
    assert "completed, 2 epochs" in train.outputs[-1]["data"]["text/plain"]
    for c in nb.cells:
        for o in getattr(c, "outputs", []):
            assert o.output_type != "error"
            if o.output_type == "stream":
                assert ANSI not in o.text and "\r" not in o.text, o.text
    # the learning curve and the digit are drawn inline (deltaw's curves.png did not stop them)
    assert len(outputs(cell(nb, "accuracy.plot("), "image/png")) == 1
    assert len(outputs(cell(nb, "run.predict(x)"), "image/png")) == 1
    assert "samples" in cell(nb, "run.evaluate()").outputs[0]["data"]["text/plain"]


def test_the_stored_notebook_shows_a_real_mnist_run():
    """A reader on GitHub sees results: the stored outputs are those of 30 epochs on MNIST."""
    nbformat = pytest.importorskip("nbformat", reason="needs the notebook extra: nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "parameters" in cell(nb, "DELTAW_NOTEBOOK_EPOCHS").metadata.get("tags", [])
    assert "'mnist'" in cell(nb, "seven_segment_digits").outputs[0]["data"]["text/plain"]
    lines = epoch_lines(cell(nb, "deltaw.run(spec)"))
    assert len(lines) == 30
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", lines[-1]).group(1))
    assert accuracy > 90, lines[-1]  # the book reports about 95 %
    assert outputs(cell(nb, "accuracy.plot("), "image/png")
    assert outputs(cell(nb, "run.predict(x)"), "image/png")
    assert "10000" in cell(nb, "run.evaluate()").outputs[0]["data"]["text/plain"]
