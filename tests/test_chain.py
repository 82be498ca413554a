"""Optimizer chains: composition, a third party's transform among the built-ins, spec errors that
name the link, checkpoints and resume bit for bit, per-layer learning rates, and the CLI."""

import copy
import json
import os
import types
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

import deltaw
from deltaw.cli import app
from deltaw.core.chain import Chain, ChainError
from deltaw.core.training import Trainer
from deltaw.errors import SpecError
from deltaw.plugins.chain import ChainOptimizer
from deltaw.plugins.optimizers import SGD, Adam, Momentum
from deltaw.plugins.transforms import Centralize, ClipGlobalNorm, Lookahead
from deltaw.runs.checkpoint import load_run_checkpoint
from deltaw.runs.train import resume_run, run_spec
from deltaw.spec.build import build
from deltaw.spec.loading import validate_spec
from deltaw.testing import check_optimizer

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

SPEC = {
    "name": "chained",
    "seed": 5,
    "data": {"name": "moons", "samples": 200, "noise": 0.2},
    "network": {"layers": [2, 6, 5, 2], "activation": "tanh", "output_activation": "sigmoid"},
    "cost": "cross-entropy",
    "optimizer": {"name": "adam", "lr": 0.02},
    "training": {"epochs": 4, "batch_size": 16},
}
CHAIN = [
    {"name": "clip-global-norm", "max_norm": 0.5},
    "centralize",
    {"name": "add-noise", "eta": 0.001},
    {"name": "adam", "lr": 0.02},
    {"name": "lookahead", "k": 3, "alpha": 0.5},
]


def spec(**changes):
    return copy.deepcopy({**SPEC, **changes})


def chain(links, **more):
    return {"name": "chain", "links": links, **more}


def trained(data):
    """Validate, build and train a spec in memory; returns the trainer."""
    exp = build(validate_spec(data))
    trainer = exp.trainer()
    trainer.fit(exp.data)
    return trainer


def metrics(trainer):
    """The history without the wall-clock times."""
    return [{k: v for k, v in r.items() if not k.endswith("_time")} for r in trainer.history]


def arrays(seed, shapes=((4, 3), (3,), (3, 2), (2,))):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


# -- composition ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{}, {"beta1": 0.5, "beta2": 0.9, "eps": 1e-6}, {"amsgrad": True}]
)
def test_a_chain_of_adam_alone_is_adam_bit_for_bit(params):
    grads = [arrays(s) for s in range(25)]
    plain, chained = arrays(100), arrays(100)
    adam, both = Adam(**params), Chain([Adam(**params)])
    s_plain, s_chain = [adam.init(p) for p in plain], [both.init(p) for p in chained]
    for step, g in enumerate(grads, 1):
        lrs = [0.01, 0.01, 0.002, 0.002]
        for p, gi, s, lr in zip(plain, g, s_plain, lrs):
            adam.update(p, gi, s, step, lr)
        both.update_all(chained, [x.copy() for x in g], s_chain, step, lrs)
    assert all(np.array_equal(a, b) for a, b in zip(plain, chained))
    assert all(np.array_equal(a[k], b[f"0.{k}"]) for a, b in zip(s_plain, s_chain) for k in a)


def test_a_spec_chain_of_adam_trains_exactly_as_adam():
    schedule = {"name": "step", "step_size": 1, "gamma": 0.5}  # the chain gets the scheduled lr
    plain = trained(spec(schedule=schedule))
    chained = trained(spec(schedule=schedule, optimizer=chain([{"name": "adam", "lr": 0.02}])))
    assert [r["lr"] for r in metrics(chained)] == [0.02, 0.01, 0.005, 0.0025]
    assert metrics(plain) == metrics(chained)
    assert all(
        np.array_equal(a, b) for a, b in zip(plain.network.params(), chained.network.params())
    )


def test_the_chain_never_changes_the_callers_gradients():
    c = Chain([ClipGlobalNorm(max_norm=0.1), Centralize(), SGD()])
    params, grads = arrays(1), arrays(2)
    before = [g.copy() for g in grads]
    c.update_all(params, grads, [c.init(p) for p in params], 1, [0.1] * 4)
    assert all(np.array_equal(g, b) for g, b in zip(grads, before))


def test_clipping_in_a_chain_uses_the_norm_of_every_array_together():
    params, grads = arrays(3), arrays(4)
    start = [p.copy() for p in params]
    total = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
    c = Chain([ClipGlobalNorm(max_norm=1.0), SGD()])
    c.update_all(params, grads, [c.init(p) for p in params], 1, [0.1] * 4)
    for p, p0, g in zip(params, start, grads):
        np.testing.assert_allclose(p, p0 - 0.1 * g / total, rtol=1e-14)


def test_links_out_of_order_or_without_one_rule_are_not_a_chain():
    cases = [
        ([SGD(), Centralize()], 1, "must come before the update rule"),
        ([Lookahead(), SGD()], 0, "must come after the update rule"),
        ([Centralize()], None, "exactly one update rule"),
        ([SGD(), Adam()], 1, "second update rule"),
        ([], None, "at least one link"),
    ]
    for links, index, message in cases:
        with pytest.raises(ChainError, match=message) as info:
            Chain(links)
        assert info.value.index == index


def test_the_chains_lr_is_its_rules_unless_given():
    assert Chain([Centralize(), Adam(lr=0.03)]).params.lr == 0.03
    assert Chain([Adam(lr=0.03)], lr=0.5).params.lr == 0.5
    built = build(validate_spec(spec(optimizer=chain(CHAIN))), load_data=False)
    assert built.optimizer.params.lr == 0.02
    overridden = validate_spec(spec(optimizer=chain(CHAIN, lr=0.1)))
    assert overridden.resolved()["optimizer"]["lr"] == 0.1


def test_chains_pass_the_public_optimizer_contract_check():
    check_optimizer(Chain([ClipGlobalNorm(max_norm=1.0), Centralize(), Momentum(lr=0.01)]))
    check_optimizer(Chain([Adam(lr=0.01), Lookahead(k=2)]))
    check_optimizer(ChainOptimizer(links=["centralize", {"name": "adam", "lr": 0.01}, "lookahead"]))


def test_a_chain_can_be_a_link_of_a_chain():
    inner = chain(["centralize", {"name": "sgd", "lr": 0.1}])
    nested = trained(spec(optimizer=chain([{"name": "clip-global-norm", "max_norm": 1}, inner])))
    flat = trained(
        spec(
            optimizer=chain(
                [{"name": "clip-global-norm", "max_norm": 1}, "centralize", inner["links"][1]]
            )
        )
    )
    assert metrics(nested) == metrics(flat)


# -- a third party's transform composes with the built-ins ---------------------------------


class EmaGrad(deltaw.Transform):
    """A third party's stateful transform: pass on m ← βm + (1 − β)g instead of g."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        beta: float = Field(0.9, ge=0, lt=1)

    def init(self, param):
        return {"m": np.zeros_like(param)}

    def apply(self, grad, state, param, step):
        m = state["m"]
        m *= self.params.beta
        m += (1.0 - self.params.beta) * grad
        grad[...] = m
        return grad


THIRD_PARTY = types.SimpleNamespace(
    register_transforms=deltaw.hookimpl(lambda register: register("ema-grad", EmaGrad))
)
THIRD_PARTY.register_transforms.__name__ = "register_transforms"


def test_a_third_party_transform_composes_with_the_builtins(deltaw_plugin):
    deltaw_plugin(THIRD_PARTY, name="ema-plugin")
    links = [
        {"name": "clip-global-norm", "max_norm": 0.3},
        {"name": "ema-grad", "beta": 0.5},
        "centralize",
        {"name": "sgd", "lr": 0.2},
        {"name": "lookahead", "k": 2, "alpha": 0.5},
    ]
    opt = build(validate_spec(spec(optimizer=chain(links))), load_data=False).optimizer
    assert [type(link) for link in opt.links] == [
        ClipGlobalNorm,
        EmaGrad,
        Centralize,
        SGD,
        Lookahead,
    ]

    params = arrays(7)
    states = [opt.init(p) for p in params]
    assert set(states[0]) == {"1.m", "4.slow"}
    # the same steps by hand, in the spec's order
    ref, m, slow = (
        [p.copy() for p in params],
        [np.zeros_like(p) for p in params],
        [p.copy() for p in params],
    )
    for step in range(1, 7):
        grads = arrays(10 + step)
        opt.update_all(params, [g.copy() for g in grads], states, step, [0.2] * 4)
        total = np.sqrt(sum(float(np.sum(g * g)) for g in grads))
        g = [x * (0.3 / total) if total > 0.3 else x for x in grads]
        for i in range(4):
            m[i] = 0.5 * m[i] + 0.5 * g[i]
            d = m[i] - m[i].mean(axis=0) if m[i].ndim == 2 else m[i]
            ref[i] = ref[i] - 0.2 * d
            if step % 2 == 0:
                slow[i] = slow[i] + 0.5 * (ref[i] - slow[i])
                ref[i] = slow[i].copy()
    for p, r in zip(params, ref):
        np.testing.assert_allclose(p, r, rtol=1e-13, atol=1e-15)


# -- spec errors name the link -------------------------------------------------------------


@pytest.mark.parametrize(
    "links,message",
    [
        (
            [{"name": "clip-global-norm", "max_norm": -1}, "adam"],
            "optimizer.links[0].max_norm: Input should be greater than 0 "
            "(transform 'clip-global-norm')",
        ),
        (
            ["centralize", {"name": "adam", "lr": 0.1, "beta": 0.5}],
            "optimizer.links[1].beta: unknown key (optimizer 'adam'); "
            "accepted keys here: lr, beta1",
        ),
        (
            ["centralise", "adam"],
            "Unknown optimizer or transform 'centralise' at optimizer.links[0]. "
            "Closest registered names: centralize",
        ),
        (
            ["adam", "centralize"],
            "optimizer.links[1] (transform 'centralize'): acts on gradients, "
            "so it must come before the update rule (links[0])",
        ),
        (
            ["lookahead", "sgd"],
            "optimizer.links[0] (transform 'lookahead'): acts on the parameters after an update",
        ),
        (["centralize"], "optimizer.links: a chain needs exactly one update rule"),
        (["sgd", "adam"], "optimizer.links[1] (optimizer 'adam'): is a second update rule"),
        (
            [{"name": "centralize", "mean": 0}, "sgd"],
            "optimizer.links[0]: transform 'centralize' takes no parameters",
        ),
        ([], "optimizer.links: List should have at least 1 item"),
        (
            [chain(["sgd", {"name": "clip-value", "max_value": 0}])],
            "optimizer.links[0].links[1].max_value: Input should be greater than 0",
        ),
    ],
)
def test_spec_errors_name_the_link(links, message):
    with pytest.raises(SpecError) as info:
        validate_spec(spec(optimizer=chain(links)), source="s.yaml")
    assert message in str(info.value)


def test_all_link_problems_are_reported_at_once():
    links = [{"name": "clip-value"}, {"name": "adam", "lr": -1}, "nope"]
    with pytest.raises(SpecError, match="3 problems") as info:
        validate_spec(spec(optimizer=chain(links)))
    text = str(info.value)
    assert "optimizer.links[0].max_value: required" in text and "optimizer.links[1].lr" in text


def test_a_chains_rule_with_its_own_weight_decay_rejects_training_weight_decay():
    data = spec(optimizer=chain(["centralize", "adamw"]), training={"weight_decay": 0.1})
    with pytest.raises(SpecError, match=r"optimizer.links\[1\] \(optimizer 'adamw'\) has its own"):
        validate_spec(data)


def test_the_resolved_spec_fills_every_links_defaults_and_the_noise_seed():
    resolved = validate_spec(spec(seed=42, optimizer=chain(CHAIN))).resolved()["optimizer"]
    assert resolved["lr"] == 0.02
    assert resolved["links"][1] == {"name": "centralize"}
    assert resolved["links"][2] == {"name": "add-noise", "eta": 0.001, "gamma": 0.55, "seed": 42}
    assert resolved["links"][3]["beta2"] == 0.999
    again = validate_spec(spec(optimizer=resolved))  # a resolved spec is a valid spec
    assert again.resolved()["optimizer"] == resolved


# -- checkpoints and resume ----------------------------------------------------------------


class CtrlCMidEpoch(deltaw.Callback):
    def on_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == (3, 2):
            raise KeyboardInterrupt


def test_an_interrupted_chain_run_resumed_equals_the_uninterrupted_one_bit_for_bit(
    tmp_path, deltaw_plugin
):
    deltaw_plugin(THIRD_PARTY, name="ema-plugin")
    links = [*CHAIN[:3], {"name": "ema-grad", "beta": 0.7}, *CHAIN[3:]]
    data = spec(optimizer=chain(links), schedule={"name": "step", "step_size": 2, "gamma": 0.5})
    data["training"]["lr_multipliers"] = [1.0, 0.5, 2.0]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    straight = run_spec(path, out=tmp_path / "a", plots=False)
    cut = run_spec(path, out=tmp_path / "b", callbacks=[CtrlCMidEpoch()], plots=False)
    assert cut.status == "interrupted"
    resumed = resume_run(cut.folder, plots=False)
    assert straight.status == resumed.status == "completed"
    a, _ = load_run_checkpoint(straight.folder / "checkpoint.npz")
    b, _ = load_run_checkpoint(cut.folder / "checkpoint.npz")
    assert set(a["optimizer"][0]) == {"3.m", "4.exp_avg", "4.exp_avg_sq", "5.slow"}
    for x, y in zip(a["weights"] + a["biases"], b["weights"] + b["biases"]):
        assert np.array_equal(x, y)
    for x, y in zip(a["optimizer"], b["optimizer"]):
        assert all(np.array_equal(x[k], y[k]) for k in x)
    strip = ("train_time", "eval_time")
    rows = [
        [
            {k: v for k, v in r.items() if k not in strip}
            for r in (json.loads(line) for line in f.read_text().splitlines())
        ]
        for f in (straight.folder / "metrics.jsonl", cut.folder / "metrics.jsonl")
    ]
    assert rows[0] == rows[1] and len(rows[0]) == 4


# -- per-layer learning-rate multipliers ---------------------------------------------------


@pytest.mark.parametrize(
    "optimizer", [{"name": "adam", "lr": 0.02}, chain(CHAIN)], ids=["adam", "chain"]
)
def test_a_layer_with_multiplier_zero_does_not_move(optimizer):
    data = spec(optimizer=optimizer)
    data["training"].update(lr_multipliers={1: 0.0}, weight_decay=0.01)  # decay is scaled too
    exp = build(validate_spec(data))
    start = [p.copy() for p in exp.network.params()]
    trainer = exp.trainer()
    trainer.fit(exp.data)
    moved = [not np.array_equal(p, q) for p, q in zip(trainer.network.params(), start)]
    assert moved == [True, True, False, False, True, True]  # W₁ b₁ | W₂ b₂ frozen | W₃ b₃


def test_a_frozen_layer_does_not_trip_the_stall_guard(tmp_path):
    data = spec()
    data["training"]["lr_multipliers"] = [1.0, 0.0, 1.0]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    assert run_spec(path, out=tmp_path / "runs", plots=False).status == "completed"


def test_multipliers_scale_the_rate_exactly():
    halved = spec(optimizer={"name": "sgd", "lr": 0.5})
    halved["training"]["lr_multipliers"] = [0.5, 0.5, 0.5]
    quarter = spec(optimizer={"name": "sgd", "lr": 0.25})
    ones = spec(optimizer={"name": "sgd", "lr": 0.25})
    ones["training"]["lr_multipliers"] = {0: 1.0}
    a, b, c = trained(halved), trained(quarter), trained(ones)
    for x, y, z in zip(a.network.params(), b.network.params(), c.network.params()):
        assert np.array_equal(x, y) and np.array_equal(y, z)


def test_the_multiplier_list_must_have_one_factor_per_layer():
    data = spec()
    data["training"]["lr_multipliers"] = [1.0, 0.1]
    with pytest.raises(
        SpecError, match="2 factors for a network with 3 weight layers: give exactly 3"
    ):
        validate_spec(data)
    data["training"]["lr_multipliers"] = {3: 0.1}
    with pytest.raises(SpecError, match="layer index 3 does not exist.*indices 0 to 2"):
        validate_spec(data)
    data["training"]["lr_multipliers"] = [1.0, -0.1, 1.0]
    with pytest.raises(SpecError, match=r"training.lr_multipliers: .*factor of layer 1 is -0.1"):
        validate_spec(data)
    exp = build(validate_spec(spec()), load_data=False)
    with pytest.raises(ValueError, match="2 factors, but the network has 3 weight layers"):
        Trainer(
            exp.network,
            exp.cost,
            exp.optimizer,
            epochs=1,
            batch_size=4,
            rng=np.random.default_rng(),
            lr_multipliers=[1, 2],
        )


# -- the command line ----------------------------------------------------------------------


def test_the_example_chain_spec_trains_from_the_cli(tmp_path):
    example = ROOT / "examples" / "chain.yaml"
    out = tmp_path / "runs"
    result = runner.invoke(
        app,
        ["run", str(example), "--set", "training.epochs=2", "--out", str(out), "-q", "--no-plots"],
    )
    assert result.exit_code == 0, result.output
    (folder,) = out.iterdir()
    resolved = yaml.safe_load((folder / "resolved.yaml").read_text())
    assert [link["name"] for link in resolved["optimizer"]["links"]] == [
        "clip-global-norm",
        "centralize",
        "adam",
        "lookahead",
    ]
    state, _ = load_run_checkpoint(folder / "checkpoint.npz")
    assert set(state["optimizer"][0]) == {"2.exp_avg", "2.exp_avg_sq", "3.slow"}
    assert state["epoch"] == 2


def test_plugins_and_show_list_the_transforms():
    listed = runner.invoke(app, ["plugins", "transform"])
    assert (
        listed.exit_code == 0
        and "lookahead" in listed.output
        and "clip-global-norm" in listed.output
    )
    shown = runner.invoke(app, ["show", "transform", "add-noise"])
    assert shown.exit_code == 0 and "Neelakantan" in shown.output


def test_the_transform_written_in_docs_plugins_composes_and_passes_the_kit(deltaw_plugin):
    """docs/plugins.md's example transform and spec, run as written (so the docs cannot rot)."""
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("## Write a transform", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    links = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])["optimizer"]
    namespace: dict = {}
    exec(compile(code, "docs/plugins.md", "exec"), namespace)
    deltaw_plugin(
        types.SimpleNamespace(register_transforms=namespace["register_transforms"]), "sign"
    )
    trainer = trained(spec(optimizer=links))
    assert [type(link).__name__ for link in trainer.optimizer.links] == [
        "ClipGlobalNorm",
        "Sign",
        "SGD",
    ]
    assert set(trainer.state[0]) == {"1.m"}
    check_optimizer(trainer.optimizer)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("DELTAW_MNIST_DIR"),
    reason="set DELTAW_MNIST_DIR to a folder with the real MNIST files",
)
def test_the_mnist_lookahead_example_trains(tmp_path):
    example = ROOT / "examples" / "nielsen" / "lookahead.yaml"
    sets = ["data.limit=5000", "training.epochs=2"]
    result = run_spec(example, sets, out=tmp_path / "runs", plots=False)
    assert result.status == "completed"
    assert result.history[-1]["validation_accuracy"] > 0.5  # chance is 0.1; full runs: 95%
