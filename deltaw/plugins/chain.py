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

import difflib
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializationInfo,
    model_serializer,
    model_validator,
)

import deltaw
from deltaw.core.chain import Chain
from deltaw.errors import DuplicateNameError, UnknownNameError

if TYPE_CHECKING:
    from deltaw.registry import Registry
    from deltaw.registry.manager import Entry


PLUGIN_KINDS_KEY = "x-deltaw-kinds"  # marks a schema node that is a reference to these kinds


class Link(BaseModel):
    """One link of a chain: a registered transform or optimizer, and its parameters."""

    model_config = ConfigDict(extra="allow")
    kinds: ClassVar[tuple[str, ...]] = ("optimizer", "transform")
    """The plugin kinds a link may name, looked up in this order."""

    name: str = Field(
        description="A registered transform or optimizer; 'plugin:name' picks one of two."
    )
    _cls: Any = PrivateAttr(default=None)
    _params: Any = PrivateAttr(default=None)
    _kind: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @property
    def given(self) -> dict[str, Any]:
        """The parameters as written (everything but ``name``)."""
        return dict(self.model_extra or {})

    def __repr__(self) -> str:
        """As a spec writes it: ``'sgd'`` or ``{'name': 'adam', 'lr': 0.1}``."""
        return repr({"name": self.name, **self.given} if self.given else self.name)

    def build(self) -> Any:
        """A fresh instance of the linked plugin with its validated parameters.

        A spec resolves every link first (``deltaw/spec/links.py``); a link made
        in code is looked up in the process-wide registry here.
        """
        if self._cls is not None:
            return self._cls(self._params) if self._params is not None else self._cls()
        from deltaw.registry import get_registry

        entry = link_entry(get_registry(), self.name, self.kinds, "a chain's links")
        if getattr(entry.cls, "Params", None) is None:
            return entry.cls(**self.given)
        return entry.cls(entry.cls.Params.model_validate(self.given))

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any, info: SerializationInfo) -> dict[str, Any]:
        """``{name, **params}``: every default filled in once the link is resolved."""
        if self._params is None:
            return {"name": self.name, **self.given}
        return {"name": self.name, **self._params.model_dump(mode=info.mode)}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        """A name or a mapping with ``name``; ``deltaw schema`` replaces it by the kinds' unions."""
        return {
            "description": f"A plugin of kind {' or '.join(cls.kinds)}: a registered name, or a "
            "mapping with `name` and its parameters.",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
            ],
            PLUGIN_KINDS_KEY: list(cls.kinds),
        }


def link_entry(registry: Registry, name: str, kinds: tuple[str, ...], where: str) -> Entry:
    """The one registered plugin ``name`` (or ``plugin:name``) names among ``kinds``."""
    bare = name.rpartition(":")[2]
    hits: list[Entry] = []
    for kind_name in kinds:
        if bare in registry.names(kind_name):
            try:
                hits.append(registry.entry(kind_name, name, where=where))
            except UnknownNameError:  # registered, but not by the plugin the qualifier names
                continue
    if len(hits) == 1:
        return hits[0]
    what = " or ".join(kinds)
    if len(hits) > 1:
        both = " and ".join(f"{e.kind} {e.qualified!r} ({e.plugin.origin})" for e in hits)
        raise DuplicateNameError(
            f"The name {name!r} at {where} is both a {both}. Pick one with its qualified name."
        )
    known = sorted({n for k in kinds for n in registry.names(k)})
    close = difflib.get_close_matches(bare, known, n=3, cutoff=0.0)[:3]
    raise UnknownNameError(
        f"Unknown {what} {name!r} at {where}. Closest registered names: {', '.join(close)}. "
        "Run `deltaw plugins` to see every registered name."
    )


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
        lr = self._compose([link.build() for link in given.links], given.lr)
        self.params = given.model_copy(update={"lr": lr})


@deltaw.hookimpl
def register_optimizers(register):
    register("chain", ChainOptimizer)
