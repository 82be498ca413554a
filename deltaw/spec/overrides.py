"""``--set KEY=VALUE``: parsing an override and applying dotted keys to a spec's raw data."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from pydantic import BaseModel

from deltaw.errors import SpecError
from deltaw.spec.models import PluginRef, Spec
from deltaw.spec.parsing import PARSER_FAULTS, Refused, check_depth, parse_spec_text
from deltaw.spec.problems import model_in, one_line


def parse_override(text: str) -> tuple[str, Any]:
    """``a.b=value`` → ``("a.b", value)`` with the value parsed as a YAML scalar or list."""
    key, sep, raw = text.partition("=")
    shown = _show(text)
    if not sep or not key.strip():
        raise SpecError(
            f"--set {shown}: expected KEY=VALUE with a dotted key, e.g. --set optimizer.lr=0.5"
        )
    try:
        value = parse_spec_text(raw, "YAML") if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise SpecError(
            f"--set {shown}: the value is not valid YAML: {_yaml_problem(exc)}"
        ) from None
    except Refused as exc:  # too deep, aliases, a key given twice
        raise SpecError(f"--set {shown}: {exc}") from None
    except (*PARSER_FAULTS, RecursionError) as exc:
        raise SpecError(f"--set {shown}: {one_line(str(exc))}; quote the value") from None
    return key.strip(), value


def _show(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:50]) + f"… ({len(text)} characters)"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What the YAML parser found wrong, and at which column of the value."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if not problem:
        return one_line(str(exc))
    return f"{problem}" + (f" at column {mark.column + 1}" if mark is not None else "")


def apply_override_texts(
    data: dict[str, Any], texts: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``data`` with every well-formed ``--set`` applied, and a problem for each other."""
    out, problems = copy.deepcopy(data), []
    for text in texts:
        try:
            changed = apply_overrides(out, [parse_override(text)])
            check_depth(changed)
            out = changed
        except SpecError as exc:
            problems.append(str(exc))
        except Refused as exc:
            problems.append(f"--set {_show(text)}: {exc}")
    return out, problems


def apply_overrides(data: dict[str, Any], overrides: list[tuple[str, Any]]) -> dict[str, Any]:
    """A copy of ``data`` with each dotted key set (a bare plugin name becomes a mapping)."""
    out = copy.deepcopy(data)
    for key, value in overrides:
        node: Any = out
        parts = key_parts(key)
        for i, part in enumerate(parts[:-1]):
            if isinstance(node, list):
                node = node[_index(part, node, key)]
                continue
            nxt = node.get(part)
            if isinstance(
                nxt, str
            ):  # `optimizer: sgd` + `--set optimizer.lr=1` → {name: sgd, lr: 1}
                nxt = node[part] = {"name": nxt}
            elif nxt is None:
                nxt = node[part] = _default_mapping(parts[: i + 1])
            elif not isinstance(nxt, (dict, list)):
                raise SpecError(
                    f"--set {key}: {'.'.join(parts[: i + 1])} is {nxt!r}, not a mapping, "
                    f"so it has no key {parts[i + 1]!r}."
                )
            node = nxt
        if isinstance(node, list):
            node[_index(parts[-1], node, key)] = value
        else:
            node[parts[-1]] = value
    return out


SWEEP_KEYED = (("sweep", "grid"), ("sweep", "zip"), ("sweep", "random", "params"))
RANDOM_FIELDS = ("range", "log_range", "int_range", "choice")


def key_parts(key: str) -> list[str]:
    """The parts of a dotted ``--set`` key; under ``sweep.grid``, ``sweep.zip`` and
    ``sweep.random.params`` the rest is one literal key (itself dotted, such as ``optimizer.lr``).

    ``sweep.grid.optimizer.lr`` → ``["sweep", "grid", "optimizer.lr"]``;
    ``sweep.random.params.optimizer.lr.log_range`` →
    ``["sweep", "random", "params", "optimizer.lr", "log_range"]``.
    """
    parts = key.split(".")
    for head in SWEEP_KEYED:
        n = len(head)
        if tuple(parts[:n]) != head or len(parts) <= n:
            continue
        rest = parts[n:]
        if head[-1] == "params" and len(rest) > 1 and rest[-1] in RANDOM_FIELDS:
            return [*head, ".".join(rest[:-1]), rest[-1]]
        return [*head, ".".join(rest)]
    return parts


def _default_mapping(path: list[str]) -> dict[str, Any]:
    """A new mapping for a key the file leaves out: a plugin reference keeps its default name."""
    model: Any = Spec
    field = None
    for part in path:
        if (
            not (isinstance(model, type) and issubclass(model, BaseModel))
            or part not in model.model_fields
        ):
            return {}
        field = model.model_fields[part]
        model = model_in(field.annotation)
    default = field.get_default(call_default_factory=True) if field is not None else None
    return {"name": default.name} if isinstance(default, PluginRef) else {}


def _index(part: str, node: list[Any], key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise SpecError(f"--set {key}: {part!r} is not an index of a list of {len(node)} items.")
    return int(part)
