"""The Lion optimizer for deltaw: the sign of an interpolated momentum.

Installed, it registers the update rule ``lion``::

    optimizer: {name: lion, lr: 0.003, beta1: 0.9, beta2: 0.99}
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw

__version__ = "0.1.0"


class Lion(deltaw.Optimizer):
    """Lion: the sign of interpolated momentum (Chen et al., 2023).

    c = β₁m + (1 − β₁)g, θ ← θ − η·sign(c), then m ← β₂m + (1 − β₂)g.
    Every coordinate moves by exactly η (or not at all where c = 0), so the
    step size does not scale with the gradient: use a rate 3–10× smaller than
    Adam's. Defaults are the paper's: lr 1e-4, β₁ 0.9, β₂ 0.99. Decoupled
    weight decay (the paper's λ) is deltaw's ``training.weight_decay``, which
    applies to every optimizer. Reference: X. Chen et al., "Symbolic Discovery
    of Optimization Algorithms", NeurIPS 2023, Algorithm 2.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lr: float = Field(
            1e-4, gt=0, description="learning rate η: the size of every coordinate's step"
        )
        beta1: float = Field(
            0.9,
            ge=0,
            lt=1,
            description="β₁: interpolation between momentum and gradient for the step",
        )
        beta2: float = Field(0.99, ge=0, lt=1, description="β₂: decay of the momentum m")

    def init(self, param):
        return {"exp_avg": np.zeros_like(param)}  # m, the momentum

    def update(self, param, grad, state, step, lr):
        p, m = self.params, state["exp_avg"]
        c = p.beta1 * m + (1.0 - p.beta1) * grad  # c = β₁m + (1 − β₁)g
        param -= lr * np.sign(c)  # θ ← θ − η·sign(c)
        m *= p.beta2  # m ← β₂m + (1 − β₂)g
        m += (1.0 - p.beta2) * grad


@deltaw.hookimpl
def register_optimizers(register):
    register("lion", Lion)
