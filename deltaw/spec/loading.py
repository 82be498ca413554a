"""Reading spec files, applying ``--set`` overrides, and validating everything at once.

Every problem is collected and reported together, each with its location
(``optimizer.beta1``), the offending value and what would be accepted; the
message starts with the file name.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from deltaw.errors import DuplicateNameError, SpecError, UnknownNameError
from deltaw.registry import Registry, get_registry
from deltaw.spec.models import PluginRef, Spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SUFFIXES = {".yaml": "YAML", ".yml": "YAML", ".toml": "TOML", ".json": "JSON"}


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a YAML, TOML or JSON file (chosen by extension)."""
    path = Path(path)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise SpecError(
            f"{path}: unsupported spec format {path.suffix!r}; use .yaml, .yml, .toml or .json."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file.") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the spec file ({exc.strerror}).") from None
    try:
        if fmt == "YAML":
            data = yaml.safe_load(text)
        elif fmt == "TOML":
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"{path}: not valid {fmt}: {_one_line(str(exc))}") from None
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: a spec must be a mapping of keys (name, data, network, …), got {type(data).__name__}."
        )
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """``a.b=value`` → ``("a.b", value)`` with the value parsed as a YAML scalar or list."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(
            f"--set {text!r}: expected KEY=VALUE with a dotted key, e.g. --set optimizer.lr=0.5"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise SpecError(
            f"--set {text!r}: the value is not valid YAML: {_one_line(str(exc))}"
        ) from None
    return key.strip(), value


def apply_overrides(data: dict[str, Any], overrides: list[tuple[str, Any]]) -> dict[str, Any]:
    """A copy of ``data`` with every dotted key set; a bare plugin name becomes a mapping when needed."""
    out = json.loads(json.dumps(data))  # a deep copy of plain data
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
                    f"--set {key}: {'.'.join(parts[: i + 1])} is {nxt!r}, not a mapping, so it has no key {parts[i + 1]!r}."
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
        model = _model_in(field.annotation)
    default = field.get_default(call_default_factory=True) if field is not None else None
    return {"name": default.name} if isinstance(default, PluginRef) else {}


def _index(part: str, node: list[Any], key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise SpecError(f"--set {key}: {part!r} is not an index of a list of {len(node)} items.")
    return int(part)


def load_spec(
    path: str | Path,
    overrides: list[str] | None = None,
    registry: Registry | None = None,
) -> tuple[Spec, dict[str, Any]]:
    """Read, override and validate a spec file; returns the spec and the raw data after overrides."""
    data = read_spec_file(path)
    data = apply_overrides(data, [parse_override(o) for o in overrides or []])
    return validate_spec(data, source=str(path), registry=registry), data


def validate_spec(
    data: dict[str, Any], source: str = "<spec>", registry: Registry | None = None
) -> Spec:
    """Validate the skeleton, then every plugin's own parameters; report all errors at once."""
    registry = registry or get_registry()
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_errors(source, _pydantic_errors(exc, (), model=Spec))) from None
    problems: list[str] = []
    for kind_name, where, ref in spec.plugin_refs():
        try:
            entry = registry.entry(kind_name, ref.name, where=where)
        except (UnknownNameError, DuplicateNameError) as exc:
            problems.append(str(exc))
            continue
        model = params_model(entry.cls)
        if model is None:
            if ref.given:
                problems.append(
                    f"{where}: {kind_name} {ref.name!r} takes no parameters, got {', '.join(sorted(ref.given))}."
                )
            ref._cls = entry.cls
            continue
        try:
            ref._params = model.model_validate(ref.given)
        except ValidationError as exc:
            problems += _pydantic_errors(exc, tuple(where.split(".")), kind_name, ref.name, model)
            continue
        ref._cls = entry.cls
    problems += _conflicts(spec)
    if problems:
        raise SpecError(format_errors(source, problems))
    return spec


def _conflicts(spec: Spec) -> list[str]:
    """Combinations that validate one by one but contradict each other."""
    own_decay = getattr(spec.optimizer._params, "weight_decay", 0.0)
    if own_decay and spec.training.weight_decay:
        return [
            f"training.weight_decay: {spec.training.weight_decay} would decay the weights a second time: optimizer "
            f"{spec.optimizer.name!r} has its own weight_decay ({own_decay}). Set one of them to 0."
        ]
    return []


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


def _pydantic_errors(
    exc: ValidationError,
    prefix: tuple[str, ...],
    kind: str | None = None,
    name: str | None = None,
    model: type | None = None,
) -> list[str]:
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
        out.append(f"{loc}: {err['msg']}{what}; got {_show(err.get('input'))}.")
    return out


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model found at ``loc`` inside ``model``."""
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [k for k in model.model_fields if not (model is PluginRef and k == "name")] or [
            "name"
        ]
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


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


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_errors(source: str, problems: list[str]) -> str:
    head = f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''} in the spec:"
    return "\n".join([head, *(f"  - {p}" for p in problems)])
