"""Human-readable descriptions of a plugin's parameters (for `deltaw show` and the docs)."""

from __future__ import annotations

import re
from typing import Any

import annotated_types as at

_SYMBOLS = ((at.Gt, "gt", ">"), (at.Ge, "ge", "≥"), (at.Lt, "lt", "<"), (at.Le, "le", "≤"))


def constraints(field: Any) -> str:
    """``> 0, < 1`` from a field's annotated-types metadata; other validators are not shown."""
    parts = []
    for meta in field.metadata:
        for cls, attr, symbol in _SYMBOLS:
            if isinstance(meta, cls):
                parts.append(f"{symbol} {getattr(meta, attr)}")
        if isinstance(meta, at.MinLen):
            parts.append(f"at least {meta.min_length} items")
        if isinstance(meta, at.MaxLen):
            parts.append(f"at most {meta.max_length} items")
    return ", ".join(parts)


def type_name(annotation: Any) -> str:
    name = getattr(annotation, "__name__", None)
    if name and not getattr(annotation, "__args__", None):
        return name
    text = str(annotation).replace("typing.", "").replace("NoneType", "None")
    return re.sub(r"\b(?:[a-z_][a-z0-9_]*\.)+([A-Z]\w*)", r"\1", text)  # module paths: Link


def param_rows(cls: type) -> list[tuple[str, str, str, str]]:
    """``(name, type, default, description)`` for every field of ``cls.Params`` (empty without Params)."""
    params = getattr(cls, "Params", None)
    if params is None:
        return []
    rows = []
    for name, field in params.model_fields.items():
        default = (
            "required"
            if field.is_required()
            else repr(field.get_default(call_default_factory=True))
        )
        limits = constraints(field)
        desc = (field.description or "") + (f" ({limits})" if limits else "")
        rows.append((name, type_name(field.annotation), default, desc))
    return rows
