"""Adam's relatives from ``torch.optim``: NAdam, RAdam, Adamax and Adadelta.

Each rule is written as the PyTorch documentation's pseudocode (γ = ``lr``,
already scheduled; t = ``step``, 1-based; g = the mean gradient), with the
same defaults. Their ``weight_decay`` options are left out: the framework owns
decay for every rule. ``training.weight_decay`` is PyTorch's
``decoupled_weight_decay=True`` (θ ← θ − γλθ before the step). The ``l2``
regularizer adds (λ/n)w to the weights' gradient only, so it is not PyTorch's
coupled ``weight_decay`` (g ← g + λθ on every array, biases included).
Nesterov SGD is ``momentum`` with ``nesterov: true`` (in ``optimizers.py``).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw


class NAdam(deltaw.Optimizer):
    """Adam with Nesterov momentum and Dozat's μ schedule (PyTorch's form).

    μₜ = β₁(1 − ½·0.96^(tψ)); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
    m̂ = μₜ₊₁m/(1 − ∏ᵢ₌₁ᵗ⁺¹μᵢ) + (1 − μₜ)g/(1 − ∏ᵢ₌₁ᵗμᵢ); v̂ = v/(1 − β₂ᵗ);
    θ ← θ − γm̂/(√v̂ + ε). ∏μᵢ depends on t only, so it is not state: the rule
    recomputes it from ``step`` (remembering the last product). Defaults as
    PyTorch ``NAdam``: lr 2e-3, β₁ 0.9, β₂ 0.999, ε 1e-8, ψ 4e-3 (Keras'
    Nadam uses 0.96ᵗ, that is ψ = 1; optax's nadam has no schedule). Dozat,
    2016.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(2e-3, gt=0, description="learning rate γ")
        beta1: float = Field(0.9, ge=0, lt=1, description="decay β₁ of the first moment m")
        beta2: float = Field(0.999, ge=0, lt=1, description="decay β₂ of the second moment v")
        eps: float = Field(1e-8, gt=0, description="ε added to √v̂")
        momentum_decay: float = Field(
            4e-3, ge=0, description="ψ of the schedule μₜ = β₁(1 − ½·0.96^(tψ))"
        )

    def init(self, param):
        return {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def _mu(self, t: int) -> float:
        p = self.params
        return p.beta1 * (1.0 - 0.5 * 0.96 ** (t * p.momentum_decay))  # μₜ

    def _mu_product(self, step: int) -> float:
        """∏ᵢ₌₁ᵗμᵢ, multiplied in order from i = 1, so a resumed run gets the same bits."""
        key = (self.params.beta1, self.params.momentum_decay)
        memo_key, t, prod = getattr(self, "_memo", (key, 0, 1.0))
        if memo_key != key or t > step:
            t, prod = 0, 1.0
        while t < step:
            t += 1
            prod *= self._mu(t)
        self._memo = (key, t, prod)
        return prod

    def update(self, param, grad, state, step, lr):
        p, m, v = self.params, state["exp_avg"], state["exp_avg_sq"]
        mu, mu_next = self._mu(step), self._mu(step + 1)
        prod = self._mu_product(step)  # ∏ᵢ₌₁ᵗμᵢ
        prod_next = prod * mu_next  # ∏ᵢ₌₁ᵗ⁺¹μᵢ
        m *= p.beta1  # m ← β₁m + (1 − β₁)g
        m += (1.0 - p.beta1) * grad
        v *= p.beta2  # v ← β₂v + (1 − β₂)g²
        v += (1.0 - p.beta2) * grad * grad
        denom = np.sqrt(v)
        denom *= 1.0 / math.sqrt(1.0 - p.beta2**step)  # √v̂
        denom += p.eps
        param -= (lr * (1.0 - mu) / (1.0 - prod)) * grad / denom  # the gradient's part of m̂
        param -= (lr * mu_next / (1.0 - prod_next)) * m / denom  # the momentum's part


class RAdam(deltaw.Optimizer):
    """Adam with its variance rectified, un-adapted while ρₜ ≤ 5 (PyTorch's form).

    m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; m̂ = m/(1 − β₁ᵗ);
    ρ_∞ = 2/(1 − β₂) − 1; ρₜ = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ). If ρₜ > 5:
    lₜ = √(1 − β₂ᵗ)/(√v + ε), rₜ = √((ρₜ − 4)(ρₜ − 2)ρ_∞/((ρ_∞ − 4)(ρ_∞ − 2)ρₜ)),
    θ ← θ − γm̂rₜlₜ; else θ ← θ − γm̂. ε sits outside the root, as in PyTorch's
    code and current docs (older docs showed √(v + ε)). With β₂ = 0.999 the
    first 5 steps are un-adapted; with ρ_∞ ≤ 5 (β₂ ≤ 0.6) every step is.
    Defaults as PyTorch ``RAdam``: lr 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-8. Liu et
    al., 2020.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-3, gt=0, description="learning rate γ")
        beta1: float = Field(0.9, ge=0, lt=1, description="decay β₁ of the first moment m")
        beta2: float = Field(0.999, ge=0, lt=1, description="decay β₂ of the second moment v")
        eps: float = Field(1e-8, gt=0, description="ε added to √v")

    def init(self, param):
        return {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def update(self, param, grad, state, step, lr):
        p, m, v = self.params, state["exp_avg"], state["exp_avg_sq"]
        m *= p.beta1  # m ← β₁m + (1 − β₁)g
        m += (1.0 - p.beta1) * grad
        v *= p.beta2  # v ← β₂v + (1 − β₂)g²
        v += (1.0 - p.beta2) * grad * grad
        bias1, bias2 = 1.0 - p.beta1**step, 1.0 - p.beta2**step
        rho_inf = 2.0 / (1.0 - p.beta2) - 1.0  # length of the approximated SMA
        rho_t = rho_inf - 2.0 * step * p.beta2**step / bias2
        if rho_t > 5.0:
            r_t = math.sqrt(
                (rho_t - 4.0)
                * (rho_t - 2.0)
                * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            )
            denom = np.sqrt(v)
            denom += p.eps
            param -= (lr * r_t * math.sqrt(bias2) / bias1) * m / denom  # γ m̂ rₜ lₜ
        else:
            param -= (lr / bias1) * m  # γ m̂


class Adamax(deltaw.Optimizer):
    """Adam with the infinity norm in place of the second moment (PyTorch's form).

    m ← β₁m + (1 − β₁)g; u ← max(β₂u, |g| + ε); θ ← θ − γm/((1 − β₁ᵗ)u).
    Only m is bias-corrected; ε sits inside the max, as in PyTorch (Keras adds
    it to u afterwards). Defaults as PyTorch ``Adamax``: lr 2e-3, β₁ 0.9,
    β₂ 0.999, ε 1e-8. Kingma & Ba, 2015, section 7.1.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(2e-3, gt=0, description="learning rate γ")
        beta1: float = Field(0.9, ge=0, lt=1, description="decay β₁ of the first moment m")
        beta2: float = Field(0.999, ge=0, lt=1, description="decay β₂ of the infinity norm u")
        eps: float = Field(1e-8, gt=0, description="ε added to |g| inside the max")

    def init(self, param):
        return {"exp_avg": np.zeros_like(param), "exp_inf": np.zeros_like(param)}

    def update(self, param, grad, state, step, lr):
        p, m, u = self.params, state["exp_avg"], state["exp_inf"]
        m *= p.beta1  # m ← β₁m + (1 − β₁)g
        m += (1.0 - p.beta1) * grad
        u *= p.beta2  # u ← max(β₂u, |g| + ε)
        g_abs = np.abs(grad)
        g_abs += p.eps
        np.maximum(u, g_abs, out=u)
        param -= (lr / (1.0 - p.beta1**step)) * m / u


class Adadelta(deltaw.Optimizer):
    """Steps of RMS(past steps)/RMS(gradients)·g, Zeiler's rule (PyTorch's form).

    v ← ρv + (1 − ρ)g²; Δ = √(u + ε)/√(v + ε)·g; u ← ρu + (1 − ρ)Δ²;
    θ ← θ − γΔ, with ε inside both roots. Zeiler's rule has no learning rate;
    PyTorch's γ scales Δ and defaults to 1.0, which is Zeiler's. Defaults as
    PyTorch ``Adadelta``: lr 1.0, ρ 0.9, ε 1e-6 (Keras: lr 1e-3, ρ 0.95,
    ε 1e-7). Zeiler, 2012.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1.0, gt=0, description="learning rate γ, a scale on Δ")
        rho: float = Field(0.9, ge=0, lt=1, description="decay ρ of both running averages")
        eps: float = Field(1e-6, gt=0, description="ε added inside both square roots")

    def init(self, param):
        return {"square_avg": np.zeros_like(param), "acc_delta": np.zeros_like(param)}

    def update(self, param, grad, state, step, lr):
        p, v, u = self.params, state["square_avg"], state["acc_delta"]
        v *= p.rho  # v ← ρv + (1 − ρ)g²
        v += (1.0 - p.rho) * grad * grad
        delta = np.sqrt(u + p.eps)  # Δ = √(u + ε)/√(v + ε)·g
        delta /= np.sqrt(v + p.eps)
        delta *= grad
        u *= p.rho  # u ← ρu + (1 − ρ)Δ²
        u += (1.0 - p.rho) * delta * delta
        param -= lr * delta


@deltaw.hookimpl
def register_optimizers(register):
    register("nadam", NAdam)
    register("radam", RAdam)
    register("adamax", Adamax)
    register("adadelta", Adadelta)
