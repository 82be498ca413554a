"""Built-in weight initializers, registered through the public hook like any plugin.

``weights(fan_in, fan_out, rng)`` returns a float64 ``(fan_in, fan_out)`` array
(the network casts it to its dtype); ``biases(fan_out, rng)`` a ``(fan_out,)``
one. Every draw comes from the ``rng`` passed in, so a seed fixes a run.

Glorot, He and LeCun are presets of one :class:`VarianceScaling` rule (as in
Keras): Var(W) = gain² · scale / fan, drawn untruncated as PyTorch's
``nn.init`` does.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw


class NielsenLarge(deltaw.Initializer):
    """Standard normal weights and biases: W, b ~ N(0, 1).

    The book's first initializer (Nielsen ch. 1, ``network.py``;
    ``large_weight_initializer`` in ``network2.py``). Saturates sigmoid
    neurons in wide layers — ch. 3 explains why.
    """

    def weights(self, fan_in, fan_out, rng):
        return rng.standard_normal((fan_in, fan_out))

    def biases(self, fan_out, rng):
        return rng.standard_normal(fan_out)


class Nielsen(deltaw.Initializer):
    """The book's default: W ~ N(0, 1/n_in), b ~ N(0, 1).

    Std 1/√n_in keeps z = Σ w·a + b of order 1 (Nielsen ch. 3, "weight
    initialization"; ``default_weight_initializer`` in ``network2.py``). The
    weights are untruncated LeCun-normal.
    """

    def weights(self, fan_in, fan_out, rng):
        return rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)

    def biases(self, fan_out, rng):
        return rng.standard_normal(fan_out)


class VarianceScaling(deltaw.Initializer):
    """Var(W) = gain² · scale / fan, normal or uniform; biases are zeros.

    ``fan`` is n_in (``mode="fan_in"``), n_out, or (n_in + n_out)/2
    (``"fan_avg"``). Normal: W ~ N(0, Var); uniform: W ~ U(±√(3·Var)).
    Subclasses set ``scale``, ``mode`` and ``distribution`` (Keras
    ``VarianceScaling``, untruncated).
    """

    scale: ClassVar[float] = 1.0
    mode: ClassVar[Literal["fan_in", "fan_out", "fan_avg"]] = "fan_in"
    distribution: ClassVar[Literal["normal", "uniform"]] = "normal"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        gain: float = Field(
            1.0, gt=0, description="multiplies the standard deviation (PyTorch's gain)"
        )

    def variance(self, fan_in: int, fan_out: int) -> float:
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.params.gain**2 * self.scale / fan

    def weights(self, fan_in, fan_out, rng):
        var = self.variance(fan_in, fan_out)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, (fan_in, fan_out))
        return rng.normal(0.0, math.sqrt(var), (fan_in, fan_out))


class GlorotUniform(VarianceScaling):
    """Glorot/Xavier uniform: W ~ U(±gain·√(6/(n_in + n_out))), b = 0.

    Default gain 1. Glorot & Bengio, 2010, "Understanding the difficulty of
    training deep feedforward neural networks"; PyTorch ``xavier_uniform_``.
    """

    mode = "fan_avg"
    distribution = "uniform"


class GlorotNormal(VarianceScaling):
    """Glorot/Xavier normal: W ~ N(0, gain²·2/(n_in + n_out)), b = 0.

    Untruncated, default gain 1. Glorot & Bengio, 2010; PyTorch
    ``xavier_normal_`` (Keras truncates instead).
    """

    mode = "fan_avg"


class HeUniform(VarianceScaling):
    """He/Kaiming uniform: W ~ U(±gain·√(6/n_in)), b = 0.

    The √2 ReLU gain is built in; ``gain`` (default 1) multiplies on top.
    He et al., 2015, "Delving deep into rectifiers"; PyTorch
    ``kaiming_uniform_(nonlinearity='relu')``.
    """

    scale = 2.0
    distribution = "uniform"


class HeNormal(VarianceScaling):
    """He/Kaiming normal: W ~ N(0, gain²·2/n_in), b = 0.

    Untruncated; the √2 ReLU gain is built in, ``gain`` (default 1)
    multiplies on top. He et al., 2015; PyTorch
    ``kaiming_normal_(nonlinearity='relu')`` (Keras truncates instead).
    """

    scale = 2.0


class LecunNormal(VarianceScaling):
    """LeCun normal: W ~ N(0, gain²/n_in), b = 0.

    Untruncated, default gain 1. LeCun et al., 1998, "Efficient BackProp";
    Keras ``LecunNormal`` (truncated there). With N(0, 1) biases this is
    ``nielsen``.
    """


class Orthogonal(deltaw.Initializer):
    """A (semi-)orthogonal W times ``gain``, b = 0.

    QR of a standard Gaussian matrix (of Wᵀ when n_in < n_out), with Q's
    columns sign-corrected by sign(diag R) so W is Haar-distributed: WᵀW =
    gain²·I when n_in ≥ n_out, WWᵀ = gain²·I otherwise, so each entry has
    variance gain²/max(n_in, n_out). Default gain 1. Saxe et al., 2013;
    PyTorch ``orthogonal_`` and Keras ``Orthogonal``.
    """

    Params = VarianceScaling.Params

    def weights(self, fan_in, fan_out, rng):
        tall = fan_in >= fan_out
        g = rng.standard_normal((fan_in, fan_out) if tall else (fan_out, fan_in))
        q, r = np.linalg.qr(g)
        q *= np.sign(np.diag(r))  # make the decomposition unique, so Q is uniformly distributed
        return self.params.gain * (q if tall else q.T)


class Zeros(deltaw.Initializer):
    """Every weight and bias 0.

    A baseline: all hidden units stay identical (symmetry is never broken),
    which is exactly what a demonstration of why we initialise randomly needs.
    PyTorch ``zeros_``, Keras ``Zeros``.
    """

    def weights(self, fan_in, fan_out, rng):
        return np.zeros((fan_in, fan_out))


@deltaw.hookimpl
def register_initializers(register):
    register("nielsen-large", NielsenLarge)
    register("nielsen", Nielsen)
    register("glorot-uniform", GlorotUniform)
    register("glorot-normal", GlorotNormal)
    register("he-uniform", HeUniform)
    register("he-normal", HeNormal)
    register("lecun-normal", LecunNormal)
    register("orthogonal", Orthogonal)
    register("zeros", Zeros)
