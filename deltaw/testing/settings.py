"""Parameter settings drawn from a ``Params`` model's own constraints, for the contract checks.

A derivative slip can hide at the default parameters (a focal loss written
with γ = 2 baked into one term passes every check at γ = 2), so a check given
a *class* runs at several settings of its ``Params``: the defaults first, then
values near each bound and in between, read from the fields' metadata.

The generator is small and deterministic — no random draws, no Hypothesis —
so a failing setting is the same on every machine and every run, and the
message names it (``check_cost(Focal(gamma=0.0), setting 2 of 4)``). Per field:

* a number with bounds ``ge``/``gt``/``le``/``lt``: the default, the lower
  bound (or just inside it when exclusive: 5 % of the span, or a tenth of the
  way from the bound to the default when there is no upper bound), the upper
  bound (or just inside it; three times as far from the lower bound as the
  default when there is none) and the middle; whole numbers for ``int``;
* ``bool``: the default, then its negation;
* ``Literal[...]``: the default, then every other choice in order;
* ``X | None``: as ``X``, and None;
* a list of numbers: one, two and three increasing values;
* anything else (text, nested models, mixed unions): the default only.

Setting ``i`` takes the ``i``-th value of every field at once (cycling
through shorter lists), so four settings move every parameter. A setting the
model refuses (a cross-field validator) is replaced by the defaults with one
field moved; duplicates are dropped.
"""

from __future__ import annotations

import copy
import math
import types
import typing
from typing import Any, Literal, Union

from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

__all__ = ["DEFAULT_SETTINGS", "param_settings"]

DEFAULT_SETTINGS = 4
TOWARD, AWAY, EDGE = 0.1, 3.0, 0.05  # fractions of the way to a bound, and beyond the default

_MISSING = object()


def param_settings(cls: type, n: int = DEFAULT_SETTINGS) -> list[dict[str, Any]]:
    """Up to ``n`` keyword settings of ``cls.Params`` drawn from its constraints, defaults first.

    Every returned mapping validates against ``cls.Params``; a class without
    ``Params`` has the one empty setting. Raises ``TypeError`` when a required
    field has no value the generator can derive (text, say): pass instances then.
    """
    model = getattr(cls, "Params", None)
    if model is None:
        return [{}]
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{cls.__name__}.Params is not a pydantic model; pass instances")
    fields = {}
    for name, info in model.model_fields.items():
        values = field_values(info)
        if not values:
            raise TypeError(
                f"{cls.__name__}.Params.{name} is required and no value for it can be derived "
                f"from its type ({_type_name(info.annotation)}); pass an instance with its "
                "parameters, or settings=[{...}]"
            )
        fields[info.alias or name] = values  # the keyword the model accepts
    defaults = {name: values[0] for name, values in fields.items()}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i in range(max(n, 1) * 2):  # twice as many tries as wanted: some may be refused
        if len(out) >= n:
            break
        together = {name: copy.deepcopy(v[i % len(v)]) for name, v in fields.items()}
        tries = [together] + [
            copy.deepcopy({**defaults, name: together[name]})
            for name in fields
            if together[name] != defaults[name]
        ]
        for setting in tries:
            key = repr(setting)
            if key in seen:
                continue
            seen.add(key)
            if _valid(model, setting):
                out.append(setting)
                break
    if not out:
        raise TypeError(
            f"no setting of {cls.__name__}.Params derived from its fields validates "
            "(cross-field rules); pass instances, or settings=[{...}]"
        )
    return out[:n]


def _valid(model: type[BaseModel], setting: dict[str, Any]) -> bool:
    try:
        model.model_validate(setting)
    except ValidationError:
        return False
    return True


def field_values(info: FieldInfo) -> list[Any]:
    """The values to try for one field, its default first (empty: nothing can be derived)."""
    default = info.get_default(call_default_factory=True)
    if default is _pydantic_undefined():
        default = _MISSING
    values = _values(info.annotation, info.metadata, default)
    if default is not _MISSING and (not values or values[0] != default):
        values = [default, *[v for v in values if v != default]]
    return values


def _pydantic_undefined() -> Any:
    from pydantic_core import PydanticUndefined

    return PydanticUndefined


def _values(annotation: Any, metadata: list[Any], default: Any) -> list[Any]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is bool:
        return [default, not default] if isinstance(default, bool) else [False, True]
    if annotation in (int, float):
        return _numbers(annotation is int, metadata, default)
    if origin is Literal:
        first = [default] if default is not _MISSING else []
        return first + [a for a in args if a != default]
    if origin in (Union, types.UnionType):
        arms = [a for a in args if a is not type(None)]
        if len(arms) != 1:
            return [] if default is _MISSING else [default]
        inner = _values(arms[0], metadata, _MISSING if default is None else default)
        if type(None) not in args:
            return inner
        return [None, *inner] if default is None else [*inner, None]
    if origin is list and len(args) == 1 and args[0] in (int, float):
        return _number_lists(args[0] is int, metadata, default)
    return [] if default is _MISSING else [default]


def _bounds(metadata: list[Any]) -> tuple[float | None, bool, float | None, bool]:
    """(low, low inclusive, high, high inclusive) from annotated-types metadata."""
    lo, lo_in, hi, hi_in = None, True, None, True
    for m in metadata:
        if isinstance(m, Ge):
            lo, lo_in = float(m.ge), True
        elif isinstance(m, Gt):
            lo, lo_in = float(m.gt), False
        elif isinstance(m, Le):
            hi, hi_in = float(m.le), True
        elif isinstance(m, Lt):
            hi, hi_in = float(m.lt), False
    return lo, lo_in, hi, hi_in


def _numbers(is_int: bool, metadata: list[Any], default: Any) -> list[Any]:
    """Default, near the lower bound, near the upper bound (or away), in between."""
    lo, lo_in, hi, hi_in = _bounds(metadata)
    if is_int:  # an exclusive bound of a whole number is the next whole number, inclusive
        lo, lo_in = (lo + 1, True) if lo is not None and not lo_in else (lo, lo_in)
        hi, hi_in = (hi - 1, True) if hi is not None and not hi_in else (hi, hi_in)
    d = float(default) if isinstance(default, (int, float)) else None
    if d is None:  # a required number: start inside the bounds
        if lo is not None and hi is not None:
            d = (lo + hi) / 2
        elif lo is not None:
            d = lo + 1
        elif hi is not None:
            d = hi - 1
        else:
            d = 1.0
    if lo is not None and hi is not None:
        span = hi - lo
        low = lo if lo_in else lo + EDGE * span
        high = hi if hi_in else hi - EDGE * span
        middle = lo + span / 2
    elif lo is not None:
        scale = d - lo if d > lo else 1.0
        low = lo if lo_in else lo + TOWARD * scale
        high, middle = lo + AWAY * scale, lo + scale / 2
    elif hi is not None:
        scale = hi - d if d < hi else 1.0
        high = hi if hi_in else hi - TOWARD * scale
        low, middle = hi - AWAY * scale, hi - scale / 2
    else:
        scale = abs(d) if d else 1.0
        low, high, middle = d - 2 * scale, d + 2 * scale, d + scale / 2
    out: list[Any] = []
    for v in (d, low, high, middle):
        if is_int:
            v = float(round(v))
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                continue
        if not math.isfinite(v):
            continue
        value = int(v) if is_int else float(f"{v:.12g}")  # 3e-08, not 3.0000000000000004e-08
        if value not in out:
            out.append(value)
    if default is not _MISSING and default is not None and out and out[0] != default:
        out.insert(0, default)
    return out


def _number_lists(is_int: bool, metadata: list[Any], default: Any) -> list[Any]:
    """Increasing lists of one, two and three positive numbers (milestones, say)."""
    short = next((m.min_length for m in metadata if isinstance(m, MinLen)), 0)
    kind = int if is_int else float
    lists = [[kind(2)], [kind(1), kind(3)], [kind(2), kind(4), kind(7)]]
    out = [v for v in lists if len(v) >= short]
    return ([default] if default is not _MISSING else []) + out


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation)
