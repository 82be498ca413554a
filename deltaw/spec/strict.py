"""A plugin's ``Params`` as specs validate it: unknown keys are always an error."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

_STRICT: dict[type, type[BaseModel]] = {}


def params_model(cls: type) -> type[BaseModel] | None:
    """A plugin's ``Params`` with unknown keys forbidden, whatever its author configured."""
    params = getattr(cls, "Params", None)
    if params is None:
        return None
    if params.model_config.get("extra") == "forbid":
        return params
    if params not in _STRICT:
        _STRICT[params] = type(
            params.__name__,
            (params,),
            {"model_config": ConfigDict(**{**params.model_config, "extra": "forbid"})},
        )
    return _STRICT[params]
