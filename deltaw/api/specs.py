"""Specs without a file: a dict or a Spec model given to the Python API, and ``set=``.

Such a spec is validated where it was given (errors name "the spec given to
deltaw.run() (a dict)"), then written as plain YAML: into the new run folder as its
``spec.yaml`` (the spec as given, for resume and ``deltaw predict``), or to a temporary
file that a sweep copies into its folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from deltaw.errors import SpecError
from deltaw.files import write_text
from deltaw.registry import Registry
from deltaw.runs.folder import new_run_folder
from deltaw.spec.loading import validate_spec
from deltaw.spec.overrides import apply_overrides, parse_override

if TYPE_CHECKING:
    from deltaw.spec.models import Spec
    from deltaw.spec.resolve import ResolvedSpec

    SpecLike = str | os.PathLike[str] | Mapping[str, Any] | Spec | ResolvedSpec
    Overrides = Sequence[str] | Mapping[str, Any] | None

WRITTEN_FROM = "# Written by deltaw.{} (a {}): the spec as given; overrides are in overrides.json\n"


def spec_path(spec: SpecLike) -> Path | None:
    """The file of a spec given as a path; None for a dict or a Spec."""
    from deltaw.spec.models import Spec
    from deltaw.spec.resolve import ResolvedSpec

    if isinstance(spec, (str, os.PathLike)):
        return Path(spec)
    if isinstance(spec, (Mapping, Spec, ResolvedSpec)):
        return None
    raise SpecError(
        f"deltaw got a spec of type {type(spec).__name__}: give a spec file's path, a dict, "
        f"or a deltaw Spec model."
    )


def kind(spec: SpecLike) -> str:
    return "dict" if isinstance(spec, Mapping) else "Spec model"


def validated(
    spec: SpecLike, overrides: list[str], caller: str, registry: Registry
) -> dict[str, Any]:
    """The spec as plain data, after checking that it (with its overrides) validates."""
    raw = plain_spec(spec, caller)
    source = f"the spec given to deltaw.{caller} (a {kind(spec)})"
    validate_spec(apply_overrides(raw, [parse_override(o) for o in overrides]), source, registry)
    return raw


def plain_spec(spec: SpecLike, caller: str) -> dict[str, Any]:
    """A dict or Spec as a deep copy of plain data (a Spec: the fields it was given)."""
    from deltaw.spec.models import Spec
    from deltaw.spec.resolve import ResolvedSpec

    if isinstance(spec, ResolvedSpec):  # what deltaw.validate returns
        spec = spec.spec
    data = spec.model_dump(mode="json", exclude_unset=True) if isinstance(spec, Spec) else spec
    try:
        return dict(json.loads(json.dumps(data, default=plain)))
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"the spec given to deltaw.{caller} is not plain data ({exc}); a spec holds "
            f"strings, numbers, booleans, lists and dicts."
        ) from None


def write_spec(
    spec: SpecLike, overrides: list[str], out: Path, caller: str, registry: Registry
) -> tuple[Path, Path]:
    """A new run folder holding ``spec.yaml`` written from a dict or Spec; its path."""
    raw = validated(spec, overrides, caller, registry)
    name = apply_overrides(raw, [parse_override(o) for o in overrides]).get("name", "experiment")
    folder = new_run_folder(out, str(name))
    write_text(folder / "spec.yaml", WRITTEN_FROM.format(caller, kind(spec)) + dump(raw))
    return folder, folder / "spec.yaml"


def dump(raw: dict[str, Any]) -> str:
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists (for ``json.dumps``)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not plain data")


def as_overrides(values: Overrides) -> list[str]:
    """``set=`` as ``--set`` strings: a list of ``key=value`` or a mapping of key to value."""
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    if isinstance(values, Mapping):
        from deltaw.runs.sweep import format_override

        return [
            format_override(str(k), json.loads(json.dumps(v, default=plain)))
            for k, v in values.items()
        ]
    return [str(v) for v in values]
