"""Resolving the links inside a plugin's parameters (the ``chain`` optimizer's ``links``).

A plugin's validated ``Params`` may hold :class:`~deltaw.params.Link`
fields (one, or a list). Each link is resolved through the registry — among
the kinds it allows, optimizers first, then transforms — and its own
parameters are validated against that plugin's ``Params``, recursively (a
chain may be a link of a chain). Errors name the link's place in the spec,
``optimizer.links[1].max_norm``, exactly as for any plugin reference.

One rule beyond validation: a link whose ``Params`` has a ``seed`` field the
spec leaves unset gets the spec's ``seed`` (``add-noise``), so noise is
reproducible from the one seed of the run and written in the resolved spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from deltaw.core.chain import ChainError
from deltaw.errors import DuplicateNameError, UnknownNameError
from deltaw.params import Link
from deltaw.registry import Registry

if TYPE_CHECKING:
    from deltaw.spec.resolve import Resolved


def resolve_links(spec: Any, plugins: Mapping[str, Resolved], registry: Registry) -> list[str]:
    """Resolve and validate every link under the resolved plugin references; returns the problems.

    Called by :func:`deltaw.spec.resolve.resolve_spec` once every plugin
    reference is resolved; a reference that failed has no resolution and is
    skipped (its problem is already reported).
    """
    problems: list[str] = []
    for where, ref in plugins.items():
        if ref.params is not None:
            before = len(problems)
            found = _resolve_within(ref.params, where, registry, spec.seed, problems)
            if found and len(problems) == before:  # every link resolved: check their order
                problems += _chain_problems(ref, ref.params, where)
    problems += _double_decay(spec, plugins)
    return problems


def link_refs(plugins: Mapping[str, Resolved]) -> list[tuple[str, str, Link]]:
    """Every resolved link as ``(kind, location, link)``, nested ones included."""
    out: list[tuple[str, str, Link]] = []
    for where, ref in plugins.items():
        if ref.params is not None:
            out += _links_in(ref.params, where)
    return out


def _resolve_within(
    params: BaseModel, where: str, registry: Registry, seed: int, problems: list[str]
) -> bool:
    """Resolve the links among ``params``' fields (appending problems); True if there were any."""
    found = False
    for _, loc, link in _fields_with_links(params, where):
        found = True
        _resolve(link, loc, registry, seed, problems)
    return found


def _fields_with_links(params: BaseModel, where: str) -> Iterator[tuple[str, str, Link]]:
    for field in type(params).model_fields:
        value = getattr(params, field)
        if isinstance(value, Link):
            yield field, f"{where}.{field}", value
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, Link):
                    yield field, f"{where}.{field}[{i}]", item


def _resolve(link: Link, loc: str, registry: Registry, seed: int, problems: list[str]) -> None:
    """Resolve one link in place: its class, its validated params, then its own links."""
    from deltaw.spec.problems import pydantic_errors
    from deltaw.spec.strict import params_model

    try:
        entry = registry.entry_among(link.kinds, link.name, loc)
    except (UnknownNameError, DuplicateNameError) as exc:
        problems.append(str(exc))
        return
    model = params_model(entry.cls)
    if model is None:
        if link.given:
            problems.append(
                f"{loc}: {entry.kind} {link.name!r} takes no parameters, "
                f"got {', '.join(sorted(link.given))}."
            )
            return
        link._cls, link._kind, link._entry = entry.cls, entry.kind, entry
        return
    given = link.given
    if "seed" in model.model_fields and "seed" not in given:
        given["seed"] = seed  # the run's seed, so noise follows `seed` like everything else
    try:
        link._params = model.model_validate(given)
    except ValidationError as exc:
        problems += pydantic_errors(exc, (loc,), entry.kind, link.name, model)
        return
    link._cls, link._kind, link._entry = entry.cls, entry.kind, entry
    before = len(problems)
    if _resolve_within(link._params, loc, registry, seed, problems) and len(problems) == before:
        problems += _chain_problems(link, link._params, loc)


def _chain_problems(ref: Any, params: BaseModel, where: str) -> list[str]:
    """Build the plugin once so a chain checks its links' order; a problem names the link.

    A chain's unset ``lr`` is then written as the rate it uses (its rule's), so
    the resolved spec shows it.
    """
    try:
        built = ref.build()
    except ChainError as exc:
        if exc.index is None:
            return [f"{where}.links: a chain {exc.reason}."]
        link = params.links[exc.index]
        return [f"{where}.links[{exc.index}] ({link._kind} {link.name!r}): {exc.reason}."]
    if getattr(params, "lr", 0.0) is None:
        params.lr = built.params.lr
    return []


def _links_in(params: BaseModel, where: str) -> list[tuple[str, str, Link]]:
    out = []
    for _, loc, link in _fields_with_links(params, where):
        if link._kind is not None:
            out.append((link._kind, loc, link))
        if link._params is not None:
            out += _links_in(link._params, loc)
    return out


def _double_decay(spec: Any, plugins: Mapping[str, Resolved]) -> list[str]:
    """A chain's update rule with its own weight_decay, and training.weight_decay too."""
    if not spec.training.weight_decay:
        return []
    return [
        f"training.weight_decay: {spec.training.weight_decay} would decay the weights a second "
        f"time: {where} ({kind} {link.name!r}) has its own weight_decay "
        f"({link._params.weight_decay}). Set one of them to 0."
        for kind, where, link in link_refs(plugins)
        if getattr(link._params, "weight_decay", 0.0)
    ]
