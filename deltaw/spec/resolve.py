"""Resolving plugin references: the one place a name becomes a class and validated parameters.

A :class:`~deltaw.spec.models.PluginRef` is plain data: a name and parameters
as written. :func:`resolve` looks the name up in a registry (once) and validates
the parameters against the plugin's ``Params``; validation, ``build`` and the
gradcheck/explain probe all go through it. :func:`resolve_spec` resolves every
reference of a spec, reports all problems at once and returns a
:class:`ResolvedSpec`, from which ``build`` instantiates without looking
anything up again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from deltaw.errors import DuplicateNameError, ParamsError, UnknownNameError
from deltaw.registry import BUILTIN, Entry, Registry
from deltaw.spec.links import resolve_links
from deltaw.spec.models import PluginRef, Spec, inner_model, plugin_locations
from deltaw.spec.problems import format_errors, pydantic_errors
from deltaw.spec.strict import params_model


@dataclass(frozen=True)
class Resolved:
    """One plugin reference resolved against a registry: what it names, with checked parameters."""

    kind: str  # "optimizer"
    location: str  # where the reference is: "optimizer", "regularizers[0]", "--cost"
    name: str  # as written: "adam" or "myplugin:adam"
    entry: Entry  # the registered class and the plugin that provides it
    params: BaseModel | None  # the validated Params, None for a class without Params
    shared: bool = False  # another plugin registers the same kind and name

    @property
    def shown(self) -> str:
        """The name ``resolved.yaml`` shows: one that means this plugin wherever it runs.

        Qualified (``shadow:sgd``, ``deltaw:sgd``) when deltaw and a plugin share
        the name; otherwise as written, a built-in without its ``deltaw:``.
        """
        if self.shared:
            return self.qualified
        if self.entry.plugin.name == BUILTIN:
            return self.entry.name
        return self.name

    @property
    def cls(self) -> type:
        """The plugin class."""
        return self.entry.cls

    @property
    def qualified(self) -> str:
        """``plugin:name``, unambiguous whatever else is installed."""
        return self.entry.qualified

    def build(self) -> Any:
        """A fresh plugin instance with the validated parameters."""
        return self.cls(self.params) if self.params is not None else self.cls()

    def dump(self) -> dict[str, Any]:
        """The reference with every default filled in: ``{"name": ..., **params}``."""
        params = self.params.model_dump(mode="json") if self.params is not None else {}
        return {"name": self.name, **params}


def resolve(
    registry: Registry, kind: str, location: str, ref: PluginRef, source: str = "<spec>"
) -> Resolved:
    """Look ``ref`` up as a ``kind`` and validate its parameters against the plugin's ``Params``.

    ``location`` names the reference in messages (``optimizer``, ``--cost``) and
    ``source`` heads a parameter error (the spec file, or the option). Raises
    :class:`~deltaw.errors.UnknownNameError` or :class:`~deltaw.errors.DuplicateNameError`
    for the name and :class:`~deltaw.errors.ParamsError` (with every problem) for
    the parameters.
    """
    entry = registry.entry(kind, ref.name, where=location)
    shared = sum(e.name == entry.name for e in registry.entries(kind)) > 1
    model = params_model(entry.cls)
    given = ref.given
    if model is None:
        if given:
            problem = (
                f"{location}: {kind} {ref.name!r} takes no parameters, "
                f"got {', '.join(sorted(given))}."
            )
            raise ParamsError(problem, [problem])
        return Resolved(kind, location, ref.name, entry, None, shared)
    try:
        params = model.model_validate(given)
    except ValidationError as exc:
        problems = pydantic_errors(exc, tuple(location.split(".")), kind, ref.name, model)
        raise ParamsError(format_errors(source, problems), problems) from None
    except VALIDATOR_FAULTS as exc:  # a validator failing in a way pydantic does not catch
        problem = (
            f"{location}: {kind} {ref.name!r} cannot check these parameters ({one_line(exc)})."
        )
        raise ParamsError(problem, [problem]) from None
    problems = [
        f"{where}: Input should be a finite number ({kind} {ref.name!r}); got {value}."
        for where, value in non_finite(params, location)
    ]
    if problems:
        raise ParamsError(format_errors(source, problems), problems)
    return Resolved(kind, location, ref.name, entry, params, shared)


# what a validator may raise on extreme input (float(10**400)) that pydantic lets through
VALIDATOR_FAULTS = (ArithmeticError, TypeError, LookupError, AttributeError)


def one_line(exc: BaseException) -> str:
    """``Type: message`` of an exception, on one line."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def non_finite(model: BaseModel, location: str) -> list[tuple[str, float]]:
    """Where ``model`` holds inf or nan that it did not declare it accepts: ``(location, value)``.

    Every float is finite unless its model says otherwise, with pydantic's own
    switch: ``allow_inf_nan=True`` set explicitly in the ``model_config``, or on
    the field (``Field(allow_inf_nan=True)``). Nested models, lists, tuples and
    dicts are searched too; plugin references (plain data) are left to their plugin.
    """
    if model.model_config.get("allow_inf_nan") is True:
        return []
    found = []
    for name, field in type(model).model_fields.items():
        allowed = any(getattr(m, "allow_inf_nan", None) is True for m in field.metadata)
        if not allowed:
            where = f"{location}.{name}" if location else name
            found += _non_finite_in(getattr(model, name), where)
    return found


def _non_finite_in(value: Any, where: str) -> list[tuple[str, float]]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(where, value)]
    if isinstance(value, PluginRef):
        return []
    if isinstance(value, BaseModel):
        return non_finite(value, where)
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _non_finite_in(v, f"{where}.{k}")]
    if isinstance(value, (list, tuple)):
        return [f for i, v in enumerate(value) for f in _non_finite_in(v, f"{where}[{i}]")]
    return []


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec and the resolution of each of its plugin references, by location."""

    spec: Spec
    plugins: Mapping[str, Resolved]  # location (as in Spec.plugin_refs) → its resolution

    def listed(self, key: str) -> list[Resolved]:
        """The resolutions of a list of references, in order: ``listed("metrics")``."""
        return [self.plugins[f"{key}[{i}]"] for i in range(len(getattr(self.spec, key)))]

    def plugins_used(self) -> dict[str, str]:
        """``"kind:name" → origin`` of every plugin the spec uses (``deltaw-lion 0.3``)."""
        return {f"{r.kind}:{r.entry.name}": r.entry.plugin.origin for r in self.plugins.values()}

    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in, plugin parameters included.

        Each plugin shows as :attr:`Resolved.shown`: a default the spec leaves
        out (resolved as ``deltaw:sgd``) shows as ``sgd``.
        """
        out = self.spec.model_dump(mode="json", exclude_none=False)
        for where, plugin in self.plugins.items():
            node: Any = out
            parts = where.replace("[", ".").replace("]", "").split(".")
            for p in parts[:-1]:
                node = node[int(p)] if p.isdigit() else node[p]
            last = parts[-1]
            node[int(last) if last.isdigit() else last] = {**plugin.dump(), "name": plugin.shown}
        return out


def resolve_spec(spec: Spec, registry: Registry, source: str = "<spec>") -> ResolvedSpec:
    """Resolve every plugin reference of ``spec`` once; all problems are reported together."""
    plugins, problems = resolve_refs(spec.plugin_refs(), registry, source)
    problems += resolve_links(spec, plugins, registry)  # a chain's links, like references
    problems += _conflicts(spec, plugins) + metric_clashes(spec)
    if problems:
        raise ParamsError(format_errors(source, problems), problems)
    return ResolvedSpec(spec, plugins)


def resolve_refs(
    refs: list[tuple[str, str, PluginRef]], registry: Registry, source: str = "<spec>"
) -> tuple[dict[str, Resolved], list[str]]:
    """Resolve each ``(kind, location, ref)``: the resolutions by location, and every problem."""
    plugins: dict[str, Resolved] = {}
    problems: list[str] = []
    for kind, where, ref in refs:
        try:
            plugins[where] = resolve(registry, kind, where, ref, source)
        except (UnknownNameError, DuplicateNameError) as exc:
            problems.append(str(exc))
        except ParamsError as exc:
            problems += exc.problems
    return plugins, problems


def raw_plugin_refs(data: Any) -> list[tuple[str, str, PluginRef]]:
    """The well-formed plugin references in spec data whose skeleton does not validate.

    An absent reference takes its default and a malformed one is left out (the
    skeleton's problems name it), so the plugins of a spec with other mistakes
    are still checked in the same pass.
    """
    kinds, refs = plugin_locations(), []

    def walk(model: type[BaseModel], node: Any, path: tuple[str, ...]) -> None:
        for name, field in model.model_fields.items():
            where = path + (name,)
            given = isinstance(node, dict) and name in node
            value = node[name] if given else field.get_default(call_default_factory=True)
            many, inner = inner_model(field.annotation)
            if where in kinds:
                items = enumerate(value) if many and isinstance(value, list) else [(None, value)]
                for i, item in items:
                    try:
                        ref = PluginRef.model_validate(item)
                    except ValidationError:
                        continue
                    at = ".".join(where) + ("" if i is None else f"[{i}]")
                    refs.append((kinds[where], at, ref))
            elif inner is not None and not many and value is not None:
                if isinstance(value, dict) or not given:  # a section, or one left to defaults
                    walk(inner, value, where)

    walk(Spec, data, ())
    return refs


def _conflicts(spec: Spec, plugins: Mapping[str, Resolved]) -> list[str]:
    """Combinations that validate one by one but contradict each other."""
    problems = spec.training.lr_multiplier_problems(len(spec.network.layers) - 1)
    problems += spec.network.dropout_problems()
    optimizer = plugins.get("optimizer")
    own_decay = getattr(optimizer.params if optimizer else None, "weight_decay", 0.0)
    if own_decay and spec.training.weight_decay:
        problems.append(
            f"training.weight_decay: {spec.training.weight_decay} would decay the weights "
            f"a second time: optimizer {spec.optimizer.name!r} has its own weight_decay "
            f"({own_decay}). Set one of them to 0."
        )
    return problems


def metric_key(ref: PluginRef) -> str:
    """The key a metric is recorded under (``<split>_<key>``): its bare registered name."""
    return ref.name.rpartition(":")[2]


def metric_clashes(spec: Spec) -> list[str]:
    """One problem per metric recorded under the key of an earlier one (it would overwrite it)."""
    first: dict[str, int] = {}
    problems = []
    for i, ref in enumerate(spec.metrics):
        key = metric_key(ref)
        if key not in first:
            first[key] = i
            continue
        j = first[key]
        problems.append(
            f"metrics[{j}] ({_written(spec.metrics[j])}) and metrics[{i}] ({_written(ref)}) "
            f"are both recorded as <split>_{key}, so one would overwrite the other. A metric "
            "is recorded under its registered name: list each name once; to compare two "
            f"settings, sweep over them (sweep.grid: {{metrics.{j}.<param>: [...]}}), or "
            "register the variant under a name of its own."
        )
    return problems


def _written(ref: PluginRef) -> str:
    """A reference as a spec writes it: ``accuracy`` or ``{name: accuracy, top: 3}``."""
    given = ", ".join(f"{k}: {v!r}" for k, v in ref.given.items())
    return f"{{name: {ref.name}, {given}}}" if given else ref.name
