"""Human-readable descriptions of a plugin's parameters, the same for ``deltaw show`` and
the generated docs (``scripts/gen_builtin_docs.py``)."""

from __future__ import annotations

import re
from typing import Any

import annotated_types as at

_SYMBOLS = ((at.Gt, "gt", ">"), (at.Ge, "ge", "≥"), (at.Lt, "lt", "<"), (at.Le, "le", "≤"))


def constraints(field: Any) -> str:
    """``> 0, < 1`` from a field's annotated-types metadata; other validators are not shown.

    Lengths count characters for a ``str`` field and items otherwise: ``exactly 1
    character``, ``at least 1 item``.
    """
    unit = "character" if field.annotation is str else "item"
    parts = []
    lengths: dict[str, int] = {}
    for meta in field.metadata:
        for cls, attr, symbol in _SYMBOLS:
            if isinstance(meta, cls):
                parts.append(f"{symbol} {getattr(meta, attr)}")
        if isinstance(meta, at.MinLen):
            lengths["at least"] = meta.min_length
        if isinstance(meta, at.MaxLen):
            lengths["at most"] = meta.max_length
    if len(lengths) == 2 and len(set(lengths.values())) == 1:
        lengths = {"exactly": lengths["at least"]}
    parts += [f"{how} {n} {unit}{'' if n == 1 else 's'}" for how, n in lengths.items()]
    return ", ".join(parts)


def default(field: Any) -> str:
    """A field's default as Python writes it (``0.001``, ``'x'``, ``None``), or ``required``."""
    if field.is_required():
        return "required"
    return repr(field.get_default(call_default_factory=True))


def type_name(annotation: Any) -> str:
    """``float``, ``int | None``, ``Literal['auto', 'max', 'min']``."""
    name = getattr(annotation, "__name__", None)
    if name and not getattr(annotation, "__args__", None):
        return name
    text = str(annotation).replace("typing.", "").replace("NoneType", "None")
    return re.sub(r"\b(?:[a-z_][a-z0-9_]*\.)+([A-Z]\w*)", r"\1", text)  # module paths: Link


def param_rows(cls: type) -> list[tuple[str, str, str, str]]:
    """``(name, type, default, description)`` for every field of ``cls.Params`` (empty without
    Params); the description ends with the field's constraints: ``(> 0)``."""
    params = getattr(cls, "Params", None)
    if params is None:
        return []
    rows = []
    for name, field in params.model_fields.items():
        limits = constraints(field)
        desc = (field.description or "") + (f" ({limits})" if limits else "")
        rows.append((name, type_name(field.annotation), default(field), desc.strip()))
    return rows
