"""Two smooth activations deltaw does not ship: mish and softsign."""

from __future__ import annotations

import numpy as np

import deltaw


class Mish(deltaw.Activation):
    """Mish: σ(z) = z·tanh(softplus(z)), softplus(z) = ln(1 + e^z).

    σ'(z) = tanh(s) + z·(1 − tanh²(s))·sigmoid(z) with s = softplus(z).
    Smooth and non-monotonic like silu/swish, bounded below (≈ −0.31) and
    unbounded above. softplus is ``np.logaddexp(0, z)`` and the sigmoid
    ``deltaw.sigmoid``, so neither overflows. Reference: D. Misra, "Mish: A
    Self Regularized Non-Monotonic Activation Function", 2019; PyTorch
    ``nn.Mish``.
    """

    def forward(self, z):
        return z * np.tanh(np.logaddexp(0, z))

    def derivative(self, z, a):
        t = np.tanh(np.logaddexp(0, z))
        return t + z * (1 - t * t) * deltaw.sigmoid(z)


class Softsign(deltaw.Activation):
    """Softsign: σ(z) = z / (1 + |z|).

    σ'(z) = 1 / (1 + |z|)². An S-curve in (−1, 1) like tanh, but approaching
    its bounds polynomially rather than exponentially, so it saturates more
    slowly. Reference: X. Glorot and Y. Bengio, "Understanding the difficulty
    of training deep feedforward neural networks", 2010; PyTorch
    ``nn.Softsign``.
    """

    def forward(self, z):
        return z / (1 + np.abs(z))

    def derivative(self, z, a):
        d = 1 + np.abs(z)
        return 1 / (d * d)
