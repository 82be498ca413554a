"""LAMB and AdaBelief: update rules with no ``torch.optim`` version, written from their papers.

Same conventions as the other built-in rules (γ = ``lr``, already scheduled;
t = ``step``, 1-based; g = the mean gradient; state holds arrays only). LAMB
keeps its own ``weight_decay`` because its λθ sits inside the trust ratio, so
the framework's ``training.weight_decay`` cannot stand in for it (a spec that
sets both is rejected, as for ``adamw``). AdaBelief's decay is the framework's:
``training.weight_decay`` is the official package's default
``weight_decouple=True, fixed_decay=False`` (θ ← θ − γλθ before the step).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw


class LAMB(deltaw.Optimizer):
    """Adam's step rescaled per array by the trust ratio ‖θ‖/‖r + λθ‖ (You et al.).

    m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; m̂ = m/(1 − β₁ᵗ);
    v̂ = v/(1 − β₂ᵗ); r = m̂/(√v̂ + ε); u = r + λθ;
    θ ← θ − γ·(‖θ‖/‖u‖)·u, with ‖·‖ the L2 norm of the whole array (one ratio
    for W, one for b of each layer) and the ratio taken as 1 when ‖θ‖ or ‖u‖
    is 0 (zero-initialized biases take a plain step). This is Algorithm 2 of
    You et al., 2019 (ICLR 2020) with Adam's bias correction and φ = identity
    (no clipping of ‖θ‖), as optax's ``lamb``. λ decays every array, biases
    included. Defaults: lr 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-6 (the paper's, as
    optax), λ = 1e-2 (the paper's BERT runs; optax and Keras default to 0).
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-3, gt=0, description="learning rate γ")
        beta1: float = Field(0.9, ge=0, lt=1, description="decay β₁ of the first moment m")
        beta2: float = Field(0.999, ge=0, lt=1, description="decay β₂ of the second moment v")
        eps: float = Field(1e-6, gt=0, description="ε added to √v̂")
        weight_decay: float = Field(
            1e-2, ge=0, description="weight decay λ, added to r inside the trust ratio"
        )

    def init(self, param):
        return {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def update(self, param, grad, state, step, lr):
        p, m, v = self.params, state["exp_avg"], state["exp_avg_sq"]
        m *= p.beta1  # m ← β₁m + (1 − β₁)g
        m += (1.0 - p.beta1) * grad
        v *= p.beta2  # v ← β₂v + (1 − β₂)g²
        v += (1.0 - p.beta2) * grad * grad
        bias1, bias2 = 1.0 - p.beta1**step, 1.0 - p.beta2**step
        denom = np.sqrt(v)
        denom *= 1.0 / math.sqrt(bias2)  # √v̂
        denom += p.eps
        u = m / denom
        u *= 1.0 / bias1  # r = m̂/(√v̂ + ε)
        if p.weight_decay:
            u += p.weight_decay * param  # u = r + λθ
        theta_norm, u_norm = float(np.linalg.norm(param)), float(np.linalg.norm(u))
        ratio = theta_norm / u_norm if theta_norm > 0 and u_norm > 0 else 1.0
        param -= (lr * ratio) * u  # θ ← θ − γ(‖θ‖/‖u‖)u


class AdaBelief(deltaw.Optimizer):
    """Adam with the belief s, a running mean of (g − m)², in place of v (Zhuang et al.).

    m ← β₁m + (1 − β₁)g; s ← β₂s + (1 − β₂)(g − m)² + ε (the new m; ε is
    added to s itself, every step); m̂ = m/(1 − β₁ᵗ); ŝ = s/(1 − β₂ᵗ);
    θ ← θ − γm̂/(√ŝ + ε). This is Algorithm 2 of Zhuang et al., 2020 (NeurIPS)
    as the official ``adabelief-pytorch`` 0.2.0 computes it with
    ``rectify=False`` (no AMSGrad). ``rectify: true`` is that package's default
    RAdam-style variant: ρ_∞ = 2/(1 − β₂) − 1, ρₜ = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ); if
    ρₜ ≥ 5, θ ← θ − γ·√((1 − β₂ᵗ)(ρₜ − 4)(ρₜ − 2)ρ_∞/((ρ_∞ − 4)(ρ_∞ − 2)ρₜ))
    ·m/((1 − β₁ᵗ)(√s + ε)), else the SGD step θ ← θ − γm̂
    (``degenerated_to_sgd=True``; note ≥ 5 where PyTorch's RAdam has > 5).
    Defaults as the official package: lr 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-16 (it
    recommends 1e-8 where SGD beats Adam, such as image CNNs). β₁ must be above
    0: at β₁ = 0, m = g and the belief (g − m)² is 0, so every step is γg/√ε.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-3, gt=0, description="learning rate γ")
        beta1: float = Field(0.9, gt=0, lt=1, description="decay β₁ of the first moment m")
        beta2: float = Field(0.999, ge=0, lt=1, description="decay β₂ of the belief s")
        eps: float = Field(1e-16, gt=0, description="ε added to s every step and to √ŝ")
        rectify: bool = Field(
            False, description="RAdam-style rectification (the official package's default)"
        )

    def init(self, param):
        return {"exp_avg": np.zeros_like(param), "exp_avg_var": np.zeros_like(param)}

    def update(self, param, grad, state, step, lr):
        p, m, s = self.params, state["exp_avg"], state["exp_avg_var"]
        m *= p.beta1  # m ← β₁m + (1 − β₁)g
        m += (1.0 - p.beta1) * grad
        residual = grad - m  # g − m
        residual *= residual
        s *= p.beta2  # s ← β₂s + (1 − β₂)(g − m)² + ε
        s += (1.0 - p.beta2) * residual
        s += p.eps
        bias1, bias2 = 1.0 - p.beta1**step, 1.0 - p.beta2**step
        denom = np.sqrt(s)
        if not p.rectify:
            denom *= 1.0 / math.sqrt(bias2)  # √ŝ
            denom += p.eps
            param -= (lr / bias1) * m / denom  # γ m̂/(√ŝ + ε)
            return
        rho_inf = 2.0 / (1.0 - p.beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * p.beta2**step / bias2
        if rho_t >= 5.0:
            rect = (
                (rho_t - 4.0)
                * (rho_t - 2.0)
                * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            )
            denom += p.eps
            param -= (lr * math.sqrt(bias2 * rect) / bias1) * m / denom
        else:
            param -= (lr / bias1) * m  # the SGD-with-momentum step


@deltaw.hookimpl
def register_optimizers(register):
    register("lamb", LAMB)
    register("adabelief", AdaBelief)
