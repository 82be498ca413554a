"""Reading spec files and validating them: the skeleton first, then every plugin reference.

Every problem is collected and reported together, each with its location
(``optimizer.beta1``), the offending value and what would be accepted; the
message starts with the file name. ``--set`` overrides live in
:mod:`deltaw.spec.overrides`, the wording of problems in :mod:`deltaw.spec.problems`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from deltaw.errors import SpecError
from deltaw.registry import Registry, get_registry
from deltaw.spec.models import Spec
from deltaw.spec.overrides import apply_overrides, parse_override
from deltaw.spec.problems import format_errors, one_line, pydantic_errors
from deltaw.spec.resolve import ResolvedSpec, resolve_spec

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
        raise SpecError(f"{path}: not valid {fmt}: {one_line(str(exc))}") from None
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: a spec must be a mapping of keys (name, data, network, …), "
            f"got {type(data).__name__}."
        )
    return data


def load_spec(
    path: str | Path,
    overrides: list[str] | None = None,
    registry: Registry | None = None,
) -> tuple[ResolvedSpec, dict[str, Any]]:
    """Read, override and validate a spec file: the resolved spec, and the raw data overridden."""
    data = read_spec_file(path)
    data = apply_overrides(data, [parse_override(o) for o in overrides or []])
    return validate_spec(data, source=str(path), registry=registry), data


def validate_spec(
    data: dict[str, Any], source: str = "<spec>", registry: Registry | None = None
) -> ResolvedSpec:
    """Validate the skeleton, then resolve every plugin reference; report all errors at once.

    The result carries each reference's plugin class and validated parameters,
    so ``build`` never looks a name up again.
    """
    registry = registry or get_registry()
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_errors(source, pydantic_errors(exc, (), model=Spec))) from None
    return resolve_spec(spec, registry, source)
