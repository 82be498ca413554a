"""Built-in update rules: the public contract check, and five steps against PyTorch's pseudocode.

Each reference below is the ``torch.optim`` documentation's algorithm box written
in plain numpy (weight_decay = 0, maximize = False), with non-default
hyper-parameters, run on a fixed sequence of gradients and a learning rate
that changes every step (as a schedule would).
"""

import numpy as np
import pytest
from pydantic import ValidationError

from deltaw.plugins.optimizers import SGD, Adagrad, Adam, AdamW, Momentum, RMSprop
from deltaw.registry import Registry
from deltaw.testing import check_optimizer


def builtin_entries(kind):
    """Every built-in of a kind, from a registry with the built-ins only (new ones are covered
    automatically)."""
    reg = Registry()
    reg.load_builtins()
    return reg.entries(kind)


@pytest.mark.parametrize("entry", builtin_entries("optimizer"), ids=lambda e: e.name)
def test_every_builtin_optimizer_passes_the_public_contract_check(entry):
    check_optimizer(entry.cls)


VARIANTS = [
    Momentum(nesterov=True),
    Momentum(dampening=0.5),
    RMSprop(centered=True),
    RMSprop(momentum=0.8),
    RMSprop(centered=True, momentum=0.8),
    Adam(amsgrad=True),
    AdamW(amsgrad=True, weight_decay=0.1),
    Adagrad(lr_decay=0.1, initial_accumulator_value=0.5),
]


@pytest.mark.parametrize("opt", VARIANTS, ids=repr)
def test_option_variants_pass_the_public_contract_check(opt):
    check_optimizer(opt)


# -- five steps against the published rules ----------------------------------------------------

STEPS = 5
RNG = np.random.default_rng(42)
THETA0 = RNG.standard_normal((3, 4))
GRADS = [RNG.standard_normal((3, 4)) for _ in range(STEPS)]
LRS = [0.05, 0.04, 0.03, 0.05, 0.02]  # a schedule, so the momentum form matters


def run(opt):
    theta = THETA0.copy()
    state = opt.init(theta)
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        opt.update(theta, g, state, t, lr)
    return theta


def sgd_ref():
    theta = THETA0.copy()
    for g, lr in zip(GRADS, LRS):
        theta = theta - lr * g
    return theta


def momentum_ref(mu, tau, nesterov):
    theta, b = THETA0.copy(), None
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        b = g if t == 1 else mu * b + (1 - tau) * g
        theta = theta - lr * (g + mu * b if nesterov else b)
    return theta


def adagrad_ref(lr_decay, s0, eps):
    theta, s = THETA0.copy(), np.full_like(THETA0, s0)
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2
        theta = theta - clr * g / (np.sqrt(s) + eps)
    return theta


def rmsprop_ref(alpha, eps, mu, centered):
    theta, v, b, gbar = THETA0.copy(), 0 * THETA0, 0 * THETA0, 0 * THETA0
    for g, lr in zip(GRADS, LRS):
        v = alpha * v + (1 - alpha) * g**2
        vt = v
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            vt = vt - gbar**2
        if mu > 0:
            b = mu * b + g / (np.sqrt(vt) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (np.sqrt(vt) + eps)
    return theta


def adam_ref(b1, b2, eps, amsgrad, weight_decay=0.0):
    theta, m, v, vmax = THETA0.copy(), 0 * THETA0, 0 * THETA0, 0 * THETA0
    for t, (g, lr) in enumerate(zip(GRADS, LRS), start=1):
        theta = theta - lr * weight_decay * theta  # AdamW only: decoupled decay first
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            v_hat = vmax / (1 - b2**t)
        else:
            v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


CASES = [
    (SGD(lr=0.1), sgd_ref()),
    (Momentum(momentum=0.8, dampening=0.3), momentum_ref(0.8, 0.3, False)),
    (Momentum(momentum=0.7, nesterov=True), momentum_ref(0.7, 0.0, True)),
    (Adagrad(lr_decay=0.2, initial_accumulator_value=0.3, eps=1e-3), adagrad_ref(0.2, 0.3, 1e-3)),
    (RMSprop(alpha=0.9, eps=1e-4), rmsprop_ref(0.9, 1e-4, 0.0, False)),
    (RMSprop(alpha=0.8, eps=1e-3, centered=True), rmsprop_ref(0.8, 1e-3, 0.0, True)),
    (RMSprop(alpha=0.95, eps=1e-6, momentum=0.6), rmsprop_ref(0.95, 1e-6, 0.6, False)),
    (RMSprop(alpha=0.85, momentum=0.5, centered=True), rmsprop_ref(0.85, 1e-8, 0.5, True)),
    (Adam(beta1=0.8, beta2=0.9, eps=1e-3), adam_ref(0.8, 0.9, 1e-3, False)),
    (Adam(beta1=0.7, beta2=0.95, eps=1e-6, amsgrad=True), adam_ref(0.7, 0.95, 1e-6, True)),
    (AdamW(beta1=0.85, beta2=0.99, weight_decay=0.3), adam_ref(0.85, 0.99, 1e-8, False, 0.3)),
    (AdamW(weight_decay=0.2, amsgrad=True), adam_ref(0.9, 0.999, 1e-8, True, 0.2)),
]


@pytest.mark.parametrize(("opt", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
def test_five_steps_follow_the_pytorch_pseudocode(opt, expected):
    np.testing.assert_allclose(run(opt), expected, rtol=1e-12, atol=1e-14)


def test_amsgrad_differs_from_adam_once_v_shrinks():
    # with β₂ small, v falls after a large gradient; AMSGrad keeps the maximum
    assert not np.allclose(run(Adam(beta2=0.5, amsgrad=True)), run(Adam(beta2=0.5)))


# -- defaults and validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "defaults"),
    [
        (SGD, {"lr": 1e-3}),
        (Momentum, {"lr": 1e-3, "momentum": 0.9, "dampening": 0.0, "nesterov": False}),
        (Adagrad, {"lr": 1e-2, "lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10}),
        (RMSprop, {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False}),
        (Adam, {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False}),
        (
            AdamW,
            {
                "lr": 1e-3,
                "beta1": 0.9,
                "beta2": 0.999,
                "eps": 1e-8,
                "amsgrad": False,
                "weight_decay": 1e-2,
            },
        ),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_defaults_are_pytorchs(cls, defaults):
    assert cls().params.model_dump() == defaults


@pytest.mark.parametrize(
    "make",
    [
        lambda: Adam(beta1=1.0),
        lambda: Adam(lr=0.0),
        lambda: RMSprop(alpha=1.0),
        lambda: Momentum(momentum=0.0, nesterov=True),  # PyTorch rejects these too
        lambda: Momentum(dampening=0.1, nesterov=True),
        lambda: SGD(momentum=0.9),  # unknown keys are rejected, not ignored
    ],
)
def test_invalid_hyper_parameters_are_rejected(make):
    with pytest.raises(ValidationError):
        make()


def test_state_holds_only_the_arrays_each_option_needs():
    p = np.zeros((2, 2))
    assert set(RMSprop().init(p)) == {"square_avg"}
    assert set(RMSprop(momentum=0.5, centered=True).init(p)) == {
        "square_avg",
        "momentum_buffer",
        "grad_avg",
    }
    assert set(Adam().init(p)) == {"exp_avg", "exp_avg_sq"}
    assert set(Adam(amsgrad=True).init(p)) == {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert SGD().init(p) == {}


@pytest.mark.parametrize("entry", builtin_entries("optimizer"), ids=lambda e: e.name)
def test_float32_params_get_float32_updates(entry):
    opt = entry.cls()
    p = np.ones((3, 3), dtype=np.float32)
    state = opt.init(p)
    opt.update(p, np.full_like(p, 0.5), state, 1, 0.1)
    assert p.dtype == np.float32 and all(v.dtype == np.float32 for v in state.values())
    assert np.all(p < 1.0)


def test_centered_rmsprop_refuses_alpha_zero_where_its_variance_is_zero():
    # found by the kit's settings near the bounds: α = 0 makes ṽ = g² − g² = 0, so θ −= γg/ε
    with pytest.raises(ValidationError, match="centered RMSprop needs alpha > 0"):
        RMSprop(centered=True, alpha=0.0)
    RMSprop(alpha=0.0)  # plain RMSprop at α = 0 is sign-SGD-like and fine
