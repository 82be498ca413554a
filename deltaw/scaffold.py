"""``deltaw new-plugin``: write a ready plugin package from the templates in ``deltaw/templates``.

The package it writes (``NAME/``)::

    pyproject.toml            the entry point [project.entry-points.deltaw] NAME = "deltaw_NAME"
    README.md                 install, use, develop, publish
    example.yaml              a spec that uses the plugin and trains in seconds
    src/deltaw_NAME/__init__.py   a documented, working template of the kind
    tests/test_NAME.py        deltaw.testing contract checks + one training run

Names: ``my-cost`` gives the plugin (entry point and registered) name
``my-cost``, the distribution ``deltaw-my-cost``, the import package
``deltaw_my_cost`` and the class ``MyCost``; a leading ``deltaw-`` is not
repeated.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

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
}

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass
class NewPlugin:
    """What :func:`new_plugin` wrote."""

    folder: Path
    kind: str
    name: str  # entry-point and registered name
    distribution: str
    package: str
    class_name: str
    files: list[Path] = field(default_factory=list)  # relative to folder

    @property
    def module_path(self) -> Path:
        return self.folder / "src" / self.package / "__init__.py"

    @property
    def spec_hint(self) -> str:
        return USAGE[self.kind].split("\n")[-1].strip().replace("{{name}}", self.name)


def shadow_warning(kind: str, name: str) -> str | None:
    """What to know when the ``kind`` ``name`` is also one of deltaw's built-ins, else None."""
    from deltaw.registry import BUILTIN, Registry

    builtins = Registry()
    builtins.load_builtins()
    if name not in builtins.names(kind):
        return None
    return (
        f"Warning: {kind} {name!r} is also a built-in of deltaw, and your plugin shadows it. "
        f"A spec that writes {name!r} will use your plugin (with a notice every time), "
        f"'{BUILTIN}:{name}' is the built-in, and a default a spec leaves out stays the "
        "built-in. Choose another name unless you mean to replace deltaw's."
    )


def names_for(name: str) -> tuple[str, str, str, str]:
    """``(plugin name, distribution, import package, class name)`` for a plugin called ``name``."""
    plugin = name.strip().lower().replace("_", "-")
    if plugin.startswith("deltaw-"):
        plugin = plugin[len("deltaw-") :]
    if not _NAME.match(plugin):
        raise DeltawError(
            f"new-plugin: {name!r} is not a usable plugin name. Use lowercase letters, digits and single hyphens, "
            "starting with a letter, e.g. my-cost or lion."
        )
    words = plugin.split("-")
    class_name = "".join(w[:1].upper() + w[1:] for w in words)
    return plugin, f"deltaw-{plugin}", "deltaw_" + "_".join(words), class_name


def new_plugin(
    name: str,
    kind: str = "optimizer",
    folder: str | Path | None = None,
    *,
    author: str = "",
    description: str = "",
) -> NewPlugin:
    """Write a plugin package for ``kind`` into ``folder`` (default ``./name``); refuses to overwrite anything."""
    if kind not in TEMPLATE_KINDS:
        raise DeltawError(
            f"new-plugin: no template for the kind {kind!r}. Kinds: {', '.join(TEMPLATE_KINDS)}."
        )
    plugin, dist, package, class_name = names_for(name)
    target = Path(folder) if folder is not None else Path(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DeltawError(
            f"new-plugin: {target} already exists and is not empty; choose another folder with --dir."
        )
    values = {
        "name": plugin,
        "distribution": dist,
        "package": package,
        "class_name": class_name,
        "kind": kind,
        "description": (description or f"A {kind} for deltaw: {plugin}.").replace('"', "'"),
        "authors_line": f'authors = [{{ name = "{author}" }}]\n' if author else "",
        "deltaw_version": _deltaw_version(),
        "usage": USAGE[kind],
    }
    layout = {
        "pyproject.toml": "plugin/pyproject.toml.tmpl",
        "README.md": "plugin/README.md.tmpl",
        ".gitignore": "plugin/gitignore.tmpl",
        "example.yaml": f"{kind}/example.yaml.tmpl",
        f"src/{package}/__init__.py": f"{kind}/plugin.py.tmpl",
        f"tests/test_{package.removeprefix('deltaw_')}.py": f"{kind}/test_plugin.py.tmpl",
    }
    made = NewPlugin(target, kind, plugin, dist, package, class_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:  # write everything beside the target, then move it into place: never half a package
        for rel, template in layout.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(_template(template), values), encoding="utf-8")
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


def render(text: str, values: dict[str, str]) -> str:
    """Replace ``{{key}}`` markers; a marker without a value is a bug in the template."""
    # usage snippets contain markers too, so expand values first
    values = {k: v.replace("{{name}}", values.get("name", "")) for k, v in values.items()}
    out = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)
    return out


def _template(rel: str) -> str:
    return (
        resources.files("deltaw").joinpath("templates", *rel.split("/")).read_text(encoding="utf-8")
    )


def _deltaw_version() -> str:
    from deltaw import __version__

    return ".".join(__version__.split(".")[:2])
