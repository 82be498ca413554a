"""docs/plugins.md's examples for plugin authors, run as written (so the docs cannot rot)."""

from pathlib import Path

import numpy as np

import deltaw
from deltaw.plugins.optimizers import Adam
from deltaw.testing import check_callback, check_cost, check_optimizer

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def run_block(heading: str, namespace: dict) -> dict:
    """Execute the first python block under ``heading`` in ``namespace``."""
    section = DOC.split(heading, 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/plugins.md", "exec"), namespace)
    return namespace


def test_the_fused_cost_example_fuses_with_the_builtin_softmax(deltaw_registry):
    ns = run_block("### Fusing a cost with an output activation", {"deltaw": deltaw})
    cost, softmax = (
        ns["SoftmaxCrossEntropy"](),
        deltaw_registry.entry("activation", "softmax").cls(),
    )
    check_cost(type(cost))
    z = np.random.default_rng(0).standard_normal((3, 4))
    a, y = softmax.forward(z), np.eye(4)[[1, 0, 3]]
    assert np.array_equal(cost.output_delta(z, a, y, softmax), a - y)


def test_the_reference_example_passes_for_adam():
    ns = run_block("#### An update rule against its reference", {"np": np})
    check_optimizer(Adam, reference=ns["adam_step"])


def test_the_fresh_or_resume_callback_example_keeps_the_contract(capsys):
    ns = run_block("### A fresh run or a resume", {"deltaw": deltaw})
    check_callback(ns["Announce"], epochs=6)
    printed = capsys.readouterr().out
    assert "a fresh run" in printed and "resuming after epoch 1" in printed
