"""Built-in update rules, registered through the public hook like any plugin.

Each rule is only its own math, written as in the PyTorch ``torch.optim``
documentation pseudocode (γ = ``lr``, already scheduled; t = ``step``,
1-based; g = the mean gradient). ``update`` changes ``param`` and the state
arrays in place; the state holds arrays only (counters come from ``step``), so
a checkpoint is one ``np.savez``. The framework owns clipping, regularizers
and weight decay for every rule; ``adamw`` is the exception that builds its
decoupled decay in, as PyTorch's ``AdamW`` does.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

import deltaw


class SGD(deltaw.Optimizer):
    """Plain stochastic gradient descent: θ ← θ − γg.

    The book's rule (Nielsen ch. 1): with g the batch mean it is
    w → w − (η/m) Σ ∂C_x/∂w. Default lr 1e-3, PyTorch ``SGD``'s documented
    default (Keras and numpy-ml use 0.01; the book's MNIST runs use 3.0).
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-3, gt=0, description="learning rate γ (η in the book)")

    def update(self, param, grad, state, step, lr):
        param -= lr * grad


class Momentum(deltaw.Optimizer):
    """SGD with heavy-ball or Nesterov momentum, in PyTorch's form.

    b ← μb + (1 − τ)g (b = g on the first step); θ ← θ − γb, or with Nesterov
    θ ← θ − γ(g + μb). This is "form A" (velocity without the learning rate);
    the book's ch. 3 / Keras "form B" v ← μv − γg, θ ← θ + v is the same for a
    constant γ and differs once a schedule changes γ. Defaults: lr 1e-3 (PyTorch
    SGD), μ = 0.9, τ = 0, nesterov off. PyTorch ``SGD(momentum, dampening,
    nesterov)``; Sutskever et al., 2013.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-3, gt=0, description="learning rate γ")
        momentum: float = Field(0.9, ge=0, lt=1, description="momentum μ")
        dampening: float = Field(
            0.0, ge=0, le=1, description="dampening τ of the gradient added to the buffer"
        )
        nesterov: bool = Field(False, description="Nesterov momentum: θ ← θ − γ(g + μb)")

        @model_validator(mode="after")
        def _nesterov_needs_momentum(self):
            if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
                raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0")
            return self

    def init(self, param):
        return {"momentum_buffer": np.zeros_like(param)}

    def update(self, param, grad, state, step, lr):
        p, b = self.params, state["momentum_buffer"]
        if step == 1:
            b[...] = grad  # b₁ = g₁
        else:
            b *= p.momentum  # b ← μb + (1 − τ)g
            b += (1.0 - p.dampening) * grad
        if p.nesterov:
            param -= lr * (grad + p.momentum * b)
        else:
            param -= lr * b


class Adagrad(deltaw.Optimizer):
    """Per-coordinate rates from the running sum of squared gradients.

    γ̃ = γ/(1 + (t − 1)η_decay); s ← s + g²; θ ← θ − γ̃ g/(√s + ε), with ε
    outside the square root. Defaults as PyTorch ``Adagrad``: lr 1e-2,
    lr_decay 0, initial_accumulator_value 0, ε 1e-10 (Keras starts s at 0.1
    and puts ε inside). Duchi et al., 2011.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-2, gt=0, description="learning rate γ")
        lr_decay: float = Field(0.0, ge=0, description="η_decay: γ̃ = γ/(1 + (t − 1)η_decay)")
        initial_accumulator_value: float = Field(
            0.0, ge=0, description="s₀, the starting sum of squares"
        )
        eps: float = Field(1e-10, gt=0, description="ε added to √s")

    def init(self, param):
        return {"sum": np.full_like(param, self.params.initial_accumulator_value)}

    def update(self, param, grad, state, step, lr):
        p, s = self.params, state["sum"]
        clr = lr / (1.0 + (step - 1) * p.lr_decay)
        s += grad * grad  # s ← s + g²
        denom = np.sqrt(s)
        denom += p.eps
        param -= clr * grad / denom


class RMSprop(deltaw.Optimizer):
    """Divide by a running root-mean-square of the gradients (PyTorch's form).

    v ← αv + (1 − α)g²; ṽ = v, or centered ṽ = v − ḡ² with ḡ ← αḡ + (1 − α)g;
    without momentum θ ← θ − γg/(√ṽ + ε), with momentum μ:
    b ← μb + g/(√ṽ + ε), θ ← θ − γb. ε sits outside the square root.
    Defaults as PyTorch ``RMSprop``: lr 1e-2, α 0.99, ε 1e-8, momentum 0,
    centered off (Keras: lr 1e-3, ρ 0.9, ε inside); centered needs α > 0,
    since with α = 0 the centered ṽ is exactly 0. Hinton, Coursera lecture
    6e, 2012.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-2, gt=0, description="learning rate γ")
        alpha: float = Field(
            0.99, ge=0, lt=1, description="smoothing constant α of the mean square"
        )
        eps: float = Field(1e-8, gt=0, description="ε added to √ṽ")
        momentum: float = Field(0.0, ge=0, lt=1, description="momentum μ of the scaled step")
        centered: bool = Field(
            False, description="subtract the squared running mean gradient from v"
        )

        @model_validator(mode="after")
        def _centered_needs_an_average(self):
            # with α = 0, v = g² and ḡ = g: the centered ṽ = v − ḡ² is 0 and every step g/ε
            if self.centered and self.alpha == 0:
                raise ValueError("centered RMSprop needs alpha > 0 (with alpha = 0, ṽ is 0)")
            return self

    def init(self, param):
        state = {"square_avg": np.zeros_like(param)}
        if self.params.momentum > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if self.params.centered:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def update(self, param, grad, state, step, lr):
        p, v = self.params, state["square_avg"]
        v *= p.alpha  # v ← αv + (1 − α)g²
        v += (1.0 - p.alpha) * grad * grad
        if p.centered:
            gbar = state["grad_avg"]
            gbar *= p.alpha  # ḡ ← αḡ + (1 − α)g
            gbar += (1.0 - p.alpha) * grad
            denom = np.sqrt(v - gbar * gbar)
        else:
            denom = np.sqrt(v)
        denom += p.eps
        if p.momentum > 0:
            b = state["momentum_buffer"]
            b *= p.momentum  # b ← μb + g/(√ṽ + ε)
            b += grad / denom
            param -= lr * b
        else:
            param -= lr * grad / denom


class Adam(deltaw.Optimizer):
    """Adaptive moment estimation with bias correction (PyTorch's form).

    m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; m̂ = m/(1 − β₁ᵗ);
    v̂ = v/(1 − β₂ᵗ); θ ← θ − γm̂/(√v̂ + ε), ε outside the square root.
    AMSGrad keeps v_max ← max(v_max, v) and uses v̂ = v_max/(1 − β₂ᵗ), as
    PyTorch's implementation does. Defaults as PyTorch ``Adam``: lr 1e-3,
    β₁ 0.9, β₂ 0.999, ε 1e-8, amsgrad off (Keras: ε 1e-7 in its ε̂ form).
    Kingma & Ba, 2015; Reddi et al., 2018 (AMSGrad).
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(1e-3, gt=0, description="learning rate γ")
        beta1: float = Field(0.9, ge=0, lt=1, description="decay β₁ of the first moment m")
        beta2: float = Field(0.999, ge=0, lt=1, description="decay β₂ of the second moment v")
        eps: float = Field(1e-8, gt=0, description="ε added to √v̂")
        amsgrad: bool = Field(False, description="use the running maximum of v (AMSGrad)")

    def init(self, param):
        state = {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
        if self.params.amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def update(self, param, grad, state, step, lr):
        p, m, v = self.params, state["exp_avg"], state["exp_avg_sq"]
        m *= p.beta1  # m ← β₁m + (1 − β₁)g
        m += (1.0 - p.beta1) * grad
        v *= p.beta2  # v ← β₂v + (1 − β₂)g²
        v += (1.0 - p.beta2) * grad * grad
        if p.amsgrad:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        bias1, bias2 = 1.0 - p.beta1**step, 1.0 - p.beta2**step
        denom = np.sqrt(v)
        denom *= 1.0 / math.sqrt(bias2)  # √v̂ = √v/√(1 − β₂ᵗ)
        denom += p.eps
        param -= (lr / bias1) * m / denom  # γ m̂/(√v̂ + ε)


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ − γλθ, then the Adam step.

    The decay is applied to θ directly, not added to g, so Adam's
    per-coordinate scaling does not rescale it (Loshchilov & Hutter, 2019).
    Defaults as PyTorch ``AdamW``: lr 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-8,
    λ = 1e-2, amsgrad off. The decay hits every array this rule updates,
    biases included, as in PyTorch without parameter groups.
    """

    class Params(Adam.Params):
        weight_decay: float = Field(1e-2, ge=0, description="decoupled weight decay λ: θ ← θ − γλθ")

    def update(self, param, grad, state, step, lr):
        param *= 1.0 - lr * self.params.weight_decay  # θ ← θ − γλθ
        super().update(param, grad, state, step, lr)


@deltaw.hookimpl
def register_optimizers(register):
    register("sgd", SGD)
    register("momentum", Momentum)
    register("adagrad", Adagrad)
    register("rmsprop", RMSprop)
    register("adam", Adam)
    register("adamw", AdamW)
