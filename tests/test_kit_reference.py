"""check_optimizer(..., reference=...): 25 steps against a plain reference step or a recording.

"Descends on a convex quadratic" alone passed AdaBelief without its bias correction; the
reference check catches it and names the setting and the step.
"""

import math

import numpy as np
import pytest

from deltaw.plugins.optimizers import SGD, Adam
from deltaw.plugins.optimizers_papers import AdaBelief
from deltaw.testing import REFERENCE_STEPS, Trajectory, check_optimizer, reference_inputs


def adabelief_step(param, grad, state, step, lr, beta1, beta2, eps, rectify):
    """Zhuang et al. 2020, Algorithm 2 (and adabelief-pytorch 0.2.0's rectified branch)."""
    m = state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * grad
    s = state["s"] = beta2 * state.get("s", 0.0) + (1 - beta2) * (grad - m) ** 2 + eps
    m_hat, s_hat = m / (1 - beta1**step), s / (1 - beta2**step)
    if not rectify:
        return param - lr * m_hat / (np.sqrt(s_hat) + eps)
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * step * beta2**step / (1 - beta2**step)
    if rho < 5:
        return param - lr * m_hat
    r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return param - lr * r * math.sqrt(1 - beta2**step) * m_hat / (np.sqrt(s) + eps)


def adam_step(param, grad, state, step, lr, beta1, beta2, eps, amsgrad):
    """Kingma & Ba 2015, Algorithm 1; AMSGrad keeps the running maximum of v (PyTorch's form)."""
    m = state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * grad
    v = state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * grad**2
    if amsgrad:
        v = state["v_max"] = np.maximum(state.get("v_max", 0.0), v)
    return param - lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)


def test_adam_follows_the_papers_step_at_every_setting():
    check_optimizer(Adam, reference=adam_step)  # amsgrad on and off among the four


class AdaBeliefWithoutBiasCorrection(AdaBelief):
    """θ ← θ − γ m/(√s + ε): no 1/(1 − βᵗ) factors. It still descends on a quadratic."""

    def update(self, param, grad, state, step, lr):
        p, m, s = self.params, state["exp_avg"], state["exp_avg_var"]
        m *= p.beta1
        m += (1.0 - p.beta1) * grad
        s *= p.beta2
        s += (1.0 - p.beta2) * (grad - m) ** 2 + p.eps
        param -= lr * m / (np.sqrt(s) + p.eps)


def test_adabelief_follows_the_papers_step_at_every_setting():
    check_optimizer(AdaBelief, reference=adabelief_step)  # rectify on and off among the four


def test_adabelief_without_bias_correction_descends_but_is_caught_against_the_reference():
    check_optimizer(AdaBeliefWithoutBiasCorrection)  # contract and descent pass at every setting
    with pytest.raises(AssertionError) as exc:
        check_optimizer(AdaBeliefWithoutBiasCorrection, reference=adabelief_step)
    message = str(exc.value)
    assert message.startswith(
        "check_optimizer(AdaBeliefWithoutBiasCorrection(lr=0.001, beta1=0.9, beta2=0.999, "
        "eps=1e-16, rectify=False), setting 1 of 4): step 1 of 25 strays from the reference: "
        "param["
    ), message
    assert "relative error" in message and "lr changing every step" in message


class IgnoresTheScheduledRate(SGD):
    def update(self, param, grad, state, step, lr):
        param -= self.params.lr * grad  # the base rate, whatever the schedule says


def sgd_step(param, grad, state, step, lr):
    return param - lr * grad


def test_a_rule_that_ignores_the_rate_it_is_given_is_caught():
    check_optimizer(SGD, reference=sgd_step)
    with pytest.raises(AssertionError, match=r"setting 1 of 4\): step 1 of 25 strays"):
        check_optimizer(IgnoresTheScheduledRate, reference=sgd_step)


def record(opt, theta0, grads, lrs):
    """What another library would record: θ after each step (here a plain Adam rewrite)."""
    p = opt.params
    theta, m, v, out = theta0.copy(), 0.0, 0.0, []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = p.beta1 * m + (1 - p.beta1) * g
        v = p.beta2 * v + (1 - p.beta2) * g * g
        theta = theta - lr * (m / (1 - p.beta1**t)) / (np.sqrt(v / (1 - p.beta2**t)) + p.eps)
        out.append(theta)
    return out


def test_a_recorded_trajectory_is_replayed_step_by_step():
    theta0, grads, lrs = reference_inputs(lr=0.01)
    assert len(grads) == len(lrs) == REFERENCE_STEPS and theta0.shape == (4, 3)
    assert np.array_equal(reference_inputs(lr=0.01)[0], theta0)  # reproducible inputs
    params = {"lr": 0.01, "beta1": 0.8, "beta2": 0.95}
    good = Trajectory(theta0, grads, lrs, record(Adam(**params), theta0, grads, lrs), params)
    check_optimizer(Adam(), reference=good)  # the trajectory's params win over the instance's
    check_optimizer(Adam, reference=[good, good])
    thetas = list(good.thetas)
    thetas[9] = thetas[9] + 1e-6
    bad = Trajectory(theta0, grads, lrs, thetas, params)
    with pytest.raises(AssertionError, match=r"step 10 of 25 strays from the recorded trajectory"):
        check_optimizer(Adam(), reference=bad)
    with pytest.raises(ValueError, match="24 parameters; it needs one of each per step"):
        check_optimizer(Adam(), reference=Trajectory(theta0, grads, lrs, thetas[:-1], params))
