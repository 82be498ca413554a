"""nadam, radam, adamax, adadelta, lamb, adabelief against independent rewrites of their references.

Each reference below is written from the published algorithm (the ``torch.optim``
documentation's pseudocode for the first four, You et al. 2019 Algorithm 2 for
LAMB, Zhuang et al. 2020 Algorithm 2 and the official ``adabelief-pytorch``
0.2.0 for AdaBelief) in plain, allocating numpy, without the classes under test.
Every rule replays 30 steps of random gradients of changing scale, with a
learning rate that changes every step (as a schedule would), at three or more
hyper-parameter settings, in float64, and must agree to 1e-12 relative.
"""

import copy
import json
import math

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from deltaw.cli import app
from deltaw.errors import SpecError
from deltaw.plugins.optimizers_adaptive import Adadelta, Adamax, NAdam, RAdam
from deltaw.plugins.optimizers_papers import LAMB, AdaBelief
from deltaw.spec.loading import validate_spec
from deltaw.testing import check_optimizer

STEPS = 30
RNG = np.random.default_rng(2024)
THETA0 = RNG.standard_normal((4, 3))
# gradients whose scale changes over time, so running maxima and variances also shrink
SCALES = np.exp(RNG.uniform(-2.0, 1.0, STEPS))
GRADS = [s * RNG.standard_normal(THETA0.shape) for s in SCALES]
LRS = list(0.01 + 0.04 * RNG.random(STEPS))


def run(opt, theta0=THETA0, grads=GRADS, lrs=LRS):
    theta = theta0.copy()
    state = opt.init(theta)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        opt.update(theta, g.copy(), state, t, lr)
    return theta


# -- the references ----------------------------------------------------------------------------


def nadam_ref(b1, b2, eps, psi):
    """torch.optim.NAdam: μₜ = β₁(1 − ½·0.96^(tψ)), Nesterov m̂ with the products of μᵢ."""
    theta, m, v = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    mus = [b1 * (1 - 0.5 * 0.96 ** (i * psi)) for i in range(1, STEPS + 2)]  # μ₁ … μ_{T+1}
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        mu_t, mu_next = mus[t - 1], mus[t]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = mu_next * m / (1 - np.prod(mus[: t + 1])) + (1 - mu_t) * g / (1 - np.prod(mus[:t]))
        v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def radam_rho(b2, t):
    rho_inf = 2 / (1 - b2) - 1
    return rho_inf, rho_inf - 2 * t * b2**t / (1 - b2**t)


def radam_ref(b1, b2, eps):
    """torch.optim.RAdam: rectified adaptive step when ρₜ > 5, else γm̂."""
    theta, m, v = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        rho_inf, rho_t = radam_rho(b2, t)
        if rho_t > 5:
            l_t = np.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            r_t = np.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            theta = theta - lr * m_hat * r_t * l_t
        else:
            theta = theta - lr * m_hat
    return theta


def adamax_ref(b1, b2, eps):
    """torch.optim.Adamax: u = max(β₂u, |g| + ε); θ ← θ − γm/((1 − β₁ᵗ)u)."""
    theta, m, u = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        theta = theta - lr * m / ((1 - b1**t) * u)
    return theta


def adadelta_ref(rho, eps):
    """torch.optim.Adadelta: Δ = √(u + ε)/√(v + ε)·g with u updated after Δ."""
    theta, v, u = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    for g, lr in zip(GRADS, LRS):
        v = v * rho + g**2 * (1 - rho)
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = u * rho + dx**2 * (1 - rho)
        theta = theta - lr * dx
    return theta


def lamb_ref(b1, b2, eps, lam, theta0=THETA0, grads=GRADS, lrs=LRS):
    """You et al. 2019, Algorithm 2 with bias correction, φ = identity, ratio 1 at a zero norm."""
    theta, m, v = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        r = m_hat / (np.sqrt(v_hat) + eps) + lam * theta
        w_norm = math.sqrt(float(np.sum(theta**2)))
        r_norm = math.sqrt(float(np.sum(r**2)))
        trust = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        theta = theta - lr * trust * r
    return theta


def adabelief_ref(b1, b2, eps, rectify):
    """Zhuang et al. 2020 Algorithm 2; rectify: adabelief-pytorch 0.2.0's RAdam-style branch."""
    theta, m, s = THETA0.copy(), np.zeros_like(THETA0), np.zeros_like(THETA0)
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps
        m_hat, s_hat = m / (1 - b1**t), s / (1 - b2**t)
        if not rectify:
            theta = theta - lr * m_hat / (np.sqrt(s_hat) + eps)
            continue
        rho_inf, rho_t = radam_rho(b2, t)
        if rho_t >= 5:
            r_t = np.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            theta = theta - lr * r_t * np.sqrt(1 - b2**t) * m_hat / (np.sqrt(s) + eps)
        else:
            theta = theta - lr * m_hat
    return theta


CASES = [
    (NAdam(), nadam_ref(0.9, 0.999, 1e-8, 4e-3)),
    (NAdam(beta1=0.8, beta2=0.95, eps=1e-4, momentum_decay=0.1), nadam_ref(0.8, 0.95, 1e-4, 0.1)),
    (NAdam(beta1=0.95, beta2=0.9, eps=1e-6, momentum_decay=1.0), nadam_ref(0.95, 0.9, 1e-6, 1.0)),
    (NAdam(beta1=0.7, momentum_decay=0.0), nadam_ref(0.7, 0.999, 1e-8, 0.0)),
    (RAdam(), radam_ref(0.9, 0.999, 1e-8)),
    (RAdam(beta1=0.8, beta2=0.9, eps=1e-3), radam_ref(0.8, 0.9, 1e-3)),
    (RAdam(beta1=0.5, beta2=0.99, eps=1e-6), radam_ref(0.5, 0.99, 1e-6)),
    (RAdam(beta2=0.6), radam_ref(0.9, 0.6, 1e-8)),  # ρ_∞ = 4: never rectified
    (Adamax(), adamax_ref(0.9, 0.999, 1e-8)),
    (Adamax(beta1=0.8, beta2=0.7, eps=1e-3), adamax_ref(0.8, 0.7, 1e-3)),
    (Adamax(beta1=0.0, beta2=0.5, eps=1e-6), adamax_ref(0.0, 0.5, 1e-6)),
    (Adadelta(), adadelta_ref(0.9, 1e-6)),
    (Adadelta(rho=0.5, eps=1e-3), adadelta_ref(0.5, 1e-3)),
    (Adadelta(rho=0.99, eps=1e-8), adadelta_ref(0.99, 1e-8)),
    (LAMB(), lamb_ref(0.9, 0.999, 1e-6, 1e-2)),
    (LAMB(weight_decay=0.0), lamb_ref(0.9, 0.999, 1e-6, 0.0)),
    (LAMB(beta1=0.8, beta2=0.9, eps=1e-3, weight_decay=0.5), lamb_ref(0.8, 0.9, 1e-3, 0.5)),
    (LAMB(beta1=0.5, beta2=0.99, eps=1e-8, weight_decay=0.1), lamb_ref(0.5, 0.99, 1e-8, 0.1)),
    (AdaBelief(), adabelief_ref(0.9, 0.999, 1e-16, False)),
    (AdaBelief(beta1=0.8, beta2=0.9, eps=1e-8), adabelief_ref(0.8, 0.9, 1e-8, False)),
    (AdaBelief(beta1=0.5, beta2=0.99, eps=1e-4), adabelief_ref(0.5, 0.99, 1e-4, False)),
    (AdaBelief(rectify=True), adabelief_ref(0.9, 0.999, 1e-16, True)),
    (AdaBelief(rectify=True, beta1=0.8, beta2=0.9, eps=1e-8), adabelief_ref(0.8, 0.9, 1e-8, True)),
    (AdaBelief(rectify=True, beta2=0.6, eps=1e-6), adabelief_ref(0.9, 0.6, 1e-6, True)),
]


@pytest.mark.parametrize(("opt", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
def test_thirty_steps_follow_the_reference(opt, expected):
    assert not np.allclose(expected, THETA0)  # the steps moved θ: the comparison means something
    np.testing.assert_allclose(run(opt), expected, rtol=1e-12, atol=1e-14)


def test_the_radam_and_adabelief_settings_cover_both_branches():
    # β₂ = 0.999 and 0.9 start un-adapted and are rectified within the 30 steps; 0.6 never is
    for b2 in (0.999, 0.9, 0.99):
        rhos = [radam_rho(b2, t)[1] for t in range(1, STEPS + 1)]
        assert rhos[0] <= 5 < rhos[-1], b2
    assert all(radam_rho(0.6, t)[1] <= 5 for t in range(1, STEPS + 1))


def test_radam_falls_back_to_the_momentum_step_while_rho_is_small():
    # step 1: ρ₁ = 1, so θ moves by exactly γ m̂ = γ g whatever v is
    theta, g = THETA0.copy(), GRADS[0]
    RAdam().update(theta, g, RAdam().init(theta), 1, 0.1)
    np.testing.assert_allclose(theta, THETA0 - 0.1 * g, rtol=1e-15)


def test_nadam_product_of_mu_is_the_same_however_the_steps_come():
    opt, psi = NAdam(momentum_decay=0.3), 0.3
    mus = [0.9 * (1 - 0.5 * 0.96 ** (i * psi)) for i in range(1, 41)]
    for step in (1, 2, 3, 40, 7, 8, 1, 25):  # a second run, a resume, a step back
        assert opt._mu_product(step) == pytest.approx(np.prod(mus[:step]), rel=1e-14)
    # a second training with the same instance gives the same bits as a fresh instance
    first = run(copy.deepcopy(opt))
    assert np.array_equal(run(opt), first)


def test_lamb_trust_ratio_is_per_array_and_one_at_a_zero_norm():
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((5, 3)), np.zeros(3)
    gw = [rng.standard_normal(W.shape) for _ in range(6)]
    gb = [rng.standard_normal(b.shape) for _ in range(6)]
    lrs = [0.1] * 6
    opt = LAMB(weight_decay=0.2)
    np.testing.assert_allclose(
        run(opt, W, gw, lrs), lamb_ref(0.9, 0.999, 1e-6, 0.2, W, gw, lrs), rtol=1e-12
    )
    # b starts at 0: ‖θ‖ = 0, so the first step is the plain γr (ratio 1), not a zero step
    b1 = b.copy()
    opt.update(b1, gb[0], opt.init(b1), 1, 0.1)
    r = gb[0] / (np.abs(gb[0]) + 1e-6)  # m̂ = g, √v̂ = |g| on step 1
    np.testing.assert_allclose(b1, -0.1 * r, rtol=1e-12)
    np.testing.assert_allclose(
        run(opt, b, gb, lrs), lamb_ref(0.9, 0.999, 1e-6, 0.2, b, gb, lrs), rtol=1e-12
    )
    # a zero gradient and no decay: u = 0, ratio 1, θ stays put (no 0/0)
    theta = W.copy()
    LAMB(weight_decay=0.0).update(theta, np.zeros_like(W), opt.init(W), 1, 0.1)
    assert np.array_equal(theta, W)


def test_lamb_step_length_is_lr_times_the_weight_norm():
    theta = THETA0.copy()
    LAMB().update(theta, GRADS[0], LAMB().init(theta), 1, 0.05)
    assert np.linalg.norm(theta - THETA0) == pytest.approx(0.05 * np.linalg.norm(THETA0))


# -- the contract, float32 and defaults --------------------------------------------------------

VARIANTS = [
    NAdam(),
    NAdam(momentum_decay=1.0),
    RAdam(),
    RAdam(beta2=0.6),
    Adamax(),
    Adadelta(),
    LAMB(),
    LAMB(weight_decay=0.0),
    AdaBelief(),
    AdaBelief(rectify=True),
]


@pytest.mark.parametrize("opt", VARIANTS, ids=repr)
def test_public_contract_check_passes(opt):
    check_optimizer(opt)


@pytest.mark.parametrize("opt", VARIANTS, ids=repr)
def test_float32_stays_float32_and_tracks_float64(opt):
    theta = THETA0.astype(np.float32)
    o32, o64 = copy.deepcopy(opt), copy.deepcopy(opt)
    state = o32.init(theta)
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        o32.update(theta, g.astype(np.float32), state, t, lr)
        assert theta.dtype == np.float32
        assert all(a.dtype == np.float32 for a in state.values())
    np.testing.assert_allclose(theta, run(o64), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("cls", "defaults"),
    [
        (NAdam, {"lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 4e-3}),
        (RAdam, {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
        (Adamax, {"lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
        (Adadelta, {"lr": 1.0, "rho": 0.9, "eps": 1e-6}),
        (LAMB, {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "weight_decay": 1e-2}),
        (AdaBelief, {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-16, "rectify": False}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_defaults_are_the_references(cls, defaults):
    assert cls().params.model_dump() == defaults


@pytest.mark.parametrize(
    ("cls", "bad"),
    [
        (NAdam, {"momentum_decay": -1.0}),
        (RAdam, {"beta2": 1.0}),
        (Adamax, {"eps": 0.0}),
        (Adadelta, {"rho": 1.0}),
        (LAMB, {"weight_decay": -0.1}),
        (AdaBelief, {"beta1": -0.1}),
    ],
)
def test_out_of_range_hyper_parameters_are_rejected(cls, bad):
    with pytest.raises(ValidationError):
        cls(**bad)


# -- specs and the CLI -------------------------------------------------------------------------

SPEC = {
    "name": "tiny",
    "seed": 3,
    "data": {"name": "blobs", "samples": 300, "classes": 3},
    "network": {
        "layers": [2, 8, 3],
        "activation": "tanh",
        "output_activation": "softmax",
        "init": "glorot-uniform",
    },
    "cost": "log-likelihood",
    "training": {"epochs": 4, "batch_size": 16, "evaluate": ["training"]},
}


def test_lamb_and_training_weight_decay_together_are_rejected():
    spec = {**SPEC, "optimizer": {"name": "lamb"}, "training": {"weight_decay": 0.1}}
    with pytest.raises(SpecError) as err:
        validate_spec(spec)
    text = str(err.value)
    assert "training.weight_decay" in text and "'lamb'" in text and "Set one of them to 0" in text
    # with its own λ at 0 the framework's decoupled decay (outside the trust ratio) is allowed
    validate_spec({**spec, "optimizer": {"name": "lamb", "weight_decay": 0.0}})


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "nadam", "lr": 0.02},
        {"name": "radam", "lr": 0.02},
        {"name": "adamax", "lr": 0.02},
        {"name": "adadelta"},
        {"name": "lamb", "lr": 0.02},
        {"name": "adabelief", "lr": 0.02},
        {"name": "adabelief", "lr": 0.02, "rectify": True},
    ],
    ids=lambda o: "-".join(str(v) for k, v in o.items() if k != "lr"),
)
def test_a_tiny_spec_trains_end_to_end_and_resumes_bit_for_bit(tmp_path, optimizer):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "optimizer": optimizer}))

    def cli(*args):
        result = CliRunner().invoke(app, ["run", *args, "--quiet", "--no-plots"])
        assert result.exit_code == 0, result.output

    cli(str(path), "--out", str(tmp_path / "straight"))
    (straight,) = list((tmp_path / "straight").iterdir())
    rows = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    costs = [r["training_cost"] for r in rows]
    assert len(costs) == 4 and all(np.isfinite(costs))
    assert costs[-1] < costs[0]
    # 2 epochs, then resumed to 4 in a new optimizer object: the state is all it needs
    cli(str(path), "--out", str(tmp_path / "cut"), "--set", "training.epochs=2")
    (cut,) = list((tmp_path / "cut").iterdir())
    cli("--resume", str(cut), "--set", "training.epochs=4")
    with np.load(straight / "weights.npz") as a, np.load(cut / "weights.npz") as b:
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_adabelief_refuses_beta1_zero_where_its_belief_is_zero():
    # found by the kit's settings near the bounds: at β₁ = 0, m = g, (g − m)² = 0, step γg/√ε
    with pytest.raises(ValidationError, match="greater than 0"):
        AdaBelief(beta1=0.0)
    theta = THETA0.copy()
    AdaBelief(beta1=1e-3).update(theta, GRADS[0], AdaBelief().init(theta), 1, 1e-3)
    assert np.all(np.isfinite(theta))
