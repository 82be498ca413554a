"""Built-in activations σ(z), registered through the public hook like any plugin.

Elementwise ones give ``forward`` and ``derivative`` (the base class turns that
into BP2's ``⊙ σ'(z)``); softmax gives ``backward``, a vector–Jacobian product.
Every function keeps the dtype of ``z`` and never overflows for large ``|z|``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf = np.vectorize(math.erf, otypes=[np.float64])  # numpy has no erf; math.erf is exact to 1 ulp


class Identity(deltaw.Activation):
    """The linear output unit: σ(z) = z.

    σ'(z) = 1. Used for regression outputs (PyTorch ``nn.Identity``; Nielsen
    ch. 3, "linear" neurons in network3).
    """

    computes = "identity"

    def forward(self, z):
        return z.copy()

    def derivative(self, z, a):
        return np.ones_like(z)


class Sigmoid(deltaw.Activation):
    """The logistic function of Nielsen's book: σ(z) = 1/(1+e^{−z}).

    σ'(z) = σ(z)(1−σ(z)), computed from the stored ``a``. The forward pass
    branches on the sign of z so ``e^{−z}`` never overflows (Nielsen ch. 1;
    PyTorch ``nn.Sigmoid``).
    """

    computes = "sigmoid"

    def forward(self, z):
        return deltaw.sigmoid(z)

    def derivative(self, z, a):
        return a * (1.0 - a)


class Tanh(deltaw.Activation):
    """Hyperbolic tangent: σ(z) = tanh z.

    σ'(z) = 1 − tanh² z, computed from the stored ``a`` (Nielsen ch. 3;
    PyTorch ``nn.Tanh``).
    """

    computes = "tanh"

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        return 1.0 - a * a


class ReLU(deltaw.Activation):
    """Rectified linear unit: σ(z) = max(0, z).

    σ'(z) = 1 for z > 0, else 0 — also 0 at the kink z = 0, as in PyTorch,
    Keras and numpy-ml (Nielsen ch. 3; PyTorch ``nn.ReLU``).
    """

    kinks = (0.0,)

    def forward(self, z):
        return np.maximum(z, 0.0)

    def derivative(self, z, a):
        return (z > 0).astype(z.dtype)


class LeakyReLU(deltaw.Activation):
    """ReLU with a small slope for negative inputs: σ(z) = z if z > 0 else αz.

    σ'(z) = 1 for z > 0, else α (α at z = 0). Default α = 0.01, PyTorch's
    ``nn.LeakyReLU(negative_slope=0.01)`` (Keras uses 0.2, numpy-ml 0.3).
    Maas et al., 2013, "Rectifier nonlinearities improve neural network
    acoustic models".
    """

    kinks = (0.0,)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        alpha: float = Field(0.01, ge=0, description="slope α for z ≤ 0 (PyTorch's negative_slope)")

    def forward(self, z):
        return np.where(z > 0, z, self.params.alpha * z)

    def derivative(self, z, a):
        return np.where(z > 0, 1.0, self.params.alpha).astype(z.dtype, copy=False)


class ELU(deltaw.Activation):
    """Exponential linear unit: σ(z) = z if z > 0 else α(e^z − 1).

    σ'(z) = 1 for z > 0, else αe^z = σ(z) + α. Uses ``expm1`` for accuracy
    near 0. Default α = 1.0 (PyTorch ``nn.ELU``, Keras ``elu``). Clevert et
    al., 2015, "Fast and accurate deep network learning by exponential linear
    units (ELUs)".
    """

    kinks = (0.0,)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        alpha: float = Field(1.0, ge=0, description="α: the value σ(z) tends to is −α as z → −∞")

    def forward(self, z):
        # expm1 only on the negative part, so large positive z never overflows
        return np.where(z > 0, z, self.params.alpha * np.expm1(np.minimum(z, 0.0)))

    def derivative(self, z, a):
        return np.where(z > 0, 1.0, a + self.params.alpha).astype(z.dtype, copy=False)


class Softplus(deltaw.Activation):
    """Smooth ReLU: σ(z) = ln(1 + e^z).

    σ'(z) = 1/(1+e^{−z}), the logistic sigmoid. Computed as
    ``logaddexp(z, 0)``, exact for every finite z (PyTorch ``nn.Softplus`` with
    beta = 1 but without its linear threshold; Keras ``softplus``).
    """

    def forward(self, z):
        return np.logaddexp(z, 0.0)

    def derivative(self, z, a):
        return deltaw.sigmoid(z)


class SiLU(deltaw.Activation):
    """Sigmoid-weighted linear unit (swish): σ(z) = z·s(z), s the logistic sigmoid.

    σ'(z) = s(z)(1 + z(1 − s(z))). Also registered as ``swish`` (β = 1).
    Hendrycks & Gimpel, 2016; Ramachandran et al., 2017; PyTorch ``nn.SiLU``.
    """

    def forward(self, z):
        return z * deltaw.sigmoid(z)

    def derivative(self, z, a):
        s = deltaw.sigmoid(z)
        return s * (1.0 + z * (1.0 - s))


class GELU(deltaw.Activation):
    """Gaussian error linear unit: σ(z) = z·Φ(z), Φ the standard normal CDF.

    Exact (``approximate="none"``, the default as in PyTorch ``nn.GELU``):
    Φ(z) = ½(1 + erf(z/√2)), σ'(z) = Φ(z) + z·φ(z) with φ(z) = e^{−z²/2}/√(2π).
    ``approximate="tanh"``: σ(z) = ½z(1 + tanh u), u = √(2/π)(z + 0.044715z³),
    σ'(z) = ½(1 + tanh u) + ½z(1 − tanh² u)·√(2/π)(1 + 3·0.044715z²).
    Hendrycks & Gimpel, 2016, "Gaussian error linear units (GELUs)".
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        approximate: Literal["none", "tanh"] = Field(
            "none", description="'none': exact z·Φ(z) via erf; 'tanh': the tanh approximation"
        )

    def _tanh_u(self, z):
        return np.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z**3))

    def forward(self, z):
        if self.params.approximate == "tanh":
            return 0.5 * z * (1.0 + self._tanh_u(z))
        return z * (0.5 * (1.0 + _erf(z / _SQRT_2))).astype(z.dtype)

    def derivative(self, z, a):
        if self.params.approximate == "tanh":
            t = self._tanh_u(z)
            return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _SQRT_2_OVER_PI * (
                1.0 + 3 * 0.044715 * z * z
            )
        cdf = (0.5 * (1.0 + _erf(z / _SQRT_2))).astype(z.dtype)
        return cdf + z * _INV_SQRT_2PI * np.exp(-0.5 * z * z)


class Softmax(deltaw.Activation):
    """Normalised exponentials over each row: a_j = e^{z_j} / Σ_k e^{z_k}.

    Shifted by the row maximum so it never overflows. Not elementwise: the
    Jacobian is diag(a) − aaᵀ, so ``backward`` is the vector–Jacobian product
    a ⊙ (g − ⟨g, a⟩) row by row. Pair it with the ``log-likelihood`` cost for
    the fused δᴸ = a − y (Nielsen ch. 3; PyTorch ``nn.Softmax(dim=-1)``).
    """

    computes = "softmax"

    elementwise = False

    def forward(self, z):
        return deltaw.softmax(z, axis=-1)

    def backward(self, z, a, grad):
        return a * (grad - (grad * a).sum(axis=-1, keepdims=True))  # a ⊙ (g − ⟨g, a⟩)


@deltaw.hookimpl
def register_activations(register):
    register("identity", Identity)
    register("sigmoid", Sigmoid)
    register("tanh", Tanh)
    register("relu", ReLU)
    register("leaky-relu", LeakyReLU)
    register("elu", ELU)
    register("softplus", Softplus)
    register("silu", SiLU)
    register("swish", SiLU)
    register("gelu", GELU)
    register("softmax", Softmax)
