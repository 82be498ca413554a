"""The names and parts of a plugin package for ``deltaw new-plugin``: which kinds have a template,
what each kind registers and what its class is called, and the distribution and import package a
plugin name gives (:func:`names_for`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from deltaw.errors import DeltawError

TEMPLATE_KINDS = (
    "optimizer",
    "cost",
    "activation",
    "initializer",
    "regularizer",
    "metric",
    "dataset",
    "schedule",
    "callback",
    "transform",
)

USAGE = {
    "optimizer": "optimizer: {name: {{name}}, lr: 0.05}",
    "cost": "cost: {{name}}",
    "activation": "network:\n  layers: [2, 16, 2]\n  activation: {{name}}",
    "initializer": "network:\n  layers: [2, 16, 2]\n  init: {{name}}",
    "regularizer": "regularizers:\n  - {name: {{name}}, lmbda: 0.5}",
    "metric": "metrics: [cost, accuracy, {{name}}]",
    "dataset": "data: {name: {{name}}, samples: 1000}",
    "schedule": "schedule: {name: {{name}}, warmup: 5}",
    "callback": "callbacks:\n  - {name: {{name}}, target: 0.95}",
    "transform": (
        "optimizer:\n  name: chain\n  links: [{name: {{name}}, decay: 0.9}, {name: sgd, lr: 0.1}]"
    ),
}

QUALIFIED_NOTE = "If another installed plugin also registers one of these names"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Part:
    """One kind of a plugin package: its registered name and its class."""

    kind: str
    name: str  # the registered name, as specs write it
    class_name: str

    @property
    def module(self) -> str:
        """The module of the package that holds it (``cost`` → ``cost.py``)."""
        return self.kind

    @property
    def hook(self) -> str:
        return f"register_{self.kind}s"

    @property
    def spec_hint(self) -> str:
        """How a spec names it (YAML, one or more lines)."""
        return USAGE[self.kind].replace("{{name}}", self.name)


def names_for(name: str) -> tuple[str, str, str, str]:
    """``(plugin name, distribution, import package, class name)`` for a plugin called ``name``."""
    plugin = name.strip().lower().replace("_", "-")
    if plugin.startswith("deltaw-"):
        plugin = plugin[len("deltaw-") :]
    if not _NAME.match(plugin):
        raise DeltawError(
            f"new-plugin: {name!r} is not a usable plugin name. Use lowercase letters, digits and "
            "single hyphens, starting with a letter, e.g. my-cost or lion."
        )
    words = plugin.split("-")
    return plugin, f"deltaw-{plugin}", "deltaw_" + "_".join(words), _camel(plugin)


def class_name_for(name: str, kind: str) -> str:
    """``FocalCost`` for the cost ``focal``; ``MyCost`` for the cost ``my-cost``."""
    base, suffix = _camel(name), _camel(kind)
    return base if base.endswith(suffix) else base + suffix


def parse_names(given: Iterable[str], kinds: Sequence[str]) -> dict[str, str]:
    """``--name`` values → ``{kind: registered name}``: ``KIND=NAME`` for one kind, a bare
    ``NAME`` for every kind not named otherwise."""
    out: dict[str, str] = {}
    every: str | None = None
    for item in given:
        kind, eq, name = item.partition("=")
        if not eq:
            every, kind = _registered(item), ""
            continue
        if kind not in kinds:
            raise DeltawError(
                f"new-plugin: --name {item!r} names the kind {kind!r}, which is not one being "
                f"written ({', '.join(kinds)}). Write --name KIND=NAME for one of those."
            )
        out[kind] = _registered(name)
    return {k: out.get(k) or every for k in kinds if out.get(k) or every}  # type: ignore[misc]


def plan_parts(
    plugin: str,
    kinds: Sequence[str],
    names: Mapping[str, str] | None,
    has: Iterable[str] = (),
) -> list[Part]:
    """The parts for ``kinds``: each registers ``names[kind]``, else the plugin name — except
    that an optimizer and a transform never share a name (a chain's links look names up among
    both), so the one added last (of a package that ``has`` the other) gets ``PLUGIN-KIND``."""
    kinds = list(kinds)
    for k in kinds:
        if k not in TEMPLATE_KINDS:
            raise DeltawError(
                f"new-plugin: no template for the kind {k!r}. Kinds: {', '.join(TEMPLATE_KINDS)}."
            )
    doubled = sorted({k for k in kinds if kinds.count(k) > 1})
    if doubled:
        raise DeltawError(
            f"new-plugin: the kind {doubled[0]!r} is given twice; a package has one module per "
            "kind, and its registration hook may register several classes."
        )
    names, has = names or {}, set(has)
    parts = []
    for k in kinds:
        second = (k == "transform" and ("optimizer" in kinds or "optimizer" in has)) or (
            k == "optimizer" and "transform" in has
        )
        name = _registered(names.get(k) or (f"{plugin}-{k}" if second else plugin))
        parts.append(Part(k, name, class_name_for(name, k)))
    links = {p.kind: p.name for p in parts if p.kind in ("optimizer", "transform")}
    if len(links) == 2 and len(set(links.values())) == 1:
        raise DeltawError(
            f"new-plugin: the optimizer and the transform would both register "
            f"{links['optimizer']!r}, and a chain's links look names up among both kinds; give "
            "one another name "
            "(--name transform=NAME)."
        )
    return parts


def an(word: str) -> str:
    """``a cost``, ``an activation``."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _registered(name: str) -> str:
    if not _NAME.match(name):
        raise DeltawError(
            f"new-plugin: {name!r} is not a usable registered name. Use lowercase letters, "
            "digits and single hyphens, starting with a letter, e.g. focal or my-cost."
        )
    return name


def _camel(name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in name.split("-"))
