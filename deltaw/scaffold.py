"""``deltaw new-plugin``: write a plugin package from the templates in ``deltaw/templates``, with
one or several kinds, or add kinds to a package it wrote.

The package it writes (``NAME/``), with a module, a test file and an example per kind::

    pyproject.toml               the entry point [project.entry-points.deltaw] NAME = "deltaw_NAME"
    README.md                    install, use (a section per kind), develop, publish
    examples/KIND.yaml           a spec that uses the kind and trains in seconds
    src/deltaw_NAME/__init__.py  imports each kind's class and registration hook
    src/deltaw_NAME/KIND.py      a documented, working template of the kind
    tests/test_KIND.py           deltaw.testing contract checks + one training run

Names: ``my-cost`` gives the plugin (entry-point) name ``my-cost``, the distribution
``deltaw-my-cost`` and the import package ``deltaw_my_cost``; a leading ``deltaw-`` is not
repeated. Each kind registers the plugin name unless ``names`` gives it another (package
``deltaw-focal-loss`` may register the cost ``focal``), and its class is named after the
registered name and the kind (``focal`` → ``FocalCost``, ``my-cost`` → ``MyCost``). The files
pass ``ruff check`` and ``ruff format --check`` with deltaw's rules, written into their
``pyproject.toml``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from deltaw.errors import DeltawError
from deltaw.files import write_text
from deltaw.scaffold_edit import (
    add_import,
    add_readme_section,
    import_statements,
    read_package,
    top_level_names,
)
from deltaw.scaffold_names import (
    QUALIFIED_NOTE,
    TEMPLATE_KINDS,
    USAGE,
    Part,
    an,
    class_name_for,
    names_for,
    parse_names,
    plan_parts,
)

__all__ = [
    "TEMPLATE_KINDS",
    "USAGE",
    "NewPlugin",
    "Part",
    "add_kinds",
    "class_name_for",
    "names_for",
    "new_plugin",
    "parse_names",
    "plan_parts",
    "shadow_warning",
    "shadowed_builtins",
]


@dataclass
class NewPlugin:
    """What :func:`new_plugin` or :func:`add_kinds` wrote."""

    folder: Path
    plugin: str  # the entry-point name
    distribution: str
    package: str
    parts: list[Part]  # the kinds written (by add_kinds: the added ones)
    package_dir: Path = Path()  # relative to folder
    files: list[Path] = field(default_factory=list)  # relative to folder, written or changed

    @property
    def kind(self) -> str:
        return self.parts[0].kind

    @property
    def name(self) -> str:
        return self.parts[0].name

    @property
    def registers(self) -> list[tuple[str, str]]:
        """``(kind, registered name)`` of each part."""
        return [(p.kind, p.name) for p in self.parts]

    def module_path(self, part: Part | None = None) -> Path:
        return self.folder / self.package_dir / f"{(part or self.parts[0]).module}.py"


def new_plugin(
    name: str,
    kind: str | Sequence[str] = "optimizer",
    folder: str | Path | None = None,
    *,
    names: Mapping[str, str] | None = None,
    author: str = "",
    description: str = "",
) -> NewPlugin:
    """Write a plugin package with one part per kind into ``folder`` (default ``./name``);
    refuses to overwrite anything, and writes nothing unless it writes everything."""
    plugin, dist, package, _ = names_for(name)
    parts = plan_parts(plugin, [kind] if isinstance(kind, str) else kind, names)
    target = Path(folder) if folder is not None else Path(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DeltawError(
            f"new-plugin: {target} already exists and is not empty; choose another folder with "
            "--dir, or add kinds to the package in it with --add-kind."
        )
    values = _package_values(plugin, dist, package, parts, description, author)
    layout = {
        "pyproject.toml": render(_template("plugin/pyproject.toml.tmpl"), values),
        "README.md": render(_template("plugin/README.md.tmpl"), values),
        ".gitignore": render(_template("plugin/gitignore.tmpl"), values),
        f"src/{package}/__init__.py": render(_template("plugin/__init__.py.tmpl"), values),
    }
    for part in parts:
        layout.update(_part_files(part, values, Path("src") / package))
    made = NewPlugin(target, plugin, dist, package, parts, Path("src") / package)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:  # write everything beside the target, then move it into place: never half a package
        for rel, text in layout.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            made.files.append(Path(rel))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return made


def add_kinds(
    folder: str | Path, kinds: Sequence[str], *, names: Mapping[str, str] | None = None
) -> NewPlugin:
    """Add a module, a test file and an example for each of ``kinds`` to the plugin package in
    ``folder``, import them in its ``__init__.py`` and describe them in its README. Every
    check comes first: a kind it already has, a name it already binds or a file in the way
    changes nothing."""
    found = read_package(Path(folder))
    init = found.init.read_text(encoding="utf-8")
    bound = top_level_names(init)
    has = [k for k in TEMPLATE_KINDS if f"register_{k}s" in bound]
    parts = plan_parts(found.plugin, kinds, names, has)
    values = _package_values(found.plugin, found.distribution, found.package, parts, "", "")
    values["description"] = found.description
    changes: dict[Path, str] = {}
    for part in parts:
        found.check_free(part.kind, [part.class_name, part.hook], init)
        for rel, text in _part_files(part, values, found.package_dir).items():
            if (found.folder / rel).exists():
                raise DeltawError(
                    f"new-plugin: {found.folder / rel} already exists; the package "
                    f"{found.distribution} seems to have a {part.kind} already. Nothing was added."
                )
            changes[Path(rel)] = text
        names_of = [part.class_name, part.hook]
        where = str(found.init)
        init = add_import(init, found.package, part.module, names_of, where)
    changes[found.init.relative_to(found.folder)] = init
    readme = found.folder / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        for part in parts:
            section = render(_template("plugin/README-kind.md.tmpl"), _part_values(part, values))
            text = add_readme_section(text, section, QUALIFIED_NOTE)
        changes[Path("README.md")] = text
    _write_all(found.folder, changes)
    return NewPlugin(
        found.folder,
        found.plugin,
        found.distribution,
        found.package,
        parts,
        found.package_dir,
        list(changes),
    )


def _write_all(folder: Path, changes: dict[Path, str]) -> None:
    """Write every file (each atomically); if one fails, put back what was there before."""
    before = {rel: (folder / rel).read_bytes() for rel in changes if (folder / rel).exists()}
    made: list[Path] = []
    try:
        for rel, text in changes.items():
            path = folder / rel
            made += [d for d in reversed(path.parents) if not d.exists()]
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, text)
            made.append(path)
    except BaseException:
        for path in reversed(made):
            rel = path.relative_to(folder)
            if rel in before:
                path.write_bytes(before[rel])
            elif path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        raise


def shadowed_builtins(names: Iterable[tuple[str, str]]) -> list[str]:
    """A warning for each ``(kind, registered name)`` that deltaw's built-ins also register
    (see :func:`shadow_warning`); empty when none does."""
    return [w for kind, name in names if (w := shadow_warning(kind, name))]


def shadow_warning(kind: str, name: str) -> str | None:
    """What to know when the ``kind`` ``name`` is also one of deltaw's built-ins, else None."""
    from deltaw.registry import BUILTIN

    if name not in _builtin_names(kind):
        return None
    return (
        f"Warning: {kind} {name!r} is also a built-in of deltaw, and your plugin shadows it. "
        f"A spec that writes {name!r} will use your plugin (with a notice every time), "
        f"'{BUILTIN}:{name}' is the built-in, and a default a spec leaves out stays the "
        "built-in. Choose another name unless you mean to replace deltaw's."
    )


def render(text: str, values: dict[str, str]) -> str:
    """Replace ``{{key}}`` markers; a marker without a value is a bug in the template."""
    # usage snippets contain markers too, so expand values first
    values = {k: v.replace("{{name}}", values.get("name", "")) for k, v in values.items()}
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


def _package_values(
    plugin: str, dist: str, package: str, parts: list[Part], description: str, author: str
) -> dict[str, str]:
    if not description:
        if len(parts) == 1:
            description = f"{an(parts[0].kind).capitalize()} for deltaw: {parts[0].name}."
        else:
            each = [f"the {p.kind} {p.name}" for p in parts]
            description = f"Plugins for deltaw: {', '.join(each[:-1])} and {each[-1]}."
    ordered = sorted(parts, key=lambda p: p.module)
    values = {
        "plugin": plugin,
        "distribution": dist,
        "package": package,
        "description": description.replace('"', "'"),
        "description_doc": textwrap.fill(description.replace('"', "'"), 96),
        "authors_line": f'authors = [{{ name = "{author}" }}]\n' if author else "",
        "deltaw_version": _deltaw_version(),
        "imports": "\n".join(
            import_statements(package, p.module, [p.class_name, p.hook]) for p in ordered
        ),
        "all_names": "\n".join(f'    "{n}",' for p in ordered for n in (p.class_name, p.hook)),
    }
    values["usage_sections"] = "".join(
        render(_template("plugin/README-kind.md.tmpl"), _part_values(p, values)) for p in parts
    )
    return values


def _part_values(part: Part, values: dict[str, str]) -> dict[str, str]:
    return values | {
        "kind": part.kind,
        "name": part.name,
        "class_name": part.class_name,
        "module": part.module,
        "summary": f"{an(part.kind).capitalize()} for deltaw: {part.name}.",
        "usage": USAGE[part.kind],
    }


def _part_files(part: Part, values: dict[str, str], package_dir: Path) -> dict[str, str]:
    mine = _part_values(part, values)
    return {
        (package_dir / f"{part.module}.py").as_posix(): render(
            _template(f"{part.kind}/plugin.py.tmpl"), mine
        ),
        f"tests/test_{part.module}.py": render(_template(f"{part.kind}/test_plugin.py.tmpl"), mine),
        f"examples/{part.module}.yaml": render(_template(f"{part.kind}/example.yaml.tmpl"), mine),
    }


@functools.cache
def _builtin_names(kind: str) -> frozenset[str]:
    return frozenset(_builtins().names(kind))


@functools.cache
def _builtins():  # noqa: ANN202 - a registry of deltaw's built-ins only, loaded once
    from deltaw.registry import Registry

    builtins = Registry()
    builtins.load_builtins()
    return builtins


def _template(rel: str) -> str:
    return (
        resources.files("deltaw").joinpath("templates", *rel.split("/")).read_text(encoding="utf-8")
    )


def _deltaw_version() -> str:
    from deltaw import __version__

    return ".".join(__version__.split(".")[:2])
