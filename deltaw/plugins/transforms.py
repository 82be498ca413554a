"""Built-in links of an optimizer chain, registered through the public hook like any plugin.

Gradient transforms (``acts_on = "gradient"``) come before the chain's update
rule and change the gradients it receives; ``lookahead`` (``acts_on =
"params"``) comes after it and changes the parameters it has just updated.
Each is written as in optax, where the same transformation exists, and cites
its paper. State is arrays only; randomness is a function of the seed and the
step, so a resumed run draws the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw

NOISE_STREAM = 3  # spawn key of the noise: seeds() in spec/build.py spawns 0, 1, 2 and 4


class ClipGlobalNorm(deltaw.Transform):
    """Scale every gradient by max_norm/‖g‖ when the global norm ‖g‖ exceeds max_norm.

    ‖g‖ = √(Σ over every W and b of Σ g²), the norm of all gradients as one
    vector, so the direction of the whole update is kept (Pascanu et al.,
    2013; optax ``clip_by_global_norm``). The same rule as
    ``training.clip.norm``, as a link that can sit anywhere before the rule.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        max_norm: float = Field(..., gt=0, description="largest global L2 norm of the gradients")

    def apply_all(self, grads, states, params, step):
        total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))  # ‖g‖ over every array
        if total > self.params.max_norm:
            scale = self.params.max_norm / total
            for g in grads:
                g *= scale
        return grads

    def apply(self, grad, state, param, step):
        return self.apply_all([grad], [state], [param], step)[0]


class ClipValue(deltaw.Transform):
    """Clip every gradient entry to [−max_value, max_value].

    g ← min(max(g, −c), c) entry by entry (optax ``clip``; PyTorch
    ``clip_grad_value_``); the same rule as ``training.clip.value``.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        max_value: float = Field(..., gt=0, description="largest |g| of any entry")

    def apply(self, grad, state, param, step):
        return np.clip(grad, -self.params.max_value, self.params.max_value, out=grad)


class Centralize(deltaw.Transform):
    """Gradient centralization: give each unit's weight gradient zero mean.

    For a weight matrix W (shape n_in × n_out), every column — the weights
    into one output unit — becomes g_j − mean_i g_ij, the mean over every
    dimension but the output one. Biases (1-D) are left alone. Yong et al.,
    "Gradient Centralization", ECCV 2020, eq. 1 (their W is out × in, so
    their mean runs over the other axis of the same matrix).
    """

    def apply(self, grad, state, param, step):
        if grad.ndim > 1:
            grad -= grad.mean(axis=tuple(range(grad.ndim - 1)), keepdims=True)
        return grad


class AddNoise(deltaw.Transform):
    """Add annealed Gaussian noise to the gradients: g ← g + N(0, σₜ²).

    σₜ² = η/(1 + t)^γ with t the number of updates before this one (t = step
    − 1), as optax ``add_noise`` counts. Neelakantan et al., "Adding Gradient
    Noise Improves Learning for Very Deep Networks", 2015, who pick η from
    {0.01, 0.3, 1.0} and γ = 0.55. The noise of a step depends only on the
    seed and the step (a generator from SeedSequence(seed, spawn_key=(3,
    step))), so a resumed run adds the same noise; in a spec ``seed`` defaults
    to the spec's seed.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        eta: float = Field(0.01, gt=0, description="η, the variance at the first step")
        gamma: float = Field(0.55, ge=0, description="γ, how fast the variance decays")
        seed: int | None = Field(
            None, ge=0, description="seed of the noise; in a spec, default: the spec's seed"
        )

    def sigma(self, step: int) -> float:
        """σₜ for the 1-based ``step``."""
        return math.sqrt(self.params.eta / float(step) ** self.params.gamma)  # (1 + t) = step

    def apply_all(self, grads, states, params, step):
        seed = self.params.seed if self.params.seed is not None else 0
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(NOISE_STREAM, step)))
        sigma = self.sigma(step)
        for g in grads:
            noise = rng.standard_normal(g.shape, dtype=g.dtype)
            noise *= sigma
            g += noise
        return grads

    def apply(self, grad, state, param, step):
        return self.apply_all([grad], [state], [param], step)[0]


class Scale(deltaw.Transform):
    """Multiply every gradient by a constant: g ← s·g (optax ``scale``)."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        factor: float = Field(..., description="the factor s")

    def apply(self, grad, state, param, step):
        grad *= self.params.factor
        return grad


class Lookahead(deltaw.Transform):
    """Lookahead: every k steps pull slow weights toward the fast ones and restart from them.

    The update rule moves the fast weights θ every step; after step t with
    t mod k = 0, φ ← φ + α(θ − φ) and θ ← φ. φ starts as the initial θ and is
    kept in the state (``slow``), so checkpoints hold it. The rule's own
    state is not reset (Zhang et al., "Lookahead Optimizer: k steps forward,
    1 step back", NeurIPS 2019, Algorithm 1; optax ``lookahead`` with
    ``reset_state=False``). Put it after the update rule in a chain's links:
    it acts on the parameters, wrapping the links before it. Evaluation sees
    θ as it is at the end of an epoch: the slow weights when the epoch's
    steps are a multiple of k (MNIST's 5000 with k = 5), else fast ones.
    """

    acts_on = "params"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        k: int = Field(5, ge=1, description="synchronisation period: fast steps per slow step")
        alpha: float = Field(0.5, gt=0, le=1, description="slow step size α")

    def init(self, param):
        return {"slow": param.copy()}

    def after_update(self, param, state, step):
        if step % self.params.k:
            return
        slow = state["slow"]
        slow += self.params.alpha * (param - slow)  # φ ← φ + α(θ − φ)
        param[...] = slow  # θ ← φ


@deltaw.hookimpl
def register_transforms(register):
    register("clip-global-norm", ClipGlobalNorm)
    register("clip-value", ClipValue)
    register("centralize", Centralize)
    register("add-noise", AddNoise)
    register("scale", Scale)
    register("lookahead", Lookahead)
