"""An existing plugin package, for ``deltaw new-plugin --add-kind``: where its import package is
(:func:`read_package`, from the entry point in its ``pyproject.toml``), and the edits that add a
kind — the import of the kind's module in ``__init__.py`` and its section in the README, written
as ruff would format them (isort order, 100 columns), so the package keeps passing ``ruff check``
and ``ruff format``. :mod:`deltaw.scaffold` renders the new files and writes everything.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

from deltaw.errors import DeltawError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LINE = 100  # ruff's line length in a generated package


@dataclass(frozen=True)
class Package:
    """A plugin package on disk: its names and where its import package is."""

    folder: Path
    plugin: str  # the entry-point name
    distribution: str
    package: str
    package_dir: Path  # relative to folder
    description: str

    @property
    def init(self) -> Path:
        return self.folder / self.package_dir / "__init__.py"

    def check_free(self, kind: str, names: list[str], init_source: str) -> None:
        """Refuse a kind whose hook or class name the package already binds."""
        bound = top_level_names(init_source)
        hook, taken = names[-1], [n for n in names if n in bound]
        if hook in bound:
            raise DeltawError(
                f"new-plugin: {self.init} already has {hook}, so the package {self.distribution} "
                f"registers {kind}s already; add the new class to that hook (it may register "
                "several). Nothing was added."
            )
        if taken:
            raise DeltawError(
                f"new-plugin: {self.init} already defines {taken[0]}; give the {kind} another "
                f"registered name with --name {kind}=NAME. Nothing was added."
            )


def read_package(folder: Path) -> Package:
    """The plugin package in ``folder``: one entry point of the group ``deltaw`` in its
    ``pyproject.toml`` naming an import package under ``src/`` or at the top."""
    project_file = folder / "pyproject.toml"
    where = f"new-plugin --add-kind: {folder}"
    try:
        data = tomllib.loads(project_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeltawError(
            f"{where} has no pyproject.toml; give the folder of a plugin package "
            "(one that `deltaw new-plugin` wrote, or any with a [project.entry-points.deltaw])."
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DeltawError(f"{where}: cannot read {project_file}: {exc}") from None
    project = data.get("project") or {}
    points = (project.get("entry-points") or {}).get("deltaw") or {}
    if len(points) != 1:
        raise DeltawError(
            f"{where}: {project_file} must have exactly one entry point in "
            f"[project.entry-points.deltaw], found {len(points)}."
        )
    ((plugin, target),) = points.items()
    if not isinstance(target, str) or ":" in target or "." in target:
        raise DeltawError(
            f"{where}: the entry point {plugin} = {target!r} in {project_file} must name a "
            'top-level package ("deltaw_x"), whose __init__.py imports the hooks.'
        )
    for package_dir in (Path("src") / target, Path(target)):
        if (folder / package_dir / "__init__.py").is_file():
            return Package(
                folder,
                plugin,
                str(project.get("name") or plugin),
                target,
                package_dir,
                str(project.get("description") or ""),
            )
    raise DeltawError(
        f"{where}: the entry point names the package {target!r}, but neither "
        f"{folder / 'src' / target / '__init__.py'} nor {folder / target / '__init__.py'} exists."
    )


def import_statements(package: str, module: str, names: list[str], alias: bool = False) -> str:
    """``from package.module import A, b`` (wrapped as ruff wraps it past :data:`LINE`);
    with ``alias``, one ``import X as X`` statement per name (an explicit re-export)."""
    head = f"from {package}.{module} import "
    if alias:
        return "\n".join(f"{head}{n} as {n}" for n in names)
    one = head + ", ".join(names)
    if len(one) <= LINE:
        return one
    return head + "(\n" + "".join(f"    {n},\n" for n in names) + ")"


def top_level_names(source: str) -> set[str]:
    """Every name a module binds at its top level (imports, functions, classes, assignments)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).partition(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def add_import(source: str, package: str, module: str, names: list[str], where: str) -> str:
    """``source`` with the import of ``names`` from ``package.module`` in isort order among the
    package's own imports (after the other imports, as their own block, if it has none), and
    the names added to a literal ``__all__`` (without one, imported ``as`` themselves)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise DeltawError(
            f"new-plugin: {where} does not parse ({exc.msg}, line {exc.lineno}); fix it, then "
            "add the kind again."
        ) from None
    listed = _all_node(tree)
    if listed is not None:
        source = "".join(_with_all(source.splitlines(keepends=True), listed, names))
        tree = ast.parse(source)
    text = import_statements(package, module, names, alias=listed is None)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    own = [n for n in imports if _module(n).startswith(f"{package}.")]
    after = [n for n in own if _module(n) > f"{package}.{module}"]
    if after:  # before the first of its own imports that sorts after it
        at, block = after[0].lineno - 1, text + "\n"
    elif own:
        at, block = own[-1].end_lineno or 0, text + "\n"
    elif imports:  # a first-party block of its own, after the others
        at, block = imports[-1].end_lineno or 0, "\n" + text + "\n"
    else:
        at, block = _after_docstring(tree), "\n" + text + "\n"
    lines = source.splitlines(keepends=True)
    lines.insert(at, block)
    return "".join(lines)


def add_readme_section(readme: str, section: str, marker: str) -> str:
    """``readme`` with ``section`` before the paragraph that starts with ``marker`` (the
    generated README's note on qualified names), else at its end."""
    at = readme.find("\n" + marker)
    if at < 0:
        return readme.rstrip("\n") + "\n" + section
    return readme[:at] + section + readme[at:]


def _module(node: ast.stmt) -> str:
    if isinstance(node, ast.ImportFrom):
        return ("." * node.level) + (node.module or "")
    return node.names[0].name  # type: ignore[attr-defined]


def _after_docstring(tree: ast.Module) -> int:
    body = tree.body
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return first.end_lineno or 0
    return 0


def _all_node(tree: ast.Module) -> ast.Assign | None:
    """The top-level ``__all__ = [...]`` of string constants, or None."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["__all__"]
            and isinstance(node.value, (ast.List, ast.Tuple))
            and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.value.elts
            )
        ):
            return node
    return None


def _with_all(lines: list[str], node: ast.Assign, names: list[str]) -> list[str]:
    """``__all__`` rewritten one name a line, with a trailing comma (ruff keeps it so)."""
    value = node.value
    assert isinstance(value, (ast.List, ast.Tuple))
    old = [e.value for e in value.elts]  # type: ignore[attr-defined]
    merged = old + [n for n in names if n not in old]
    text = "__all__ = [\n" + "".join(f'    "{n}",\n' for n in merged) + "]\n"
    return lines[: node.lineno - 1] + [text] + lines[node.end_lineno :]
