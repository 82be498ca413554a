"""How a spec's problems are worded: one line each, with location, value and what is accepted.

Every check collects such lines; :func:`format_errors` puts them under one
heading that starts with the file name, so all problems are reported at once.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from deltaw.spec.models import PluginRef


def format_errors(source: str, problems: list[str]) -> str:
    """``source: N problems in the spec:`` followed by one ``  - problem`` line each."""
    head = f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''} in the spec:"
    return "\n".join([head, *(f"  - {p}" for p in problems)])


def pydantic_errors(
    exc: ValidationError,
    prefix: tuple[str, ...],
    kind: str | None = None,
    name: str | None = None,
    model: type | None = None,
) -> list[str]:
    """One line per error of ``exc``, located under ``prefix`` (and naming the plugin, if any)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = _location(prefix + tuple(err["loc"]))
        what = f" ({kind} {name!r})" if kind else ""
        if err["type"] == "extra_forbidden":
            accepted = _fields_at(model, err["loc"][:-1])
            keys = ", ".join(accepted) if accepted else "none"
            out.append(f"{loc}: unknown key{what}; accepted keys here: {keys}.")
            continue
        if err["type"] == "missing":
            out.append(f"{loc}: required{what} but missing.")
            continue
        msg = err["msg"]
        if err["type"] == "value_error" and "error" in err.get("ctx", {}):
            msg = str(err["ctx"]["error"])  # our own validator's words, without "Value error, "
        out.append(f"{loc}: {msg}{what}; got {_show(err.get('input'))}.")
    return out


def model_in(annotation: Any) -> Any:
    """The first Pydantic model inside a field's annotation (``PluginRef | None`` → PluginRef)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = model_in(arg)
        if found is not None:
            return found
    return None


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model found at ``loc`` inside ``model``."""
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [k for k in model.model_fields if not (model is PluginRef and k == "name")] or [
            "name"
        ]
    return []


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif str(part) in {"function-after[_positive(), list[int]]"}:
            continue
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
