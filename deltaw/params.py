"""Parameter models that plugins share (Pydantic; the core never imports this module).

A plugin that watches a metric subclasses :class:`MonitorParams` for its
``Params``, so every such plugin is configured the same way in a spec
(``monitor: validation_cost, mode: auto``)::

    class StopAtTarget(deltaw.Callback):
        class Params(deltaw.MonitorParams):
            target: float = 0.95

        def __init__(self, params=None, **kwargs):
            super().__init__(params, **kwargs)
            self.monitor = deltaw.Monitor(self.params.monitor, self.params.mode)
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializationInfo,
    model_serializer,
    model_validator,
)

__all__ = ["PLUGIN_KINDS_KEY", "Link", "MonitorParams"]


class MonitorParams(BaseModel):
    """``monitor`` (which per-epoch metric) and ``mode`` (which way is better) of a watching rule.

    Subclasses add their own fields and may override the default ``monitor``
    (``reduce-on-plateau`` watches ``validation_cost``).
    """

    model_config = ConfigDict(extra="forbid")
    monitor: str = Field(
        "validation_accuracy",
        description="The per-epoch metric to watch: <split>_<metric>, e.g. validation_cost.",
    )
    mode: Literal["auto", "max", "min"] = Field(
        "auto",
        description=(
            "Whether higher or lower is better; auto asks the metric "
            "(accuracy: higher, cost: lower)."
        ),
    )


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
    _entry: Any = PrivateAttr(default=None)

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

        A spec resolves every link first (``deltaw/spec/links.py``); a link made in
        code is resolved by the chain that holds it.
        """
        if self._cls is None:
            raise LookupError(f"link {self.name!r} is not resolved yet (see Link.resolve)")
        return self._cls(self._params) if self._params is not None else self._cls()

    def resolve(self, entry: Any) -> None:
        """Bind the link to its registered plugin ``entry``, validating the parameters given.

        The spec layer resolves every link of a spec once, with errors naming the
        link's place; this is for links made in code (``ChainOptimizer(links=[...])``).
        """
        params = getattr(entry.cls, "Params", None)
        self._cls, self._kind, self._entry = entry.cls, entry.kind, entry
        self._params = params.model_validate(self.given) if params is not None else None

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
