"""An optimizer chain: gradient transforms, one update rule, then parameter transforms.

optax's lesson (``optax.chain``): an update rule is a pipeline of small
steps. A :class:`Chain` runs, once per mini-batch,

1. every :class:`~deltaw.core.base.Transform` with ``acts_on = "gradient"``,
   in order, on a copy of the gradients (the trainer's buffers stay as
   backprop wrote them);
2. its one update rule, an :class:`~deltaw.core.base.Optimizer`, with the
   transformed gradients and the scheduled learning rate;
3. every transform with ``acts_on = "params"``, in order, on the freshly
   updated parameters (Lookahead's "wrap" is such a link).

The state of link ``i`` lives in the chain's state dict under ``"<i>.<key>"``
(``"2.exp_avg"``), so a checkpoint holds every link's arrays and a resumed
run goes on bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltaw.core.base import Array, Optimizer, Transform

Link = Optimizer | Transform


class ChainError(ValueError):
    """A chain whose links do not form one: ``index`` is the offending link (None: the chain)."""

    def __init__(self, index: int | None, reason: str, link: Any = None) -> None:
        self.index, self.reason = index, reason
        where = f"links[{index}] ({type(link).__name__}) " if index is not None else "a chain "
        super().__init__(where + reason)


@dataclass
class ChainRate:
    """The chain's base learning rate η (what the trainer schedules), as ``params.lr``."""

    lr: float


def arrange(links: Sequence[Any]) -> int:
    """The index of the one update rule; raises :class:`ChainError` if the links are no chain."""
    if not links:
        raise ChainError(None, "needs at least one link: an update rule such as adam")
    for i, link in enumerate(links):
        if not isinstance(link, (Optimizer, Transform)):
            raise ChainError(i, "is neither an optimizer nor a transform", link)
    rules = [i for i, link in enumerate(links) if isinstance(link, Optimizer)]
    if not rules:
        raise ChainError(
            None,
            "needs exactly one update rule (an optimizer such as sgd or adam); all are transforms",
        )
    r = rules[0]
    if len(rules) > 1:
        raise ChainError(
            rules[1],
            f"is a second update rule; a chain has exactly one (links[{r}]). "
            "Nest a chain to combine rules",
            links[rules[1]],
        )
    for i, link in enumerate(links):
        if i == r:
            continue
        acts_on = getattr(link, "acts_on", None)
        if acts_on == "gradient" and i > r:
            raise ChainError(
                i,
                f"acts on gradients, so it must come before the update rule (links[{r}])",
                link,
            )
        if acts_on == "params" and i < r:
            raise ChainError(
                i,
                f"acts on the parameters after an update, so it must come after the update rule "
                f"(links[{r}])",
                link,
            )
        if acts_on not in ("gradient", "params"):
            raise ChainError(i, f"has acts_on = {acts_on!r}; use 'gradient' or 'params'", link)
    return r


class Chain(Optimizer):
    """Gradient transforms, then one update rule, then parameter transforms, as one optimizer.

    Args:
        links: transforms and exactly one optimizer, in the order they act.
        lr: the base rate η; default: the update rule's own ``params.lr``.

    Example::

        Chain([ClipGlobalNorm(max_norm=1.0), Centralize(), Adam(lr=1e-3), Lookahead(k=5)])
    """

    def __init__(self, links: Sequence[Any], lr: float | None = None) -> None:
        super().__init__()
        self.params: Any = ChainRate(self._compose(links, lr))

    def _compose(self, links: Sequence[Any], lr: float | None) -> float:
        """Check and store the links; returns the base rate."""
        r = arrange(links)
        self.links = list(links)
        self.rule: Optimizer = self.links[r]
        self._rule_index = r
        self._before = [(i, t) for i, t in enumerate(self.links[:r])]
        self._after = [(i, t) for i, t in enumerate(self.links) if i > r]
        self._held: list[dict[str, Array]] = []  # the state dicts the views below belong to
        self._views: list[list[dict[str, Array]]] = []
        self._buffers: list[Array] = []
        if lr is None:
            lr = getattr(getattr(self.rule, "params", None), "lr", None)
            if lr is None:
                raise ChainError(r, "has no params.lr; give the chain an lr", self.rule)
        return float(lr)

    def init(self, param: Array) -> dict[str, Array]:
        """Every link's state for ``param``, keys prefixed by the link's index."""
        return {
            f"{i}.{k}": v for i, link in enumerate(self.links) for k, v in link.init(param).items()
        }

    def update(
        self, param: Array, grad: Array, state: dict[str, Array], step: int, lr: float
    ) -> None:
        """One parameter array on its own (a global norm is then this array's norm)."""
        self.update_all([param], [grad], [state], step, [lr])

    def update_all(
        self,
        params: list[Array],
        grads: list[Array],
        states: list[dict[str, Array]],
        step: int,
        lrs: list[float],
    ) -> None:
        views = self._link_states(states)
        if self._before:
            grads = self._copy(grads)  # transforms may work in place; never on the caller's arrays
            for i, t in self._before:
                grads = t.apply_all(grads, views[i], params, step)
        self.rule.update_all(params, grads, views[self._rule_index], step, lrs)
        for i, t in self._after:
            t.after_update_all(params, views[i], step)

    def _copy(self, grads: list[Array]) -> list[Array]:
        """``grads`` copied into buffers the chain owns (allocated once, reused every step)."""
        bufs = self._buffers
        if len(bufs) != len(grads) or any(
            b.shape != g.shape or b.dtype != g.dtype for b, g in zip(bufs, grads)
        ):
            bufs = self._buffers = [np.empty_like(g) for g in grads]
        for b, g in zip(bufs, grads):
            np.copyto(b, g)
        return list(bufs)

    def _link_states(self, states: list[dict[str, Array]]) -> list[list[dict[str, Array]]]:
        """Per link, per parameter array, that link's state as views of ``states``' arrays.

        Built again only when ``states`` holds other dicts than last time (the
        trainer passes the same ones every step and loads checkpoints into
        their arrays in place).
        """
        held = self._held
        if len(held) == len(states) and all(a is b for a, b in zip(held, states)):
            return self._views
        views: list[list[dict[str, Array]]] = [[] for _ in self.links]
        for state in states:
            split: list[dict[str, Array]] = [{} for _ in self.links]
            for key, value in state.items():
                i, _, k = key.partition(".")
                split[int(i)][k] = value
            for i, s in enumerate(split):
                views[i].append(s)
        self._held, self._views = list(states), views
        return views

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.links!r}, lr={self.params.lr!r})"
