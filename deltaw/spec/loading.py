"""Loading spec files and validating them: the skeleton first, then every plugin reference.

Every problem is collected and reported together, each with its location
(``optimizer.beta1``), the offending value and what would be accepted; the
message starts with the file name. Reading a file (encodings, limits,
duplicate keys) lives in :mod:`deltaw.spec.reading`, ``--set`` overrides in
:mod:`deltaw.spec.overrides`, the wording of problems in :mod:`deltaw.spec.problems`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deltaw.errors import ParamsError, SpecError
from deltaw.registry import Registry, get_registry
from deltaw.spec.models import Spec
from deltaw.spec.overrides import apply_override_texts
from deltaw.spec.problems import format_errors, pydantic_errors
from deltaw.spec.reading import SUFFIXES, read_spec_file
from deltaw.spec.resolve import (
    VALIDATOR_FAULTS,
    ResolvedSpec,
    one_line,
    raw_plugin_refs,
    resolve_refs,
    resolve_spec,
)

__all__ = ["SUFFIXES", "load_spec", "read_spec_file", "validate_spec"]


def load_spec(
    path: str | Path,
    overrides: list[str] | None = None,
    registry: Registry | None = None,
) -> tuple[ResolvedSpec, dict[str, Any]]:
    """Read, override and validate a spec file: the resolved spec, and the raw data overridden.

    A bad ``--set`` is one more problem in the list, reported with the spec's own.
    """
    data = read_spec_file(path)
    data, problems = apply_override_texts(data, overrides or [])
    return validate_spec(data, source=str(path), registry=registry, problems=problems), data


def validate_spec(
    data: dict[str, Any],
    source: str = "<spec>",
    registry: Registry | None = None,
    problems: list[str] | None = None,
) -> ResolvedSpec:
    """Validate the skeleton and resolve every plugin reference; report all problems at once.

    When the skeleton has mistakes, the plugin references that are well formed
    are resolved anyway, so their problems are listed in the same pass.
    ``problems`` are found before (a bad ``--set``) and head the list. The
    result carries each reference's plugin class and validated parameters, so
    ``build`` never looks a name up again.
    """
    registry = registry or get_registry()
    problems = list(problems or [])
    try:
        spec = Spec.model_validate(data)
    except (ValidationError, *VALIDATOR_FAULTS) as exc:
        if isinstance(exc, ValidationError):
            problems += pydantic_errors(exc, (), model=Spec)
        else:  # a value no check expected, like an integer of 400 digits where a float goes
            problems.append(f"(the spec) cannot be checked: {one_line(exc)}.")
        problems += resolve_refs(raw_plugin_refs(data), registry, source)[1]
        raise SpecError(format_errors(source, problems)) from None
    try:
        resolved = resolve_spec(spec, registry, source)
    except ParamsError as exc:
        problems += exc.problems
    if problems:
        raise SpecError(format_errors(source, problems))
    return resolved
