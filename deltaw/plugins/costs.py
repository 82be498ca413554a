"""Built-in costs C(a, y), registered through the public hook like any plugin.

The contract (docs/architecture.md): ``value`` is the mean over the rows of the
per-sample cost C_x; ``gradient`` is ∂C_x/∂a for every row, *not* divided by
the batch size m. ``output_delta`` fuses δᴸ = ∂C_x/∂zᴸ for the pairs where
the fused form is both simpler and stabler than ``∇ₐC ⊙ σ'(z)``.

``domain`` tells :mod:`deltaw.testing` (and readers) which outputs a cost
accepts: ``"real"`` any number, ``"unit"`` each a in (0, 1), ``"simplex"`` rows
that are probability distributions. A fused pair is recognised by the public
``Activation.computes`` (``activation.computes == "softmax"``), so a cost fuses
with any activation that computes that function, built-in or not.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw


class Quadratic(deltaw.Cost):
    """Half the squared error, the book's cost: C_x = ½‖a − y‖².

    ∂C_x/∂a = a − y. With a linear (identity) output the fused δᴸ is a − y;
    otherwise δᴸ = (a − y) ⊙ σ'(z) (Nielsen ch. 1–2, ``QuadraticCost``; optax
    ``l2_loss``).
    """

    domain: ClassVar[str] = "real"

    def value(self, a, y):
        return float(0.5 * np.sum((a - y) ** 2) / len(a))

    def gradient(self, a, y):
        return a - y

    def output_delta(self, z, a, y, activation):
        if activation.computes == "identity":
            return a - y
        return super().output_delta(z, a, y, activation)


class CrossEntropy(deltaw.Cost):
    """Binary cross-entropy per output unit: C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)].

    ∂C_x/∂a = (a − y)/(a(1 − a)). a is clipped into [ε, 1 − ε] with ε =
    ``eps_for(dtype)`` (1e-12 for float64, 1e-7 for float32) and 0·ln 0 = 0,
    so the value is finite for saturated outputs. With a sigmoid output the
    fused δᴸ = a − y: no σ'(z) factor, so no learning slowdown (Nielsen ch. 3,
    ``CrossEntropyCost``; PyTorch ``BCELoss`` summed over outputs).
    """

    domain: ClassVar[str] = "unit"

    def value(self, a, y):
        p = deltaw.clip_probs(a)
        per_sample = -(deltaw.xlogy(y, p) + deltaw.xlogy(1.0 - y, 1.0 - p)).sum(axis=-1)
        return float(per_sample.mean())

    def gradient(self, a, y):
        p = deltaw.clip_probs(a)
        return (p - y) / (p * (1.0 - p))

    def output_delta(self, z, a, y, activation):
        if activation.computes == "sigmoid":
            return a - y
        return super().output_delta(z, a, y, activation)


class LogLikelihood(deltaw.Cost):
    """Categorical cross-entropy (negative log-likelihood): C_x = −Σ_j y_j ln a_j.

    For a one-hot y this is −ln a_y. ∂C_x/∂a = −y/a, with a clipped below at
    ε = ``eps_for(dtype)``. Meant for softmax outputs, where the fused
    δᴸ = a − y (Nielsen ch. 3, "softmax and the log-likelihood cost";
    PyTorch ``NLLLoss`` on ln a).
    """

    domain: ClassVar[str] = "simplex"

    def value(self, a, y):
        return float(-deltaw.xlogy(y, deltaw.clip_probs(a)).sum(axis=-1).mean())

    def gradient(self, a, y):
        return -y / deltaw.clip_probs(a)

    def output_delta(self, z, a, y, activation):
        if activation.computes == "softmax":
            return a - y
        return super().output_delta(z, a, y, activation)


class MSE(deltaw.Cost):
    """Mean squared error over the outputs: C_x = (1/n) Σ_j (a_j − y_j)², no ½.

    ∂C_x/∂a = 2(a − y)/n, n the number of outputs. The value equals PyTorch's
    ``MSELoss(reduction='mean')`` and Keras ``MeanSquaredError``; compare
    ``quadratic`` = ½‖a − y‖².
    """

    domain: ClassVar[str] = "real"

    def value(self, a, y):
        return float(np.mean((a - y) ** 2))

    def gradient(self, a, y):
        return (2.0 / a.shape[-1]) * (a - y)


class Huber(deltaw.Cost):
    """Huber loss summed over the outputs: C_x = Σ_j h(a_j − y_j).

    h(x) = ½x² for |x| ≤ δ, else δ(|x| − ½δ); ∂C_x/∂a = clip(a − y, −δ, δ).
    Default δ = 1.0 as PyTorch ``HuberLoss``; unlike PyTorch's default
    reduction (the mean over every element) it is *summed* over the outputs
    of a sample, like ``quadratic``. Huber, 1964, "Robust estimation of a
    location parameter". The second derivative jumps at |a − y| = δ
    (declared by ``kink_distance``).
    """

    domain: ClassVar[str] = "real"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        delta: float = Field(
            1.0, gt=0, description="δ: where the loss turns from quadratic to linear"
        )

    def value(self, a, y):
        d = self.params.delta
        x = np.abs(a - y)
        h = np.where(x <= d, 0.5 * x * x, d * (x - 0.5 * d))
        return float(h.sum() / len(a))

    def gradient(self, a, y):
        d = self.params.delta
        return np.clip(a - y, -d, d)

    def kink_distance(self, a, y):
        # the second derivative jumps where |a_j − y_j| = δ
        return np.abs(np.abs(a - y) - self.params.delta).min(axis=-1)


class KLDivergence(deltaw.Cost):
    """Kullback–Leibler divergence of a from y: C_x = KL(y‖a) = Σ_j y_j ln(y_j / a_j).

    0·ln 0 = 0 (``xlogy``) and a is clipped below at ε = ``eps_for(dtype)``.
    ∂C_x/∂a = −y/a, the same as ``log-likelihood``: the two differ by the
    entropy of y, a constant in a, so they train identically and KL is 0 at
    a = y. With a softmax output the fused δᴸ = a·Σ_j y_j − y: exact for any
    y, and a − y when the rows of y sum to 1. No parameters.
    Domain: rows of a and y are probability distributions (a softmax output).
    The value equals PyTorch ``KLDivLoss(reduction='batchmean')``, except that
    PyTorch takes log-probabilities ln a as its input where this takes a
    (Keras ``KLDivergence`` takes a, but clips y too).
    """

    domain: ClassVar[str] = "simplex"

    def value(self, a, y):
        kl = deltaw.xlogy(y, y) - deltaw.xlogy(y, deltaw.clip_probs(a))  # y ln y − y ln a
        return float(kl.sum(axis=-1).mean())

    def gradient(self, a, y):
        return -y / deltaw.clip_probs(a)

    def output_delta(self, z, a, y, activation):
        if activation.computes == "softmax":
            return a * y.sum(axis=-1, keepdims=True) - y  # softmax VJP of −y/a
        return super().output_delta(z, a, y, activation)


@deltaw.hookimpl
def register_costs(register):
    register("quadratic", Quadratic)
    register("cross-entropy", CrossEntropy)
    register("log-likelihood", LogLikelihood)
    register("mse", MSE)
    register("huber", Huber)
    register("kl-divergence", KLDivergence)
