"""Dropout's masks: which hidden units a mini-batch keeps, drawn into reused buffers.

Dropout (Srivastava et al. 2014, "Dropout: a simple way to prevent neural
networks from overfitting", JMLR 15; Nielsen ch. 3) trains a random thinned
network on every mini-batch: each hidden unit of each sample is kept with
probability p = 1 − rate and otherwise set to 0. This is *inverted* dropout:
a kept unit is multiplied by 1/p during training, so E[ãˡ] = aˡ and evaluation
uses the whole network as it is, with no rescaling (the paper instead scales
the weights by p at test time; the two give the same expected activations).

:class:`DropoutMasks` owns the buffers: one mask and one ã buffer per hidden
layer, ``(batch_size, n)`` in the network's dtype, allocated once (per epoch,
by the trainer) and overwritten by every mini-batch; drawing a mask allocates
nothing (``rng.random(out=…)``). The network's training-mode passes
(:meth:`~deltaw.core.network.Network.backprop_dropout`) take the masks as
plain arrays, so a fixed mask can be checked against finite differences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deltaw.core.base import Array


def dropout_rates(rates: float | Sequence[float], hidden: int) -> list[float]:
    """One rate per hidden layer from ``rates`` (one for all, or a list), each checked.

    Raises ValueError unless every rate is in [0, 1) and a list has one rate
    per hidden layer.
    """
    one = np.ndim(rates) == 0
    out = [float(rates)] * hidden if one else [float(r) for r in rates]  # type: ignore[union-attr]
    if one and hidden == 0 and float(rates):  # type: ignore[arg-type]
        raise ValueError("dropout needs a hidden layer: this network has none")
    if len(out) != hidden:
        raise ValueError(
            f"dropout has {len(out)} rates, but the network has {hidden} hidden layers: "
            "give one rate for all or one per hidden layer"
        )
    bad = [r for r in out if not 0.0 <= r < 1.0]
    if bad:
        raise ValueError(f"a dropout rate is the fraction of units dropped, 0 ≤ rate < 1: {bad}")
    return out


class DropoutMasks:
    """Inverted-dropout masks for the hidden layers, drawn per mini-batch into reused buffers.

    Args:
        rates: the dropout rate of each hidden layer (0 keeps every unit).
        widths: the number of units of each hidden layer.
        rows: the largest mini-batch (the batch size m).
        dtype: the network's dtype; masks and ã are kept in it.
        rng: the generator the masks are drawn from (its state is checkpointed
            by the trainer, so a resumed run draws the same masks).
    """

    def __init__(
        self,
        rates: Sequence[float],
        widths: Sequence[int],
        rows: int,
        dtype: np.dtype | str,
        rng: np.random.Generator,
    ) -> None:
        self.rng, self.rows = rng, int(rows)
        self.keep = [1.0 - float(r) for r in rates]  # p, the probability of keeping a unit
        self.masks: list[Array] = [np.ones((self.rows, n), dtype) for n in widths]
        self.dropped: list[Array] = [np.empty((self.rows, n), dtype) for n in widths]
        self._drawn = [(mask, p) for mask, p in zip(self.masks, self.keep) if p < 1.0]

    def draw(self, m: int) -> tuple[list[Array], list[Array]]:
        """New masks for a mini-batch of ``m`` rows: ``(masks, dropped)``, views of the buffers.

        ``masks[l]`` holds 1/p for a kept unit and 0 for a dropped one;
        ``dropped[l]`` is the buffer the forward pass writes ãˡ = aˡ ⊙ maskˡ into.
        A layer with rate 0 keeps its mask of ones and draws nothing.
        """
        for mask, p in self._drawn:
            u = mask[:m]
            self.rng.random(out=u, dtype=u.dtype)  # u ~ U[0, 1)
            np.less(u, p, out=u)  # 1 with probability p (kept), else 0
            u *= 1.0 / p  # inverted scaling: a kept unit × 1/p, so E[ã] = a
        if m == self.rows:
            return self.masks, self.dropped
        return [k[:m] for k in self.masks], [d[:m] for d in self.dropped]  # the last, short batch
