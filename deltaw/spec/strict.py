"""A plugin's ``Params`` as specs validate it: unknown keys are an error, floats finite."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

_STRICT: dict[type, type[BaseModel]] = {}


def params_model(cls: type) -> type[BaseModel] | None:
    """A plugin's ``Params`` with unknown keys forbidden and floats finite.

    Unknown keys are forbidden whatever its author configured; inf and nan are
    refused unless the ``model_config`` sets ``allow_inf_nan`` itself (a field
    may allow them with ``Field(allow_inf_nan=True)``). :func:`non_finite`
    catches what pydantic's switch does not reach (nested models, ``Any``).
    """
    params = getattr(cls, "Params", None)
    if params is None:
        return None
    config = params.model_config
    changes = {
        "extra": "forbid",
        "allow_inf_nan": config.get("allow_inf_nan", False),
    }
    if all(config.get(k) == v for k, v in changes.items()):
        return params
    if params not in _STRICT:
        strict = ConfigDict(**{**config, **changes})  # type: ignore[typeddict-item]
        _STRICT[params] = type(
            params.__name__, (params,), {"model_config": strict, "__module__": params.__module__}
        )
    return _STRICT[params]
