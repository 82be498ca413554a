"""Built-in weight penalties, registered through the public hook like any plugin.

Both follow Nielsen's book (ch. 3): they act on the weights only (biases are
exempt) and are scaled by n, the size of the *training set*, not the batch.
``penalty`` is added to the cost; ``gradient`` is added to ∂C/∂w.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw


class L2(deltaw.Regularizer):
    """Weight decay as in the book: C = C₀ + (λ/2n) Σ_w w².

    Gradient contribution (λ/n)·w, so plain SGD gives w → (1 − ηλ/n)w − η ∂C₀/∂w
    (Nielsen ch. 3, "L2 regularization"). λ (``lmbda``) is required; the book
    uses 5.0 for MNIST with n = 50 000. Coupled: with adaptive rules the term is
    rescaled like any gradient (see ``adamw`` for decoupled decay).
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lmbda: float = Field(
            ..., ge=0, description="regularization strength λ (the book uses 5.0 for MNIST)"
        )

    def penalty(self, weights, n):
        return float(0.5 * self.params.lmbda / n * sum(np.sum(w * w) for w in weights))

    def gradient(self, w, n):
        return (self.params.lmbda / n) * w


class L1(deltaw.Regularizer):
    """Lasso penalty as in the book: C = C₀ + (λ/n) Σ_w |w|.

    Gradient contribution (λ/n)·sgn(w), with sgn(0) = 0, so plain SGD gives
    w → w − (ηλ/n) sgn(w) − η ∂C₀/∂w (Nielsen ch. 3, "L1 regularization").
    λ (``lmbda``) is required.
    """

    Params = L2.Params

    def penalty(self, weights, n):
        return float(self.params.lmbda / n * sum(np.sum(np.abs(w)) for w in weights))

    def gradient(self, w, n):
        return (self.params.lmbda / n) * np.sign(w)


@deltaw.hookimpl
def register_regularizers(register):
    register("l2", L2)
    register("l1", L1)
