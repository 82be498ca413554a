"""The ``chain`` optimizer: an update rule composed in a spec from registered links.

A link is written like any plugin reference — a bare name, or a mapping with
``name`` and that plugin's parameters — and names a transform or an
optimizer. :class:`Link` only holds what the spec says; the spec layer
(``deltaw/spec/links.py``) resolves each link through the registry and
validates its parameters against its own ``Params``, so errors name the
link (``optimizer.links[1].max_norm``). The math is in
:class:`deltaw.core.chain.Chain`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

import deltaw
from deltaw.core.chain import Chain
from deltaw.params import Link

if TYPE_CHECKING:
    pass


class ChainOptimizer(Chain):
    """Compose an update rule from links: gradient transforms, one optimizer, parameter transforms.

    optax's ``chain`` as data. Links act in the order given: transforms that
    act on gradients (clip-global-norm, centralize, add-noise, …) come first,
    then exactly one optimizer (the update rule, with the scheduled
    learning rate), then transforms that act on the updated parameters
    (lookahead). For example, clip, centralise, Adam, wrapped in Lookahead::

        optimizer:
          name: chain
          links:
            - {name: clip-global-norm, max_norm: 1.0}
            - centralize
            - {name: adam, lr: 0.001}
            - {name: lookahead, k: 5, alpha: 0.5}

    ``lr`` (the rate schedules and ``--set optimizer.lr`` change) defaults to
    the update rule's own. Every link's state is part of the checkpoint.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        links: list[Link] = Field(
            default_factory=lambda: [Link(name="sgd")],
            min_length=1,
            description="transforms and exactly one optimizer, in the order they act",
        )
        lr: float | None = Field(
            None, gt=0, description="base learning rate η; default: the update rule's lr"
        )

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        deltaw.Plugin.__init__(self, params, **kwargs)
        given = self.params
        for link in given.links:
            if link._cls is None:  # made in code: look it up in the process-wide registry
                reg = deltaw.get_registry()
                link.resolve(reg.entry_among(link.kinds, link.name, "a chain's links"))
        lr = self._compose([link.build() for link in given.links], given.lr)
        self.params = given.model_copy(update={"lr": lr})


@deltaw.hookimpl
def register_optimizers(register):
    register("chain", ChainOptimizer)
