"""Built-in multi-class margin costs (hinge, squared hinge), registered like any plugin.

Both are Weston–Watkins multi-class hinges — a sum over the wrong classes j
of max(0, margin − a_c + a_j)^p — divided by the number of classes n, which is
what PyTorch's ``MultiMarginLoss(p, margin)`` computes per sample (Weston &
Watkins, 1999, "Support vector machines for multi-class pattern recognition";
Crammer & Singer, 2001, take the max over j instead of the sum). The outputs
``a`` are scores, any real numbers; the target class c of a row is
``argmax y`` (one-hot targets, read as the ``accuracy`` metric reads them).

Neither has a useful fused δᴸ: ∂C_x/∂a is already a few ±1/n entries (hinge)
or a clipped linear term (squared hinge), and no output activation cancels
anything in it, so ``output_delta`` stays the generic
``activation.backward(z, a, gradient(a, y))``. The natural output is
``identity`` (a linear SVM-style read-out).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import deltaw


class _MultiMargin(deltaw.Cost):
    """Shared math of ``hinge`` (p = 1) and ``squared-hinge`` (p = 2)."""

    domain: ClassVar[str] = "real"
    p: ClassVar[int] = 1

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        margin: float = Field(
            1.0, gt=0, description="how far the true class's score must lead every other score"
        )

    def _terms(self, a, y):
        """t_j = margin − a_c + a_j per row (c = argmax y), and a mask that is False at j = c."""
        rows, c = np.arange(len(a)), y.argmax(axis=-1)
        t = self.params.margin - a[rows, c][:, None] + a  # a Python float keeps a's dtype
        wrong = np.ones(a.shape, dtype=bool)
        wrong[rows, c] = False
        return t, wrong

    def value(self, a, y):
        t, wrong = self._terms(a, y)
        h = np.where(wrong, np.maximum(t, 0.0), 0.0) ** self.p  # max(0, t_j)^p, j ≠ c
        return float(h.sum(axis=-1).mean() / a.shape[-1])

    def gradient(self, a, y):
        t, wrong = self._terms(a, y)
        n = a.shape[-1]
        if self.p == 1:
            g = (wrong & (t > 0)).astype(a.dtype) / n  # ∂/∂a_j = 1/n where the margin is violated
        else:
            g = np.where(wrong, 2.0 * np.maximum(t, 0.0), 0.0).astype(a.dtype) / n
        rows, c = np.arange(len(a)), y.argmax(axis=-1)
        g[rows, c] = -g.sum(axis=-1)  # a_c enters every term with sign −1
        return g

    def kink_distance(self, a, y):
        t, wrong = self._terms(a, y)
        # a step of h in ∞-norm moves t_j = margin − a_c + a_j by at most 2h
        return np.where(wrong, np.abs(t), np.inf).min(axis=-1) / 2.0


class Hinge(_MultiMargin):
    """Multi-class hinge (Weston–Watkins): C_x = (1/n) Σ_{j≠c} max(0, margin − a_c + a_j).

    c = argmax y is the target class, n the number of outputs (classes).
    ∂C_x/∂a_j = 1/n for each j ≠ c whose margin is violated (t_j = margin −
    a_c + a_j > 0), and ∂C_x/∂a_c = −(number violated)/n; at t_j = 0 exactly
    the subgradient 0 is used, as PyTorch does. Default margin = 1. The value
    equals PyTorch ``MultiMarginLoss(p=1, margin=1.0)`` with its default
    ``reduction='mean'`` and class indices ``argmax y`` (no class ``weight``).
    Domain: any real scores, meant for an ``identity`` output; no fused δᴸ.
    Not differentiable where t_j = 0, which ``kink_distance`` declares.
    """

    p: ClassVar[int] = 1


class SquaredHinge(_MultiMargin):
    """Squared multi-class hinge: C_x = (1/n) Σ_{j≠c} max(0, margin − a_c + a_j)².

    c = argmax y, n the number of outputs. ∂C_x/∂a_j = (2/n) max(0, t_j) for
    j ≠ c and ∂C_x/∂a_c = −Σ_{j≠c} ∂C_x/∂a_j, with t_j = margin − a_c + a_j:
    continuous, unlike the hinge's, so the loss is smooth to first order.
    Default margin = 1. The value equals PyTorch ``MultiMarginLoss(p=2,
    margin=1.0)`` with ``reduction='mean'`` and class indices ``argmax y``.
    Domain: any real scores, meant for an ``identity`` output; no fused δᴸ.
    The second derivative jumps where t_j = 0 (``kink_distance``).
    """

    p: ClassVar[int] = 2


@deltaw.hookimpl
def register_costs(register):
    register("hinge", Hinge)
    register("squared-hinge", SquaredHinge)
